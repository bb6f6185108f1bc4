"""Upload the dashboards (and, if asked, the datasource) to a running Grafana with grafana-client.

``push(api, boards)`` creates or overwrites each dashboard by uid in one folder;
``ensure_datasource(api, influx_url, database, token)`` creates the InfluxQL datasource with the
provisioned uid when it is missing, so the dashboards find it. ``connect`` builds the client
and checks ``/api/health``; every failure is a ``PushError`` that names the Grafana URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException

from dashboards.model import DATASOURCE_UID

FOLDER_UID = "twin"
FOLDER_TITLE = "Digital Twin"


class PushError(Exception):
    """Grafana cannot be used or refused a request; the message names the URL."""


def connect(url: str, credential: str | tuple[str, str] | None) -> GrafanaApi:
    """Return a client for ``url`` after a health check (token or (user, password))."""
    api = GrafanaApi.from_url(url, credential=credential, timeout=10.0)
    try:
        api.health.check()
    except (GrafanaException, OSError, ValueError) as exc:
        raise PushError(f"Grafana {url}: health check failed: {exc}") from exc
    return api


def datasource_body(influx_url: str, database: str, token: str | None) -> dict[str, Any]:
    """Return the InfluxQL datasource (same fields as the provisioning YAML)."""
    body: dict[str, Any] = {
        "uid": DATASOURCE_UID,
        "name": "InfluxDB (twin)",
        "type": "influxdb",
        "access": "proxy",
        "url": influx_url,
        "jsonData": {
            "version": "InfluxQL",
            "dbName": database,
            "httpMode": "POST",
            "timeInterval": "1s",
        },
    }
    if token:
        body["jsonData"]["httpHeaderName1"] = "Authorization"
        body["secureJsonData"] = {"httpHeaderValue1": f"Token {token}"}
    return body


def ensure_datasource(api: GrafanaApi, influx_url: str, database: str, token: str | None) -> bool:
    """Create the datasource if no datasource has its uid; True when created."""
    try:
        api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        return False
    except GrafanaException:
        pass
    try:
        api.datasource.create_datasource(datasource_body(influx_url, database, token))
    except GrafanaException as exc:
        raise PushError(f"Grafana: cannot create datasource {DATASOURCE_UID}: {exc}") from exc
    return True


def _folder(api: GrafanaApi, uid: str, title: str) -> str:
    try:
        api.folder.get_folder(uid)
    except GrafanaException:
        api.folder.create_folder(title, uid=uid)
    return uid


def push(
    api: GrafanaApi,
    boards: Mapping[str, dict],
    folder: tuple[str, str] = (FOLDER_UID, FOLDER_TITLE),
) -> list[str]:
    """Create or overwrite every dashboard (by uid) in ``folder`` (uid, title); return urls.

    Grafana refuses API saves of dashboards it provisioned from files (the compose demo's):
    push to another Grafana, or push copies with other uids.
    """
    try:
        folder_uid = _folder(api, *folder)
        out = []
        for board in boards.values():
            body = {
                "dashboard": dict(board, id=None),
                "folderUid": folder_uid,
                "overwrite": True,
                "message": "twin dashboards push",
            }
            answer = api.dashboard.update_dashboard(body)
            out.append(str(answer.get("url", board["uid"])))
    except GrafanaException as exc:
        raise PushError(f"Grafana: push failed: {exc}") from exc
    return out

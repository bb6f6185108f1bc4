"""Which optional extra a missing module belongs to, for a message that says what to install."""

from __future__ import annotations

EXTRA_OF = {
    "asyncua": "live",
    "paho": "live",
    "httpx": "influx",
    "influxdb_client": "influx",
    "pydantic_settings": "influx",
    "scipy": "whatif",
    "matplotlib": "whatif",
    "pyarrow": "whatif",
    "dask": "dask",
    "distributed": "dask",
    "grafana_client": "grafana",
    "pandas": "notebook",
    "google": "live",  # protobuf (Sparkplug B)
}


def install_hint(exc: ModuleNotFoundError) -> str | None:
    """``pip install ...`` advice for a module of an optional extra, else ``None``."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return (
        f"this command needs {top!r} from the {extra!r} extra: "
        f"pip install 'smart-factory-twin[{extra}]' (or '.[{extra}]' in a checkout; "
        "./scripts/twin installs every extra)"
    )

"""Settings from the command line, environment and config file; clear errors and exit codes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gateway.errors import SettingsError
from gateway.settings import load_settings
from tests.servers.influxdb import InfluxServer, free_port
from twin.cli import main


def test_precedence_cli_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text(
        'influx_url = "http://file:8086"\nmqtt_url = "mqtt://file"\nbatch_size = 7\n'
        'influx_database = "fromfile"\n'
    )
    monkeypatch.setenv("TWIN_INFLUX_DATABASE", "fromenv")
    monkeypatch.setenv("TWIN_INFLUX_TOKEN", "s3cret")
    s = load_settings(cfg, batch_size=9)
    assert (s.influx_url, s.influx_database, s.batch_size) == ("http://file:8086", "fromenv", 9)
    assert s.influx_token is not None and s.influx_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_yaml_and_json_files(tmp_path: Path, suffix: str) -> None:
    cfg = tmp_path / f"gw{suffix}"
    body = (
        "gateway:\n  influx_url: http://y:1\n  opcua_endpoint: opc.tcp://h:4840/\n"
        if suffix == ".yaml"
        else '{"influx_url": "http://y:1", "opcua_endpoint": "opc.tcp://h:4840/"}'
    )
    cfg.write_text(body)
    assert load_settings(cfg).opcua_endpoint == "opc.tcp://h:4840/"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"influx_url": "ftp://x", "mqtt_url": "mqtt://b"}, "influx_url (TWIN_INFLUX_URL)"),
        ({"influx_url": "http://x"}, "mqtt_url or opcua_endpoint"),
        ({"influx_url": "http://x", "mqtt_url": "http://b"}, "mqtt_url (TWIN_MQTT_URL)"),
        ({"influx_url": "http://x", "opcua_endpoint": "x"}, "opcua_endpoint"),
        ({"influx_url": "http://x", "mqtt_url": "mqtt://b", "batch_size": 0}, "batch_size"),
        ({"mqtt_url": "mqtt://b"}, "influx_url"),
        # a bad port: the OPC UA source died in a traceback and hung; 0 meant the default
        ({"influx_url": "http://x", "opcua_endpoint": "opc.tcp://h:70000/"}, "opcua_endpoint"),
        ({"influx_url": "http://x", "opcua_endpoint": "opc.tcp://h:0/"}, "opcua_endpoint"),
        ({"influx_url": "http://x:70000", "mqtt_url": "mqtt://b"}, "influx_url"),
        # paho refused an empty client id with a traceback
        ({"influx_url": "http://x", "mqtt_url": "mqtt://b", "mqtt_client_id": ""}, "client_id"),
        # InfluxDB refused every batch: all records went to the dead letters
        ({"influx_url": "http://x", "mqtt_url": "mqtt://b", "influx_database": " "}, "database"),
    ],
)
def test_bad_settings_name_the_setting(kwargs: dict, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_settings(None, **kwargs)


def test_a_check_of_several_settings_reads_plainly() -> None:
    """Checks across settings read "settings: ...", not "setting settings: Value error, ..."."""
    url = "http://127.0.0.1:8086"
    with pytest.raises(SettingsError) as err:
        load_settings(None, influx_url=url, mqtt_url="mqtt://h:0")
    assert str(err.value) == "settings: mqtt_url 'mqtt://h:0': bad port"
    with pytest.raises(SettingsError) as err:
        load_settings(None, influx_url=url)
    assert str(err.value) == "settings: give at least one source: mqtt_url or opcua_endpoint"
    with pytest.raises(SettingsError) as err:
        load_settings(None, influx_url="http://h:0", mqtt_url="mqtt://h:1883")
    assert "Value error" not in str(err.value)


def test_bad_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "gw.toml"
    bad.write_text("influx_url = ")
    with pytest.raises(SettingsError, match="config file"):
        load_settings(bad)
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")


def test_help_documents_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--help"]) == 0
    out = capsys.readouterr().out
    for name in (
        "TWIN_INFLUX_URL",
        "TWIN_MQTT_URL",
        "TWIN_OPCUA_ENDPOINT",
        "TWIN_INFLUX_TOKEN",
        "TWIN_BUFFER_FULL_POLICY",
        "--influx-url",
        "--mqtt-url",
        "--opcua-endpoint",
    ):
        assert name in out.replace("\n", " ").replace("│", " ") or name in out


def test_bad_setting_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--influx-url", "nope", "--mqtt-url", "mqtt://x"]) == 2
    assert "influx_url" in capsys.readouterr().err


def test_unreachable_influx_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "gateway",
            "--influx-url",
            "http://127.0.0.1:9",
            "--mqtt-url",
            "mqtt://127.0.0.1:9",
            "--data-dir",
            str(tmp_path),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "http://127.0.0.1:9" in err and "influx_url" in err


def test_unusable_data_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A data dir that cannot be made (here under a file) is a bad setting, not a traceback."""
    (tmp_path / "file").write_text("")
    data = tmp_path / "file" / "gw"
    argv = ["gateway", "--influx-url", "http://127.0.0.1:9", "--mqtt-url", "mqtt://127.0.0.1:9"]
    assert main([*argv, "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "data_dir (TWIN_DATA_DIR)" in err and str(data) in err and "Traceback" not in err


@pytest.mark.integration
def test_unreachable_opcua_server_exits_1_naming_the_setting(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The source is stopped once by its own start and once by the gateway's: no traceback
    (it was ``RuntimeError: Event loop is closed`` from the second stop, and no message)."""
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/twin/"
    argv = ["gateway", "--influx-url", influxd.url, "--influx-database", influx_db]
    code = main([*argv, "--opcua-endpoint", endpoint, "--data-dir", str(tmp_path / "gw")])
    assert code == 1
    err = capsys.readouterr().err
    assert endpoint in err and "opcua_endpoint" in err


@pytest.mark.integration
def test_a_silent_opcua_server_is_named_as_not_answering(
    tmp_path: Path,
    influxd: InfluxServer,
    influx_db: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A port that takes the connection and never answers: the message said nothing after
    'opcua_endpoint): ' (a timeout's text is empty), the log 'OPC UA ...: ; reconnecting'."""
    monkeypatch.setenv("TWIN_OPCUA_TIMEOUT_S", "0.5")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts; nobody ever reads
        endpoint = f"opc.tcp://127.0.0.1:{silent.getsockname()[1]}/twin/"
        argv = ["gateway", "--influx-url", influxd.url, "--influx-database", influx_db]
        code = main([*argv, "--opcua-endpoint", endpoint, "--data-dir", str(tmp_path / "gw")])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{endpoint} (setting opcua_endpoint): no answer (timed out)" in err

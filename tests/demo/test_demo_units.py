"""``twin demo`` before anything starts: bad input, missing servers, their install hints."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
import yaml

from twin.cli import main
from twin.demo import servers
from twin.demo.procs import Child, StartError, free_port
from twin.demo.stack import DASHBOARDS, Demo, DemoOptions, MissingToolError

ROOT = Path(__file__).resolve().parents[2]


def test_a_bad_scenario_is_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert main(["demo", str(bad), "--data-dir", str(tmp_path / "d")]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_missing_servers_are_named_with_install_hints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servers, "find_binary", lambda name, env_var=None: None)
    demo = Demo(DemoOptions(ROOT / "scenarios/tandem_mm1.yaml", tmp_path), print)
    with pytest.raises(MissingToolError) as err:
        demo.start()
    text = str(err.value)
    assert "mosquitto not found" in text and "apt-get install mosquitto" in text
    assert "influxd not found" in text and "--influx-url" in text
    assert not demo.children


def test_given_urls_need_no_local_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "find_binary", lambda name, env_var=None: None)
    options = DemoOptions(
        ROOT / "scenarios/tandem_mm1.yaml",
        tmp_path,
        mqtt_url="mqtt://127.0.0.1:1",
        influx_url=f"http://127.0.0.1:{free_port()}",
    )
    demo = Demo(options, print)
    assert demo.check_tools() == {"mosquitto": None, "influxd": None}
    with pytest.raises(StartError, match="does not answer /ping"):
        demo.start()  # the URL is checked before anything starts
    assert not demo.children


def test_an_interrupt_during_start_up_starts_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servers, "find_binary", lambda name, env_var=None: "/bin/true")
    stop = threading.Event()
    stop.set()
    demo = Demo(DemoOptions(ROOT / "scenarios/tandem_mm1.yaml", tmp_path), print, stop)
    with pytest.raises(StartError, match="interrupted before mosquitto started"):
        demo.start()
    assert not demo.children


def test_free_port_prefers_the_usual_one_when_free() -> None:
    port = free_port()
    assert free_port(port) == port


def _ended(name: str, code: int, folder: Path) -> Child:
    child = Child(name, [sys.executable, "-c", f"raise SystemExit({code})"], folder / f"{name}.log")
    child.start()
    assert child.wait_exit(60) == code
    return child


def test_a_plant_that_ended_its_until_run_leaves_the_demo_serving(tmp_path: Path) -> None:
    """The plant exits 0 at ``--until``: the servers and analytics keep serving until Ctrl-C;
    any other child that ends (or a plant that fails) stops the demo."""
    demo = Demo(DemoOptions(ROOT / "scenarios/tandem_mm1.yaml", tmp_path), print)
    demo.children = [_ended("backfill", 0, tmp_path), _ended("plant", 0, tmp_path)]
    assert demo.failed() is None
    failed_plant = _ended("plant", 1, tmp_path)
    demo.children.append(failed_plant)
    assert demo.failed() is failed_plant
    gateway = _ended("gateway", 0, tmp_path)
    demo.children = [_ended("plant", 0, tmp_path), gateway]
    assert demo.failed() is gateway


def test_grafana_of_a_scenario_with_a_time_zone_gets_boards_in_that_zone(tmp_path: Path) -> None:
    """No Grafana runs here: what it would be provisioned with is checked."""
    scenario = yaml.safe_load((ROOT / "scenarios/tandem_mm1.yaml").read_text())
    scenario["timezone"] = "Europe/Berlin"
    path = tmp_path / "berlin.yaml"
    path.write_text(yaml.safe_dump(scenario))
    demo = Demo(DemoOptions(path, tmp_path), print)
    boards = demo._boards_in_plant_time(tmp_path / "boards")
    assert boards is not None
    assert json.loads((boards / "plant_overview.json").read_text())["timezone"] == "Europe/Berlin"
    influx = servers.InfluxAccess("http://127.0.0.1:1", "twin")
    child = servers.grafana_child(["grafana"], tmp_path / "g", 3999, DASHBOARDS, influx, boards)
    provider = (tmp_path / "g/provisioning/dashboards/twin.yaml").read_text()
    assert str(boards.resolve()) in provider
    assert child.env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].startswith(str(boards.resolve()))
    utc = Demo(DemoOptions(ROOT / "scenarios/tandem_mm1.yaml", tmp_path), print)
    assert utc._boards_in_plant_time(tmp_path / "none") is None  # the committed UTC boards


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        (["--interval", "nan"], "--interval"),  # redrew without a pause
        (["--interval", "inf"], "--interval"),  # OverflowError traceback
        (["--influx-url", "ftp://influx:8086"], "--influx-url"),  # exit 1 from httpx
        (["--influx-database", ""], "--influx-database"),  # exit 1, 'database not found'
    ],
)
@pytest.mark.timeout(30)
def test_top_options_out_of_range_exit_2_naming_the_option(
    options: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["top", "--influx-url", "http://127.0.0.1:9", *options]) == 2
    err = capsys.readouterr().err
    assert hint in err and "Traceback" not in err

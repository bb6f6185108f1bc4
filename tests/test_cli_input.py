"""Bad command-line input ends with exit code 2 and names the option, before any work
(issue 14 #10, #11, #12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import SettingsError
from gateway.settings import read_config_file
from plant_sim.scenario import load_scenario
from plant_sim.simulation import Simulation
from tests.full_disk import twin_with_file_limit
from twin.cli import main

ROOT = Path(__file__).resolve().parents[1]
TANDEM = str(ROOT / "scenarios" / "tandem_mm1.yaml")
GW = ["gateway", "--influx-url", "http://127.0.0.1:9", "--mqtt-url", "mqtt://127.0.0.1:9"]


def _exit_2_naming(args: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.replace("│", " ").split())  # rich wraps in a box
    assert option in err, err
    return err


@pytest.mark.parametrize("until", ["inf", ".inf", "nan", "1e400", "200000d"])
def test_an_until_that_never_ends_exits_2(until: str, capsys: pytest.CaptureFixture[str]) -> None:
    _exit_2_naming(["run", TANDEM, "--until", until], "--until", capsys)
    _exit_2_naming(["sim", TANDEM, "--until", until, "--no-opcua"], "--until", capsys)


def test_a_run_id_the_gateway_cannot_store_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    for run_id in ("a\\b", "two\nlines", ""):
        _exit_2_naming(["sim", TANDEM, "--run-id", run_id, "--no-opcua"], "--run-id", capsys)
    with pytest.raises(ValueError, match="run_id: line break"):
        Simulation(load_scenario(TANDEM), lambda record: None, run_id="a\\b")


def test_a_speed_that_freezes_the_plant_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    _exit_2_naming(["sim", TANDEM, "--speed", "1e-300", "--no-opcua"], "--speed", capsys)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        # a traceback (ValueError: Port out of range) or exit 1 after the model was built
        (["--opcua-endpoint", "opc.tcp://127.0.0.1:70000/twin/"], "--opcua-endpoint"),
        (["--opcua-endpoint", "http://127.0.0.1:4840/"], "--opcua-endpoint"),
        # exit 1 ('anonymous access is off and no users are configured')
        (["--no-opcua-anonymous"], "--no-opcua-anonymous"),
        # taken: the server offered only the NoSecurity endpoint the option was to drop
        (["--opcua-encrypt-only"], "--opcua-encrypt-only"),
        # taken: waited not at all and said the broker was unreachable
        (["--mqtt-wait", "nan", "--no-opcua"], "--mqtt-wait"),
        (["--mqtt-wait", "-1", "--no-opcua"], "--mqtt-wait"),
        # exit 1, 'MQTT max_queued: must be 1..65,000', not naming the option
        (["--mqtt-max-queued", "-5", "--no-opcua"], "--mqtt-max-queued"),
        # TypeError traceback when the run_start was encoded
        (["--seed", str(2**64), "--no-opcua"], "--seed"),
    ],
)
def test_bad_sim_options_exit_2_before_the_plant_starts(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _exit_2_naming(
        ["sim", TANDEM, "--until", "1m", "--mqtt-url", "mqtt://h:9", *args], option, capsys
    )
    assert "Traceback" not in err and "live run" not in err


def test_sim_cert_dir_that_cannot_be_made_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    cert_dir = str(tmp_path / "file" / "pki")  # FileNotFoundError traceback before
    args = ["sim", TANDEM, "--no-mqtt", "--opcua-encrypt", "--opcua-cert-dir", cert_dir]
    assert cert_dir in _exit_2_naming(args, "--opcua-cert-dir", capsys)


def test_sim_scenario_seed_beyond_64_bits_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(Path(TANDEM).read_text().replace("\nseed: 3\n", f"\nseed: {2**64}\n"))
    err = _exit_2_naming(
        ["sim", str(path), "--no-opcua", "--mqtt-url", "mqtt://h:9"], "seed", capsys
    )
    assert "less than or equal to 9223372036854775807" in err  # the scenario's schema bound


def test_an_out_path_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _exit_2_naming(["run", TANDEM, "--out", str(tmp_path)], "--out", capsys)
    assert "directory" in err and "simulated" not in err  # the log writer is opened first
    err = _exit_2_naming(["schema", "--out", str(tmp_path)], "--out", capsys)
    assert "is a directory" in err
    err = _exit_2_naming(["schema", "--out", str(tmp_path / "no" / "s.json")], "--out", capsys)
    assert "does not exist" in err


def test_schema_out_that_fails_midway_leaves_the_previous_file(tmp_path: Path) -> None:
    """A write that fails midway (a full disk) truncated --out and left half a schema."""
    out = tmp_path / "scenario.schema.json"
    out.write_text('{"old": "schema"}\n')
    result = twin_with_file_limit(["schema", "--out", str(out)], limit=8192)  # schema: 50 kB
    assert out.read_text() == '{"old": "schema"}\n'
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left
    assert result.returncode == 2, result.stderr  # was a traceback, exit 1
    assert "--out" in result.stderr and "File too large" in result.stderr, result.stderr


def test_a_scenario_file_that_is_not_utf8_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(Path(TANDEM).read_text().encode("utf-16"))
    _exit_2_naming(["validate", str(path)], "UTF-16", capsys)
    _exit_2_naming(["run", str(path)], "UTF-16", capsys)


def test_a_very_long_run_is_announced_with_an_estimate(caplog: pytest.LogCaptureFixture) -> None:
    from plant_sim.cli import warn_if_large

    scenario = load_scenario(ROOT / "scenarios" / "plant_3lines.yaml")
    with caplog.at_level("WARNING"):
        warn_if_large(scenario, 86400.0)
        assert not caplog.records
        warn_if_large(scenario, 3000 * 86400.0)
    [record] = caplog.records
    assert "million records" in record.message and "MB in memory" in record.message


def test_gateway_data_dir_that_is_a_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    _exit_2_naming([*GW, "--data-dir", str(a_file)], "data_dir", capsys)


@pytest.mark.parametrize("value", ["inf", "nan", "1e9"])
def test_gateway_flush_interval_must_be_finite_and_bounded(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _exit_2_naming([*GW, "--flush-interval-s", value], "flush_interval_s", capsys)


def test_gateway_config_files_refuse_duplicate_keys_and_other_encodings(tmp_path: Path) -> None:
    cases = {
        "dup.yaml": (b"batch_size: 10\nbatch_size: 20\n", "duplicate key 'batch_size'"),
        "dup.json": (b'{"batch_size": 10, "batch_size": 20}', "duplicate key 'batch_size'"),
        "u16.toml": ("batch_size = 10\n".encode("utf-16"), "UTF-16"),
        "l1.yaml": ("gateway_name: café\n".encode("latin-1"), "not UTF-8"),
    }
    for name, (raw, words) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(SettingsError, match=words):
            read_config_file(tmp_path / name)


@pytest.mark.parametrize("command", [["whatif"], ["backfill"], ["validate"]])
def test_an_endless_input_file_exits_2_without_reading_it_all(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """/dev/zero as the study or scenario was read until memory ran out."""
    err = _exit_2_naming([*command, "/dev/zero"], "/dev/zero", capsys)
    assert "(file): larger than 64 MiB: not a scenario or study file" in err


def test_a_seed_beyond_64_bits_exits_2_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The event log stores the seed as a 64-bit integer: --out run.parquet died with an
    OverflowError traceback after the whole run (run.jsonl with a TypeError)."""
    out = tmp_path / "run.parquet"
    for seed in (2**63, -(2**63) - 1, 2**70):
        args = ["run", TANDEM, "--until", "1h", "--seed", str(seed), "--out", str(out)]
        err = _exit_2_naming(args, "--seed", capsys)
        assert "simulated" not in err and not out.exists()
        _exit_2_naming(["sim", TANDEM, "--seed", str(seed), "--no-opcua"], "--seed", capsys)
    data = Path(TANDEM).read_text().replace("seed: 3", f"seed: {2**63}")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(data)
    _exit_2_naming(["validate", str(scenario)], "seed: Input should be less than", capsys)
    args = ["run", TANDEM, "--until", "1h", "--seed", str(2**63 - 1), "--out", str(out)]
    assert main(args) == 0

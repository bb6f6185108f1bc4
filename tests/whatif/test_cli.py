"""``twin whatif``: runs a study file, prints tables, writes CSV, Parquet and HTML, exit codes."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from pathlib import Path

import pytest
import yaml

from tests.whatif.conftest import SCENARIOS
from twin.cli import main


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "cli_test",
                "scenario": str(SCENARIOS / "tandem_mm1.yaml"),
                "replications": 3,
                "seed": 1,
                "run_length": "3h",
                "warmup": "30m",
                "kpis": ["throughput_uph", "availability@s2"],
                "variants": [
                    {
                        "name": "slow_s2",
                        "overrides": {"lines.tandem.stations.s2.cycle_time.mean": 50},
                    }
                ],
            }
        )
    )
    return path


def test_a_study_runs_and_writes_every_output(study_file: Path, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "whatif",
            str(study_file),
            "--executor",
            "serial",
            "--no-progress",
            "--csv",
            str(tmp_path / "r.csv"),
            "--parquet",
            str(tmp_path / "r.parquet"),
            "--html",
            str(tmp_path / "r.html"),
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "What-if study cli_test" in out and "Availability (s2) [%]" in out
    assert out.index("Answer") < out.index("Throughput rate [units/h]")  # the answer first
    for name in ("r.csv", "r.replications.csv", "r.parquet", "r.replications.parquet", "r.html"):
        assert (tmp_path / name).stat().st_size > 0, name
    summary = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert summary["study"] == "cli_test" and summary["warmup"]["seconds"] == 1800.0
    assert summary["headline"][0].startswith("slow_s2: higher: Availability (s2) +")
    row = next(
        r for r in summary["summary"] if r["variant"] == "slow_s2" and r["kpi_id"] == "availability"
    )
    assert row["verdict"] == "higher" and row["better"] == "none"
    assert row["finding"].startswith("slow_s2: Availability (s2) significantly higher: +")


@pytest.mark.parametrize("option", ["--html", "--csv", "--parquet", "--json"])
def test_an_output_in_a_missing_folder_exits_2_before_the_study_runs(
    option: str, study_file: Path, tmp_path: Path, capsys
) -> None:
    """No run at all (a --replications the study could not even run proves it: 10**6)."""
    target = tmp_path / "missing" / "out.file"
    args = ["whatif", str(study_file), "--no-progress", "--replications", "10000"]
    assert main([*args, option, str(target)]) == 2
    err = capsys.readouterr().err
    assert f"{option}: folder {target.parent} does not exist" in err
    assert "checked before the study runs" in err and "Traceback" not in err


def test_an_output_that_is_a_folder_exits_2_naming_the_option(
    study_file: Path, tmp_path: Path, capsys
) -> None:
    args = ["whatif", str(study_file), "--no-progress", "--replications", "10000"]
    assert main([*args, "--csv", str(tmp_path)]) == 2
    assert f"--csv: {tmp_path} is a folder, not a file" in capsys.readouterr().err


def test_check_lists_the_variants_without_running(study_file: Path, capsys) -> None:
    assert main(["whatif", str(study_file), "--check", "--replications", "5"]) == 0
    out = capsys.readouterr().out
    assert "ok (2 variants x 5 replications, 2 KPIs, run length 10800 s)" in out
    assert "slow_s2" in out


def test_a_bad_study_exits_2_naming_the_path(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "scenario": str(SCENARIOS / "tandem_mm1.yaml"),
                "kpis": ["oee"],
                "variants": [{"name": "v", "overrides": {"lines.tandem.buffers.q9.capacity": 3}}],
            }
        )
    )
    assert main(["whatif", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: invalid study" in err
    assert "variants[0] 'v', override lines.tandem.buffers.q9.capacity" in err
    assert "no item with id 'q9' (known: q2, q3)" in err


def test_bad_options_exit_2(study_file: Path, capsys) -> None:
    assert main(["whatif", str(study_file), "--executor", "dask", "--no-progress"]) == 2
    assert "needs --scheduler" in capsys.readouterr().err
    # --check too: it said "ok" for an executor that does not exist
    assert main(["whatif", str(study_file), "--executor", "gpu", "--check"]) == 2
    assert "--executor: 'gpu' is not one of local, serial, dask" in capsys.readouterr().err
    assert main(["whatif", str(study_file), "--run-length", "soon", "--check"]) == 2
    assert "run_length" in capsys.readouterr().err
    # a scheduler for the local executor was ignored without a word
    assert main(["whatif", str(study_file), "--scheduler", "tcp://h:8786", "--check"]) == 2
    assert "--scheduler: only with --executor dask (not local)" in capsys.readouterr().err


def test_workers_beyond_the_cpus_are_cut_to_the_cpus(caplog) -> None:
    """``--workers 200`` on a 2-CPU machine started 200 interpreters (150 MB each)."""
    from analytics.whatif.executors import LocalExecutor, make_executor

    cpus = os.cpu_count() or 1
    with caplog.at_level(logging.WARNING):
        executor = make_executor("local", 200)
    assert isinstance(executor, LocalExecutor) and executor.workers == cpus
    assert f"--workers 200: this machine has {cpus} CPUs; using {cpus}" in caplog.text
    assert make_executor("local", 1).workers == 1


def test_an_unreachable_influxdb_exits_2_before_the_study_runs(study_file: Path, capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    code = main(
        [
            "whatif",
            str(study_file),
            "--executor",
            "serial",
            "--no-progress",
            "-q",
            "--replications",
            "10000",
            "--influx-url",
            url,
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert f"--influx-url: {url}/ping does not answer (ConnectError" in err
    assert "checked before the study runs" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--influx-url", "localhost:8086"],
            "--influx-url: 'localhost:8086' is not an http(s) URL",
        ),
        (
            ["--influx-url", "http://127.0.0.1:1", "--influx-database", " "],
            "--influx-database: the database",
        ),
    ],
)
def test_bad_influxdb_options_exit_2(study_file: Path, options, message: str, capsys) -> None:
    args = ["whatif", str(study_file), "--no-progress", "--replications", "10000"]
    assert main([*args, *options]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_dask_scheduler_exits_1_naming_it(
    study_file: Path, capsys, monkeypatch
) -> None:
    pytest.importorskip("distributed")
    from analytics.whatif import DaskExecutor, cli

    # The default connect timeout is 30 s; one second is enough to be refused on loopback.
    monkeypatch.setattr(
        cli,
        "make_executor",
        lambda kind, workers, scheduler: DaskExecutor(scheduler, timeout_s=1.0),
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    code = main(
        [
            "whatif",
            str(study_file),
            "--executor",
            "dask",
            "--scheduler",
            address,
            "--no-progress",
            "-q",
            "--replications",
            "2",
        ]
    )
    assert code == 1
    assert f"--scheduler: Dask scheduler {address}: cannot connect" in capsys.readouterr().err


def test_a_malformed_dask_scheduler_exits_2_naming_the_option(study_file: Path, capsys) -> None:
    """``--scheduler garbage`` was taken for an address: exit 1, "cannot connect" (ValueError)."""
    args = ["whatif", str(study_file), "--executor", "dask", "--no-progress", "-q"]
    assert main([*args, "--replications", "2", "--scheduler", "garbage"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for --scheduler: 'garbage' is not a Dask scheduler address" in err
    assert "cannot connect" not in err


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("tcp://10.0.0.5", "no :PORT after the host"),
        ("http://10.0.0.5:8786", "unknown scheme 'http://'"),
        ("tcp://h:99999", "'99999' is not a port (1 to 65535)"),
        ("tcp://h:8786/", "'8786/' is not a port"),
        ("tcp://:8786", "no host"),
        ("tcp://::1:8786", "an IPv6 address needs brackets"),
        ("tcp://[zz]:8786", "[zz] is not an IPv6 address"),
        ("tcp://a b:8786", "'a b' is not a host name or address"),
    ],
)
def test_malformed_scheduler_addresses_are_refused_before_the_study(
    study_file: Path, address: str, problem: str, capsys
) -> None:
    args = ["whatif", str(study_file), "--executor", "dask", "--check"]
    assert main([*args, "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and f"({problem}" in err


@pytest.mark.parametrize(
    "address",
    ["tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://sched.example.com:8786", "tcp://[::1]:8786"],
)
def test_well_formed_scheduler_addresses_pass(address: str) -> None:
    from analytics.whatif.executors import scheduler_problem

    assert scheduler_problem(address) is None


def test_without_dask_a_well_formed_scheduler_gives_the_install_hint(
    study_file: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    args = ["whatif", str(study_file), "--executor", "dask", "--no-progress", "-q"]
    assert main([*args, "--replications", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert "needs 'distributed' from the 'dask' extra" in capsys.readouterr().err


def test_sigterm_while_writing_an_output_leaves_the_previous_file(
    study_file: Path, tmp_path: Path, caplog, monkeypatch
) -> None:
    """SIGTERM (kill, docker stop) while --csv is written: the command stops with exit 130 and
    the previous file stays as it was (it was killed with the file half written)."""
    import csv as csv_module
    import signal

    def unhandled(signum: int, frame: object) -> None:
        raise AssertionError("SIGTERM reached the default action: the process would be killed")

    previous = signal.signal(signal.SIGTERM, unhandled)
    writerow = csv_module.DictWriter.writerow
    rows = [0]

    def writerow_then_sigterm(self: csv_module.DictWriter, row: dict) -> object:
        rows[0] += 1
        if rows[0] == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return writerow(self, row)

    monkeypatch.setattr(csv_module.DictWriter, "writerow", writerow_then_sigterm)
    out = tmp_path / "r.csv"
    out.write_text("earlier study\n")
    try:
        args = ["whatif", str(study_file), "--executor", "serial", "--no-progress", "-q"]
        assert main([*args, "--csv", str(out)]) == 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "cli_test: stopped by SIGTERM while giving the results" in caplog.text
    assert out.read_text() == "earlier study\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "study.yaml"]


def test_a_seed_beyond_64_bits_exits_2_before_the_study_runs(study_file: Path, capsys) -> None:
    """The seed column (Parquet int64, InfluxDB integer) cannot hold it: the export failed."""
    seed = 2**63 - 2  # the 3rd replication's seed is 2**63
    assert main(["whatif", str(study_file), "--seed", str(seed), "--check"]) == 2
    err = capsys.readouterr().err
    assert "seed: seed 9223372036854775806 with 3 replications goes beyond the 64-bit" in err
    assert main(["whatif", str(study_file), "--seed", str(2**63 - 3), "--check"]) == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--csv", "r.csv", "--parquet", "r.csv"], "--parquet: r.csv is also written by --csv"),
        (
            ["--csv", "r.csv", "--json", "r.replications.csv"],
            "--json: r.replications.csv is also written by --csv",
        ),
        (["--json", "r.out", "--html", "r.out"], "--json: r.out is also written by --html"),
        (["--json", "study.yaml"], "--json: study.yaml is also the study file"),
    ],
)
def test_two_outputs_on_one_file_exit_2_before_the_study_runs(
    study_file: Path, tmp_path: Path, options: list[str], message: str, capsys, monkeypatch
) -> None:
    """One output overwrote the other (or the study file) after the whole study had run."""
    monkeypatch.chdir(tmp_path)
    before = study_file.read_bytes()
    assert main(["whatif", "study.yaml", "--no-progress", *options]) == 2
    assert f"{message} (checked before the study runs)" in capsys.readouterr().err
    assert study_file.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yaml"]


def test_an_output_on_the_scenario_file_exits_2(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "plant.yaml"
    scenario.write_bytes((SCENARIOS / "tandem_mm1.yaml").read_bytes())
    study = tmp_path / "study.yaml"
    study.write_text(
        yaml.safe_dump({"name": "s", "scenario": "plant.yaml", "run_length": "1h", "kpis": ["oee"]})
    )
    assert main(["whatif", str(study), "--html", str(scenario), "--no-progress"]) == 2
    assert f"--html: {scenario} is also the scenario file" in capsys.readouterr().err
    assert scenario.read_bytes() == (SCENARIOS / "tandem_mm1.yaml").read_bytes()


def test_the_password_of_the_influxdb_url_is_never_shown(study_file: Path, capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://bob:s3cr3t-pw@127.0.0.1:{port}"
    assert main(["whatif", str(study_file), "--no-progress", "--influx-url", url]) == 2
    err = capsys.readouterr().err
    assert "s3cr3t-pw" not in err
    assert f"--influx-url: http://bob:***@127.0.0.1:{port}/ping does not answer" in err


def test_an_output_that_cannot_be_written_exits_1_and_the_others_are_written(
    study_file: Path, tmp_path: Path, capsys
) -> None:
    """A full disk (/dev/full) was a traceback after the study ran, and lost the later outputs."""
    full = tmp_path / "r.json"
    full.symlink_to("/dev/full")
    parquet = tmp_path / "p.parquet"
    parquet.symlink_to("/dev/full")
    argv = ["whatif", str(study_file), "--executor", "serial", "--no-progress", "-q"]
    csv = tmp_path / "r.csv"
    assert main([*argv, "--json", str(full), "--csv", str(csv), "--parquet", str(parquet)]) == 1
    err = capsys.readouterr().err
    assert f"error: --json: cannot write {full}: No space left on device" in err
    assert "--parquet: cannot write" in err and "Traceback" not in err
    assert csv.read_text().startswith("study,scenario,variant")

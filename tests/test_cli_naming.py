"""One name per concept across every ``twin`` command, and one environment variable per name."""

from __future__ import annotations

from collections.abc import Iterator

import typer

from twin.cli import app

#: Spellings replaced by one name each (``--influx-database``, ``--influx-token``, ``--out``...).
RETIRED = {
    "--database",
    "--influx-db",
    "--token",
    "--org",
    "--username",
    "--output",
}


def commands() -> Iterator[tuple[str, object]]:
    """Every leaf command of ``twin`` with its path."""
    root = typer.main.get_command(app)
    stack = [("twin", root)]
    while stack:
        path, command = stack.pop()
        if hasattr(command, "list_commands"):  # a group (commands may load lazily)
            ctx = command.make_context(path, ["--help"], resilient_parsing=True)
            for name in command.list_commands(ctx):
                stack.append((f"{path} {name}", command.get_command(ctx, name)))
        else:
            yield path, command


def test_no_command_uses_a_retired_spelling() -> None:
    found = [
        (path, opt)
        for path, command in commands()
        for param in command.params
        for opt in getattr(param, "opts", [])
        if opt in RETIRED
    ]
    assert not found, found


def test_each_environment_variable_is_twin_and_the_option_name() -> None:
    bad = []
    seen = 0
    for path, command in commands():
        for param in command.params:
            env = getattr(param, "envvar", None)
            longs = [o for o in param.opts if o.startswith("--")]
            if not env or not longs or not env.startswith("TWIN_"):
                continue
            seen += 1
            if env != "TWIN_" + longs[0][2:].replace("-", "_").upper():
                bad.append((path, longs[0], env))
    assert seen >= 20
    assert not bad, bad


def test_service_commands_read_the_same_influx_and_mqtt_variables() -> None:
    wanted = {"TWIN_INFLUX_URL", "TWIN_INFLUX_DATABASE", "TWIN_INFLUX_TOKEN"}
    by_command = {
        path: {getattr(p, "envvar", None) for p in command.params} for path, command in commands()
    }
    for name in ("twin analytics", "twin backfill", "twin top", "twin demo"):
        assert wanted <= by_command[name], name
    assert {"TWIN_MQTT_URL", "TWIN_OPCUA_ENDPOINT"} <= by_command["twin sim"]

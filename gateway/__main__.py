"""Allow ``python -m gateway`` (the same command as ``twin gateway``)."""

from gateway import stop_signals

stop_signals.install()  # before the slow imports: a signal during start-up is a clean stop

from gateway.cli import main  # noqa: E402

main()

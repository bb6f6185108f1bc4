"""Allow ``python -m gateway`` (the same command as ``twin gateway``)."""

from twin_io.stop_signals import install_process_stop

install_process_stop()  # before the slow imports: a signal during start-up is a clean stop

from gateway.cli import main  # noqa: E402

main()

"""Allow ``python -m gateway`` (the same command as ``twin gateway``)."""

from gateway.cli import main

main()

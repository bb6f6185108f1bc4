"""The console that prints the CLIs' tables on standard output.

On a terminal it is rich's own (the terminal's width). Into a file or a pipe rich would
assume 80 columns and cut the wider tables' cells ("assem…"); there the console is as wide
as the tables need (``PIPED_WIDTH`` at most), unless ``COLUMNS`` sets a width.
"""

from __future__ import annotations

import os

from rich.console import Console

#: Width of the console when standard output is not a terminal and ``COLUMNS`` is not set.
PIPED_WIDTH = 400


def table_console() -> Console:
    """Return a console for tables on standard output."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console

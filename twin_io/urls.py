"""URLs in settings and messages: a port that cannot be used, a password never shown."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# user, then the password up to the last "@" before the host (a password may hold an "@")
_URL_PASSWORD = re.compile(r"(://[^/@\s:]*:)[^/\s]*@")


def hide_passwords(text: str) -> str:
    """Return ``text`` with the password of every URL in it shown as ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def bad_port(url: str) -> bool:
    """Tell whether ``url`` names a port outside 1..65535: not a number, too large, or 0
    (which clients take for their default port, another server than the one named)."""
    try:
        return urlsplit(url).port == 0
    except ValueError:
        return True

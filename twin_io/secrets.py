"""Secrets kept out of messages and logs: the password of a URL (``scheme://user:pw@host``)."""

from __future__ import annotations

import re

# user, then the password up to the last "@" before the host (a password may hold an "@")
_URL_PASSWORD = re.compile(r"(://[^/@\s:]*:)[^/\s]*@")


def hide_passwords(text: str) -> str:
    """Return ``text`` with the password of every URL in it shown as ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)

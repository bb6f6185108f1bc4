"""Overrides by path on a scenario's data (its parsed YAML), applied before validation.

A path is dot-separated. Inside a mapping a segment is a key; inside a list it picks items by
``id`` (or by ``name`` for items without an id, such as shifts or failure modes), by index in
brackets, or all items with ``*``::

    lines.assembly_a.buffers.a_b2.capacity       by id
    lines[0].buffers[1].capacity                 by index
    lines.*.stations.*.setup.mode                every station that has a setup
    calendar.days_off                            replace a whole value

With ``*`` in a path, items that lack the final key (absent or null) are skipped, and the
override must match at least one item. Without ``*``, a missing final key is set (validation of
the scenario then says whether the key is allowed); a missing intermediate key is an error,
because the value above it must be given whole. Pure: inputs are never modified.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from analytics.whatif.errors import OverrideError

Token = str | int
WILDCARD = "*"
_PART = re.compile(r"([^\[\]]*)((?:\[[^\[\]]*\])*)")
_INDEX = re.compile(r"\[([^\[\]]*)\]")


def parse_path(path: str) -> tuple[Token, ...]:
    """Return the tokens of an override path: keys or ids (str), indexes (int), ``"*"``."""
    if not isinstance(path, str) or not path.strip():
        raise OverrideError(str(path), "an override path must be a non-empty string")
    tokens: list[Token] = []
    for part in path.split("."):
        match = _PART.fullmatch(part)
        if match is None or not (match.group(1) or match.group(2)):
            raise OverrideError(path, "empty or malformed segment (use a.b[0].c)")
        if match.group(1):
            tokens.append(match.group(1))
        for inner in _INDEX.findall(match.group(2)):
            tokens.append(int(inner) if inner.isdigit() else inner)
            if not inner:
                raise OverrideError(path, "empty brackets (use [0], [id] or [*])")
    return tuple(tokens)


def apply_overrides(
    data: Mapping[str, Any], overrides: Mapping[str, Any] | Iterable[tuple[str, Any]]
) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``path: value`` applied in order.

    Raises ``OverrideError`` naming the first path that does not resolve.
    """
    out = copy.deepcopy(dict(data))
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for path, value in items:
        tokens = parse_path(path)
        if _apply(out, tokens, value, _Walk(path, WILDCARD in tokens), ()) == 0:
            raise OverrideError(path, "the wildcard matched nothing that has this key")
    return out


class _Walk:
    """What every step of one override needs: its path as written and whether it is wild."""

    def __init__(self, path: str, wild: bool) -> None:
        self.path = path
        self.wild = wild

    def fail(self, done: tuple[Token, ...], message: str) -> OverrideError:
        where = _render(done)
        return OverrideError(self.path, f"{where}: {message}" if where else message)


def _render(tokens: tuple[Token, ...]) -> str:
    """Render tokens back into a path (``lines.a.buffers[1]``)."""
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else (f".{t}" if out else t)
    return out


def _is_unset(container: Any, key: Any) -> bool:
    if isinstance(container, dict):
        return container.get(key) is None
    return container[key] is None


def _apply(
    node: Any, tokens: tuple[Token, ...], value: Any, walk: _Walk, done: tuple[Token, ...]
) -> int:
    """Set ``value`` at ``tokens`` below ``node``; return how many places were set."""
    token, rest = tokens[0], tokens[1:]
    here = (*done, token)
    count = 0
    for container, key in _children(node, token, walk, done):
        if not rest:
            if walk.wild and _is_unset(container, key):
                continue
            container[key] = copy.deepcopy(value)
            count += 1
            continue
        if _is_unset(container, key):
            if walk.wild:
                continue
            raise walk.fail(here, "is not set in the scenario: override it as a whole value")
        count += _apply(container[key], rest, value, walk, here)
    return count


def _children(node: Any, token: Token, walk: _Walk, done: tuple[Token, ...]) -> list[tuple]:
    """Return ``(container, key)`` pairs that ``token`` selects in ``node``."""
    if isinstance(node, list):
        return _list_children(node, token, walk, done)
    if isinstance(node, dict):
        if token == WILDCARD:
            return [(node, k) for k in node]
        if isinstance(token, int):
            raise walk.fail(done, f"is a mapping, not a list: use a key instead of [{token}]")
        return [(node, token)]
    raise walk.fail(done, f"holds the value {node!r}, not a mapping or list")


def _list_children(node: list, token: Token, walk: _Walk, done: tuple[Token, ...]) -> list[tuple]:
    if token == WILDCARD:
        return [(node, i) for i in range(len(node))]
    if isinstance(token, int):
        if token >= len(node):
            raise walk.fail(done, f"index [{token}] out of range (the list has {len(node)} items)")
        return [(node, token)]
    for i, item in enumerate(node):
        if isinstance(item, dict) and _item_id(item) == token:
            return [(node, i)]
    known = ", ".join(str(_item_id(x)) for x in node if isinstance(x, dict) and _item_id(x))
    raise walk.fail(done, f"no item with id {token!r} (known: {known or 'none'})")


def _item_id(item: dict[str, Any]) -> Any:
    """Return the id of a list item: its ``id``, else its ``name``."""
    return item.get("id", item.get("name"))

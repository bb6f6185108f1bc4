"""Reading the YAML files people write (scenarios, studies, configs): one reader, clear errors.

``read_yaml(path)`` returns the parsed document or raises ``InputFileError`` whose ``problems``
are ``(where, message)`` pairs: ``(file)`` for a file that cannot be read or is not UTF-8
(UTF-16 is named as such) or is larger than ``MAX_BYTES`` (``/dev/zero`` was read until memory
ran out), ``(yaml)`` for a syntax error, a key given twice in one mapping (PyYAML
silently keeps the last one), nesting deeper than ``MAX_DEPTH`` or more than ``MAX_NODES`` values.
No input gives a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 100
"""Deepest nesting of mappings and sequences accepted (no scenario or study comes close)."""
MAX_NODES = 1_000_000
"""Most values in one document, aliases counted at each use (a "billion laughs" is refused)."""
MAX_BYTES = 64 * 2**20
"""Largest file read (64 MiB; the example scenarios are a few kB)."""


class InputFileError(ValueError):
    """A file that cannot be used as input; ``problems`` holds ``(where, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(f"{w}: {m}" for w, m in problems))


#: libyaml's parser when PyYAML has it (5x faster: 0.01 against 0.05 s for plant_3lines).
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """``SafeLoader`` that refuses a key given twice in one mapping, naming the key."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class names it
                continue
            if duplicate:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _size_problem(node: Node | None) -> str | None:
    """Return a problem when ``node`` nests deeper than ``MAX_DEPTH`` or holds over ``MAX_NODES``
    values, aliases expanded (iteratively: no recursion, stops at the bound)."""
    stack = [(node, 1)] if node is not None else []
    visited = 0
    while stack:
        current, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            return f"more than {MAX_NODES:,} values (aliases counted at each use)"
        if depth > MAX_DEPTH:
            mark = current.start_mark
            return f"nested more than {MAX_DEPTH} levels deep (line {mark.line + 1})"
        if isinstance(current, SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)
        elif isinstance(current, MappingNode):
            stack.extend((child, depth + 1) for pair in current.value for child in pair)
    return None


def decode_text(raw: bytes, source: str) -> str:
    """Return ``raw`` as text; raises ``InputFileError`` for text that is not UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(source, [("(file)", "UTF-16 text; save the file as UTF-8")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        problem = f"not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8"
        raise InputFileError(source, [("(file)", problem)]) from None


def parse_yaml(text: str, source: str = "<yaml>") -> Any:
    """Parse one YAML document strictly; raises ``InputFileError`` naming the problem."""
    try:
        loader = _StrictLoader(text)  # the reader checks the characters here already
    except yaml.YAMLError as exc:
        raise InputFileError(source, [("(yaml)", _describe(exc))]) from None
    loader.name = source
    try:
        node = loader.get_single_node()
        problem = _size_problem(node)
        if problem is not None:
            raise InputFileError(source, [("(yaml)", problem)])
        return loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise InputFileError(source, [("(yaml)", _describe(exc))]) from None
    except RecursionError:  # a structure the depth check did not see (aliases of aliases)
        raise InputFileError(source, [("(yaml)", "nested too deeply")]) from None
    finally:
        loader.dispose()


def _describe(exc: yaml.YAMLError) -> str:
    """One line: the problem and where it is (``found duplicate key 'a' (line 2, column 1)``)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem and exc.problem_mark:
        mark = exc.problem_mark
        problem = exc.problem
        if "maximum nesting depth" in problem:  # libyaml >= 0.2.6 stops at its own bound
            problem = f"nested more than {MAX_DEPTH} levels deep"
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def read_yaml(path: str | Path) -> Any:
    """Read and parse a YAML file; raises ``InputFileError`` naming the file and the problem."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputFileError(str(path), [("(file)", exc.strerror or str(exc))]) from None
    if len(raw) > MAX_BYTES:
        problem = f"larger than {MAX_BYTES // 2**20} MiB: not a scenario or study file"
        raise InputFileError(str(path), [("(file)", problem)])
    return parse_yaml(decode_text(raw, str(path)), str(path))

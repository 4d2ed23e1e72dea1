"""Which first bytes a fido BOF regex can match: lets the matcher skip formats that cannot match.

Conservative by construction: anything not understood gives ``None`` ("could start with
anything"), so a format is only skipped when every one of its signatures needs a first byte
the file does not have, i.e. when fido itself would find no match for it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

_p: Any
_c: Any
try:  # CPython's regex parser (sre_parse); without it nothing is ever skipped
    _p, _c = importlib.import_module("re._parser"), importlib.import_module("re._constants")
except ImportError:  # pragma: no cover
    _p = _c = None

ByteSet = frozenset[int]
ALL_BYTES = range(256)


def first_bytes(regex: bytes) -> ByteSet | None:
    """The bytes a string matched by ``re.match(regex, s)`` can start with, or None if unknown."""
    if _p is None:
        return None
    try:
        parsed = _p.parse(regex)
    except Exception:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    found = _first(list(parsed))
    return frozenset(found) if found is not None else None


def _first(items: Iterable[tuple[Any, Any]]) -> set[int] | None:
    for op, av in items:
        if op is _c.AT and av in (_c.AT_BEGINNING_STRING, _c.AT_BEGINNING):
            continue  # matches at position 0 anyway
        if op is _c.LITERAL:
            return {av}
        if op is _c.IN:
            return _charset(av)
        if op is _c.BRANCH:
            out: set[int] = set()
            for branch in av[1]:
                sub = _first(branch)
                if sub is None:
                    return None
                out |= sub
            return out
        if op is _c.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            return None if add_flags & re.IGNORECASE else _first(sub)
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
            return _first(av[2])
        return None
    return None  # empty pattern: matches anything


def _charset(items: list[tuple[Any, Any]]) -> set[int] | None:
    out: set[int] = set()
    for op, av in items:
        if op is _c.LITERAL:
            out.add(av)
        elif op is _c.RANGE:
            out.update(range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY (\d, \s ...): give up
            return None
    return out


def by_first_byte(entries: list[Any], needs: list[ByteSet | None]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """Per first byte (0-255) the entries worth trying, in order; and those for an empty file.

    ``needs[i]`` is the set of first bytes entry ``i`` needs, or None if it may match anything.
    """
    table = [tuple(e for e, need in zip(entries, needs, strict=False) if need is None or b in need) for b in ALL_BYTES]
    return table, tuple(e for e, need in zip(entries, needs, strict=False) if need is None)

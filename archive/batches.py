"""``batched``: an iterable taken a list of at most ``n`` items at a time (``itertools.batched``
arrived in Python 3.12; the archive runs on 3.11)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    """Lists of ``n`` items (the last may be shorter; none when ``items`` is empty), made as they
    are taken: a million rows go through in flat memory."""
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk

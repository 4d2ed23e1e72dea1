"""Flat-memory iteration helpers: ``batched`` (an iterable a list at a time; ``itertools.batched``
arrived in Python 3.12, the archive runs on 3.11) and ``ordered_map`` (a thread pool's map that
submits only a window ahead)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def batched(
    items: Iterable[T], n: int, weight: Callable[[T], int] | None = None, max_weight: int = 0
) -> Iterator[list[T]]:
    """Lists of ``n`` items (the last may be shorter; none when ``items`` is empty), made as they
    are taken: a million rows go through in flat memory. With ``weight``, a list also ends once
    its items weigh ``max_weight`` together (a big file goes alone, small ones go by ``n``)."""
    if weight is None:
        it = iter(items)
        while chunk := list(islice(it, n)):
            yield chunk
        return
    chunk, held = [], 0
    for item in items:
        chunk.append(item)
        held += weight(item)
        if len(chunk) >= n or held >= max_weight:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def ordered_map(pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """``fn`` of each item, run in ``pool``, yielded in the items' order with at most ``window``
    submitted ahead of the one taken. ``Executor.map`` submits every item at once: a future per
    file of a million-file transfer, held until the last result is taken."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= max(1, window):
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()

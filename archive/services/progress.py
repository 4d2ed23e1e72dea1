"""Progress of long work: the ``(stage, done, total)`` callback and a byte meter for it.

A stage whose name ends in ``" bytes"`` counts bytes (the command line shows sizes, the rate and
the time left); any other stage counts items (files).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Progress = Callable[[str, int, int], None]

#: seconds between two reports of a :class:`ByteMeter`
REPORT_EVERY = 0.2


def no_progress(stage: str, done: int, total: int) -> None:
    pass


class ByteMeter:
    """Counts bytes as threads read them and reports ``(f"{stage} bytes", done, total)`` at most
    every :data:`REPORT_EVERY` seconds (and once at the end), so a 50 GB file shows how far it is
    and a 100,000-file transfer does not drown the terminal in reports."""

    def __init__(self, progress: Progress, stage: str, total: int) -> None:
        self.progress, self.stage, self.total = progress, f"{stage} bytes", total
        self.done = 0
        self._lock = threading.Lock()
        self._next = 0.0

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now < self._next:
                return
            self._next = now + REPORT_EVERY
            done = self.done
        # a total that was an estimate (an audit's, from the catalog's sizes) grows with what is read
        self.progress(self.stage, done, max(done, self.total))

    def finish(self) -> None:
        self.progress(self.stage, max(self.done, self.total), max(self.done, self.total))

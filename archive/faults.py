"""Fault points: places where tests kill the process to prove a crash loses nothing.

Code calls ``fault_point("storage.after-rename")`` at each step worth proving, and the module
registers its names (``register(...)`` at import). Nothing happens unless the environment
variable ``ARCHIVE_FAULT`` names that point; then the process kills itself with SIGKILL on the
spot (no cleanup, no ``finally``, no atexit), exactly like a power cut or the OOM killer.
``ARCHIVE_FAULT=name@N`` kills on the N-th time the point is reached. tests/test_crash.py checks
that every point called in the code is registered and kills the process at each one; the list
and what each proves: docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "ARCHIVE_FAULT"
_hits: Counter[str] = Counter()

#: every fault point in the code, so tests can prove each one is reached
POINTS: list[str] = []


def register(*names: str) -> None:
    POINTS.extend(n for n in names if n not in POINTS)


def fault_point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition("@")
    if target != name:
        return
    _hits[name] += 1
    if _hits[name] >= (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)

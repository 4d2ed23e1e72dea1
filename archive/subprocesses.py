"""How the archive starts worker processes: forked from a fork server, and deaf to the signals
that stop a run.

Not forked from the parent: it runs threads (a forked child would inherit their locks in
whatever state they were) and may hold a Go runtime (pygfried). Not spawned afresh either: a
spawned worker imports the parent's main module (the ``archive`` command: the whole command
line) and the archive again, a third of a second each (an audit of 20,000 small files takes
under two), so the workers are forked from multiprocessing's fork server, a clean process
started once per parent that has imported the modules they run. The workers run only the
archive's own functions, never the parent's main module: the fork server stands in for it with
an empty module of its path (from :data:`MAIN_ENV`), so a worker does not run it either.
Deaf to SIGINT and SIGTERM:
Ctrl-C signals the terminal's whole process group and a service manager every process of the
service, and a worker that died of it would turn a clean stop (between files, the pool shut
down by the parent) into a broken pool; the parent decides when its workers stop.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import types
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import spawn
from typing import Any

#: what the fork server imports once, so that the workers forked from it start at once
PRELOAD = ["archive.subprocesses", "archive.audit.check", "archive.formats.identify", "archive.packaging.mets.write"]
#: ``<parent pid>:<path of its main module>``, for the fork server that parent starts
MAIN_ENV = "ARCHIVE_WORKERS_MAIN"


def _without_parents_main() -> None:
    """In the fork server a parent started (and only there): stand in for the parent's main
    module with an empty one of the same path, so the workers forked from it do not run it."""
    parent, _, path = os.environ.get(MAIN_ENV, "").partition(":")
    if not path or parent != str(os.getppid()) or "multiprocessing.forkserver" not in sys.modules:
        return
    if getattr(sys.modules.get("__main__"), "__file__", None) is None:
        stand_in = types.ModuleType("__mp_main__")
        stand_in.__file__ = path
        sys.modules["__main__"] = sys.modules["__mp_main__"] = stand_in


def _start(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)


def worker_pool(
    workers: int, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """``workers`` processes that ignore SIGINT and SIGTERM, each running ``initializer`` first;
    they start as tasks are submitted (the fork server with the first)."""
    main = spawn.get_preparation_data("archive-worker").get("init_main_from_path")
    mark = f"{os.getpid()}:{main}"  # this process's (an inherited one names its parent)
    if main and os.environ.get(MAIN_ENV) != mark:
        os.environ[MAIN_ENV] = mark
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(
        max(1, workers),
        mp_context=context,
        initializer=_start,
        initargs=(initializer, initargs),
    )


_without_parents_main()

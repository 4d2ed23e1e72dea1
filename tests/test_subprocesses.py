"""Worker processes stop when the parent says, not when a signal meant for the run reaches them:
Ctrl-C signals the terminal's whole process group, a service manager every process of the
service, and a dead worker would break the pool instead of letting the run stop between files."""

from __future__ import annotations

import os
import signal
import time

from archive.subprocesses import worker_pool


def test_a_worker_outlives_the_signals_that_stop_a_run() -> None:
    pool = worker_pool(1, os.getpid)  # the initializer runs too
    try:
        pid = pool.submit(os.getpid).result(timeout=60)
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGINT)
        time.sleep(0.3)
        assert pool.submit(os.getpid).result(timeout=60) == pid  # the same process, and the pool works
    finally:
        pool.shutdown()
    assert not _alive(pid)  # shut down by its parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

"""The pool a copy's checks run on with ``--jobs N``: N threads, and N worker processes for
batches of several files.

Checking a small file is mostly the interpreter's work (open, stat, read, close: each a release
and a retake of its lock), so threads of one process check small files no faster than one
thread does; worker processes each have their own. :func:`~archive.audit.check.check_copy`
hands a big copy's batches of several files to the worker processes and keeps a big file (a
batch of its own) for a thread of this process: hashlib works without the interpreter's lock,
and the file's progress is reported as it is read.

The worker processes start with the first such batch (:func:`archive.subprocesses.worker_pool`:
forked from the fork server, deaf to the signals that stop a run; the parent stops between
files and shuts its pool down).
"""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from archive.subprocesses import worker_pool


class CheckPool(ThreadPoolExecutor):
    """``jobs`` threads, and ``jobs`` worker processes started on first use (:attr:`processes`)."""

    def __init__(self, jobs: int, thread_name_prefix: str = "check") -> None:
        super().__init__(max(1, jobs), thread_name_prefix=thread_name_prefix)
        self.jobs = max(1, jobs)
        self._processes: ProcessPoolExecutor | None = None
        self._guard = threading.Lock()

    @property
    def processes(self) -> ProcessPoolExecutor:
        with self._guard:
            if self._processes is None:
                self._processes = worker_pool(self.jobs)
            return self._processes

    @property
    def started(self) -> bool:
        """Whether the worker processes run (a later copy uses them whatever its size)."""
        return self._processes is not None

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait, cancel_futures=cancel_futures)
        with self._guard:
            processes, self._processes = self._processes, None
        if processes is not None:
            processes.shutdown(wait, cancel_futures=cancel_futures)

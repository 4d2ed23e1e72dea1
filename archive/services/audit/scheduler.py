"""``archive scheduler``: an honest loop that runs due audits inside a daily window and budget.

Each pass: if the window is open and its byte budget is not spent, run ``audit --due`` bounded by
the time left in the window (and ``audit_max_seconds``); then sleep ``scheduler_poll_seconds``.
A stop request (SIGTERM) ends the current run between files and the loop at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from archive.audit.window import Window, parse_window
from archive.errors import ArchiveError
from archive.services.audit.run import AuditOptions, AuditResult, run_audit
from archive.services.context import ArchiveContext


@dataclass
class SchedulerState:
    window_opened: datetime | None = None
    bytes_in_window: int = 0
    runs: int = 0


def _local_now() -> datetime:
    return datetime.now().astimezone()


def scheduler_pass(
    ctx: ArchiveContext,
    window: Window,
    state: SchedulerState,
    stop: threading.Event,
    log: Callable[[str], None],
    jobs: int,
    now: Callable[[], datetime] = _local_now,
) -> AuditResult | None:
    """One wake-up: run due audits if the window is open and the budget allows; return the run, if any."""
    s = ctx.settings
    moment = now()
    left = window.seconds_left(moment)
    if left is None or left <= 0:
        return None
    opened = window.opened_at(moment)
    if opened != state.window_opened:
        state.window_opened, state.bytes_in_window = opened, 0
    bytes_left = None
    if s.audit_max_bytes:
        bytes_left = s.audit_max_bytes - state.bytes_in_window
        if bytes_left <= 0:
            return None
    seconds = min(left, s.audit_max_seconds or float("inf"))
    limit = None if seconds == float("inf") else max(1.0, seconds)
    opts = AuditOptions(due=True, jobs=jobs, max_seconds=limit, max_bytes=bytes_left, selection="scheduler")
    log(f"audit run starting (window {window}, budget: {opts.max_seconds or 'no'} s, {bytes_left or 'no'} bytes)")
    result = run_audit(ctx, opts, stop=stop)
    state.bytes_in_window += result.bytes
    state.runs += 1
    log(
        f"audit run {result.run_id} {result.status}: {result.packages} packages, {result.files} files, "
        f"{result.bytes} bytes, {result.failures} failures, {result.unchecked} could not be checked"
        + (f"; stopped: {result.stop_reason}" if result.stop_reason else "")
    )
    return result


def run_scheduler(
    ctx: ArchiveContext,
    stop: threading.Event,
    log: Callable[[str], None],
    once: bool = False,
    jobs: int | None = None,
    window: str | None = None,
    poll_seconds: int | None = None,
    enqueue: bool = False,
) -> int:
    """Loop until ``stop`` is set (or after one pass with ``once``); return the number of runs made
    (``enqueue``: of times audit jobs were queued for ``archive worker`` processes instead)."""
    s = ctx.settings
    win = parse_window(s.audit_window if window is None else window)
    poll = poll_seconds or s.scheduler_poll_seconds
    state = SchedulerState()
    log(f"scheduler started: window {win}, poll every {poll} s, jobs {jobs or s.audit_jobs}")
    while not stop.is_set():
        try:
            if enqueue:
                enqueue_pass(ctx, win, state, log)
            else:
                scheduler_pass(ctx, win, state, stop, log, jobs or s.audit_jobs)
        except ArchiveError as exc:  # e.g. storage unreachable, another audit running: try again later
            log(f"audit could not run: {exc.message}")
        if once:
            break
        stop.wait(poll)  # a budgeted run resumes where it stopped at the next pass
    log(f"scheduler stopped after {state.runs} run(s)")
    return state.runs


def enqueue_pass(
    ctx: ArchiveContext,
    window: Window,
    state: SchedulerState,
    log: Callable[[str], None],
    now: Callable[[], datetime] = _local_now,
) -> list[int] | None:
    """One wake-up of ``scheduler --enqueue``: while the window is open, queue the audits due
    (the workers run them; the byte budget is theirs to keep by how many run)."""
    from archive.jobs.enqueue import enqueue_due_audits

    left = window.seconds_left(now())
    if left is None or left <= 0:
        return None
    queued = enqueue_due_audits(ctx)
    if queued is None:
        log("audit jobs are still queued or running: none added")
    elif queued:
        state.runs += 1
        log(f"{len(queued)} audit job(s) queued for the packages due")
    return queued

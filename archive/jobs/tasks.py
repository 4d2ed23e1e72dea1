"""The jobs a worker runs: an ingest, and an audit of a batch of packages; each safe to run twice.

Delivery is at least once (a worker killed mid-job leaves its job to be run again), so each job
leaves what one run leaves:

- an **ingest** job is the ingest of :func:`archive.services.ingest.run.ingest` with the
  submission's idempotency key (``--key``, else its content fingerprint): run again after its
  package was catalogued, it finds that package and stores nothing; killed before, what it left
  in staging is a dead process's leftover that ``archive doctor`` removes, and a package it stored
  but did not catalogue is found by doctor as a duplicate of the one the retry made and quarantined.
- an **audit** job audits its packages in one audit run, skipping those whose fixity pass began
  after the job was enqueued (a first attempt audited them), and each package only while it holds
  a PostgreSQL advisory lock on it: two workers never audit one package at once.

What a job ended with goes to ``archive_job_outcomes`` (:func:`archive.jobs.queue.record_outcome`).
A submission that is rejected, or any error that running again cannot mend, fails the job at
once; the storage or the catalog being unreachable is retried (setting ``job_attempts``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from archive.errors import ArchiveError, CatalogError, StorageError
from archive.services.context import ArchiveContext

log = logging.getLogger("archive.worker")


class _Worker:
    """What the tasks of this worker process run with (set by :func:`archive.jobs.worker.run`)."""

    ctx: ArchiveContext | None = None
    attempts: int = 3
    retry_seconds: int = 60
    lock = threading.Lock()  # one job at a time uses the archive context


WORKER = _Worker()


class _Retry(BaseRetryStrategy):
    """Retry what may pass (storage or catalog unreachable, an OS error), up to ``job_attempts`` tries;
    an audit that meets an audit run by hand waits for it without counting tries."""

    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        from archive.services.audit.run import AuditBusy
        from archive.storage.objects import ObjectExists
        from archive.storage.ocfl import VersionConflict

        if isinstance(exception, AuditBusy):  # an audit by hand runs: wait for it, whatever the tries
            return RetryDecision(retry_in={"seconds": max(WORKER.retry_seconds, 1)})
        if job.attempts + 1 >= WORKER.attempts:
            return None
        if isinstance(exception, (ObjectExists, VersionConflict)):  # another try meets the same bytes
            return None
        if not isinstance(exception, (StorageError, CatalogError, OSError)):
            return None
        return RetryDecision(retry_in={"seconds": WORKER.retry_seconds * (2**job.attempts)})


def _context() -> ArchiveContext:
    if WORKER.ctx is None:  # pragma: no cover - a task outside `archive worker`
        raise RuntimeError("archive jobs run inside `archive worker`")
    return WORKER.ctx


@contextmanager
def _outcome(job: Any, what: str) -> Iterator[dict[str, Any]]:
    """Record what the job's attempt ended with; ``detail`` is filled by the job."""
    from archive.jobs.queue import record_outcome

    detail: dict[str, Any] = {}
    try:
        log.info("job %s (try %s): %s", job.id, job.attempts + 1, what)
        yield detail
    except ArchiveError as exc:
        log.warning("job %s failed: %s: %s", job.id, what, exc.message)
        record_outcome(job.app, job.id, job.attempts + 1, False, f"{what}: {exc.message}", {"error": exc.as_dict()})
        raise
    except Exception as exc:
        log.warning("job %s failed: %s: %s: %s", job.id, what, type(exc).__name__, exc)
        record_outcome(job.app, job.id, job.attempts + 1, False, f"{what}: {type(exc).__name__}: {exc}", {})
        raise
    summary = detail.pop("summary", what)
    log.info("job %s done: %s", job.id, summary)
    record_outcome(job.app, job.id, job.attempts + 1, True, summary, detail)


class _Job:
    """The parts of procrastinate's job context the outcome needs."""

    def __init__(self, context: Any) -> None:
        self.app = context.app
        self.id = int(context.job.id)
        self.attempts = int(context.job.attempts)


def ingest_job(
    context: Any,
    submission: str,
    profile: str,
    metadata_file: str | None = None,
    agent: str | None = None,
    key: str | None = None,
) -> None:
    from archive.services.ingest.run import ingest

    job = _Job(context)
    with WORKER.lock, _outcome(job, f"ingest of {submission}") as detail:
        ctx = _context()
        result = ingest(ctx, Path(submission), profile, Path(metadata_file) if metadata_file else None, agent, key)
        detail.update(result.as_dict())
        state = "stored as" if result.created else "already stored as"
        detail["summary"] = f"ingest of {submission}: {state} package {result.package_id} ({result.files} files)"


def audit_job(context: Any, package_ids: list[str], enqueued_at: str, repair: bool = False) -> None:
    from archive.catalog.audits import Audits
    from archive.services.audit.run import AuditOptions, run_audit

    job = _Job(context)
    with WORKER.lock, _outcome(job, f"audit of {len(package_ids)} package(s)") as detail:
        ctx = _context()
        since = datetime.fromisoformat(enqueued_at)
        audits = Audits(ctx.catalog)
        todo = [pid for pid in package_ids if not _audited_since(audits, pid, since)]
        with ctx.catalog.package_locks(todo) as held:
            mine = [pid for pid in todo if pid in held]
            skipped = len(package_ids) - len(mine)
            if not mine:
                detail["summary"] = f"audit: nothing left to audit ({skipped} audited since or by another worker)"
                return
            result = run_audit(ctx, AuditOptions(package_ids=mine, repair=repair, selection="queued", shared=True))
        detail.update(result.summary())
        detail["skipped"] = skipped
        detail["summary"] = (
            f"audit run {result.run_id}: {result.packages} packages, {result.failures} failures, "
            f"{result.unchecked} could not be checked ({skipped} skipped: audited since or by another worker)"
        )


def blueprint() -> procrastinate.Blueprint:
    """The archive's tasks, for one app (a task belongs to the app it was added to)."""
    tasks = procrastinate.Blueprint()
    tasks.task(name="ingest", queue="ingest", pass_context=True, retry=_Retry())(ingest_job)
    tasks.task(name="audit", queue="audit", pass_context=True, retry=_Retry())(audit_job)
    return tasks


def _audited_since(audits: Any, package_id: str, since: datetime) -> bool:
    state = audits.state(package_id)
    return bool(
        state is not None
        and state.cursor is None
        and state.pass_started_at is not None
        and state.pass_started_at >= since
    )

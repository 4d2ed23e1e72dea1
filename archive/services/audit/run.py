"""Fixity audits: choose packages (given, all, or due), check every copy, record, notify, repair.

One run = one ``audit_runs`` row, one PREMIS ``fixity check`` event per package it touched, an
``audit-run`` ledger entry at the end, and at most one notification (only when there is trouble).
"could not check" is data (severity ``unchecked``), so one unreachable copy never stops a run.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from archive.audit.budget import Budget
from archive.audit.findings import AuditFinding, finding
from archive.audit.notify import notify
from archive.audit.workers import CheckPool
from archive.catalog.audits import Audits
from archive.catalog.ledger_mirror import LedgerMirror
from archive.errors import NotFound, StorageError
from archive.faults import fault_point, register
from archive.ledger import KIND_AUDIT_RUN
from archive.model import utcnow
from archive.services import ledgering
from archive.services.audit import intervals as fixity_intervals
from archive.services.audit.package import PackageAudit, audit_package
from archive.services.audit.repair import RepairResult, repair_package
from archive.services.context import ArchiveContext
from archive.services.ids import named_package_id
from archive.services.ledgering import findings_in, findings_out, run_options
from archive.services.progress import ByteMeter, Progress
from archive.storage.s3 import S3Storage

register("audit.before-finish")
DEFAULT_INTERVAL_DAYS = 90
#: findings kept in memory for the command's output and the notification (all are in the catalog)
KEEP_FINDINGS = 10_000


@dataclass
class AuditOptions:
    package_ids: list[str] = field(default_factory=list)
    all: bool = False
    due: bool = False
    max_seconds: float | None = None
    max_bytes: int | None = None
    jobs: int = 1
    repair: bool = False
    selection: str = ""  # recorded label; derived when empty
    shared: bool = False  # a queued audit: beside other queued audits (see audit_lock)


@dataclass
class AuditResult:
    run_id: str
    started_at: datetime
    selection: str
    finished_at: datetime | None = None
    status: str = "running"  # complete | budget | interrupted
    stop_reason: str = ""
    packages: int = 0
    files: int = 0
    bytes: int = 0
    failures: int = 0
    unchecked: int = 0
    findings: list[AuditFinding] = field(default_factory=list)
    repairs: list[RepairResult] = field(default_factory=list)
    notified: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # jobs, max_seconds, max_bytes (ledgered)
    run_findings: list[AuditFinding] = field(default_factory=list)  # findings of no package event (orphans)
    #: a fresh archive: nothing was catalogued, stored or ledgered yet, so no run was recorded
    nothing_to_audit: bool = False

    @property
    def outcome(self) -> str:
        if self.failures:
            return "failure"
        return "could-not-check" if self.unchecked else "success"

    @property
    def unrepaired(self) -> int:
        """Failures still standing: all of them, less those a repair in this run fixed."""
        if not self.repairs:
            return self.failures
        fixed = {r.package_id for r in self.repairs if not r.remaining}
        return sum(1 for f in self.findings if f.is_failure and f.package_id not in fixed)

    @property
    def exit_status(self) -> int:
        """0 every check passed (or was repaired), 1 a failure stands, 3 something could not be checked."""
        if self.unrepaired:
            return 1
        return 3 if self.unchecked else 0

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "selection": self.selection,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "outcome": self.outcome,
            "packages": self.packages,
            "files": self.files,
            "bytes": self.bytes,
            "failures": self.failures,
            "unchecked": self.unchecked,
            "repaired": sum(len(r.restored) for r in self.repairs),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.summary(),
            "exit_status": self.exit_status,
            "notified": self.notified,
            "nothing_to_audit": self.nothing_to_audit,
            "findings": [f.as_dict() for f in self.findings],
            "repairs": [r.as_dict() for r in self.repairs],
        }


class AuditBusy(StorageError):
    """Another audit, repair or doctor holds the audit lock (a queued audit waits and tries again)."""

    code = "E503"


@contextmanager
def audit_lock(ctx: ArchiveContext, shared: bool = False) -> Iterator[None]:
    """One audit or repair at a time per archive (cron and the scheduler may overlap): a lock file in
    the home and, on PostgreSQL, a catalog lock every machine sees. ``shared``: the audits queued
    for ``archive worker`` processes, which run side by side (each package under a lock of its
    own) but never beside an audit, a repair or a doctor that holds the lock alone."""
    path = ctx.settings.home / "audit.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    busy = f"another audit or repair is running (lock {path}); try again when it ends"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise AuditBusy(busy) from exc
        with ctx.catalog.lock("archive.audit", shared=shared) as got:
            if not got:
                raise AuditBusy(busy.replace(f"lock {path}", "on another machine of this catalog"))
            yield
    finally:
        os.close(fd)


def close_stale_runs(ctx: ArchiveContext, audits: Audits, now: datetime, dry_run: bool = False) -> list[str]:
    """Runs still marked ``running`` whose process died: mark them ``interrupted`` (ledger first).

    Call only while holding :func:`audit_lock`: then no run can really be running."""
    stale = audits.runs_with_status("running")
    for run in stale if not dry_run else []:
        run.finished_at, run.status = now, "interrupted"
        run.stop_reason = "the process running this audit died; closed by archive doctor or the next audit"
        run.outcome = "failure" if run.failures else ("could-not-check" if run.unchecked else "success")
        summary = {k: v for k, v in run.as_dict().items() if k not in ("jobs", "max_seconds", "max_bytes", "notified")}
        findings = [f for f in findings_in(audits.run_findings(run.id)) if f.kind == "orphan" or not f.package_id]
        ledgering.append(
            ctx,
            [
                (
                    KIND_AUDIT_RUN,
                    {
                        "run": summary,
                        "options": run_options(run.jobs, run.max_seconds, run.max_bytes),
                        **findings_out(findings),
                    },
                )
            ],
        )
        audits.update_run(run.id, finished_at=now, status=run.status, outcome=run.outcome, stop_reason=run.stop_reason)
    return [r.id for r in stale]


def _cutoffs(ctx: ArchiveContext, audits: Audits, now: datetime) -> dict[str, datetime]:
    """Per profile: packages last checked before this are due (intervals as the catalog recorded them)."""
    return {name: now - timedelta(days=days) for name, days in fixity_intervals.intervals(ctx, audits).items()}


def select(ctx: ArchiveContext, audits: Audits, opts: AuditOptions, started: datetime, run_id: str) -> Iterator[str]:
    """Given ids in order; else passes left unfinished first, then oldest verification first (due only)."""
    if opts.package_ids:
        yield from dict.fromkeys(opts.package_ids)
        return
    seen = set()
    for pid in audits.pending():
        seen.add(pid)
        yield pid
    cutoffs = _cutoffs(ctx, audits, started) if opts.due else None
    default = started - timedelta(days=DEFAULT_INTERVAL_DAYS)
    after = None
    while True:
        page = audits.page(cutoffs, default, run_id, after)
        if not page:
            return
        for pid, _last in page:
            if pid not in seen:
                yield pid
        after = (page[-1][1], page[-1][0])


def find_orphans(ctx: ArchiveContext, audits: Audits, now: datetime) -> Iterator[AuditFinding]:
    """Packages in any storage root (folders and buckets) that the catalog does not know (older than
    the grace period)."""
    grace = ctx.settings.orphan_grace_seconds
    for storage in ctx.audited_copies:
        if not storage.reachable():
            continue  # each package's check reports the root as unreachable
        batch: list[str] = []
        try:
            for pid in [*storage.iter_package_ids(), None]:
                if pid is not None:
                    batch.append(pid)
                if batch and (pid is None or len(batch) >= 500):
                    known = audits.known(batch)
                    for orphan in (p for p in batch if p not in known):
                        if isinstance(storage, S3Storage):
                            written = storage.stored_at(orphan)
                            what = f"package object {storage.root}{storage.object_key(orphan, '')}"
                        else:
                            written = storage.path_of(orphan).stat().st_mtime
                            what = f"package folder {storage.path_of(orphan)}"
                        if max(now.timestamp(), time.time()) - written >= grace:
                            yield finding(orphan, storage.name, "", "orphan", f"{what} is not in the catalog")
                    batch = []
        except (OSError, StorageError) as exc:  # StorageError: the listing itself was refused
            cause = exc.__cause__ if isinstance(exc, StorageError) else exc
            why = getattr(cause, "strerror", None) or str(exc)
            yield finding("", storage.name, "", "unreadable", f"cannot list storage {storage.root}: {why}")


def _check_ids(audits: Audits, ctx: ArchiveContext, ids: list[str]) -> None:
    for pid in ids:
        named_package_id(pid)
        if not audits.exists(pid) and not any(s.exists(pid) for s in ctx.all_storage):
            raise NotFound(f"no package {pid} in the catalog or in storage")


def is_fresh(ctx: ArchiveContext, audits: Audits) -> bool:
    """Nothing catalogued, audited, ledgered or stored yet: the archive of a first ``archive ingest``
    that stored nothing (or of no ingest at all). Its primary storage root may not exist yet."""
    if ctx.catalog.count_packages() or audits.count_runs() or LedgerMirror(ctx.catalog).last_seq():
        return False
    if os.path.lexists(ctx.ledger.path):
        return False  # a ledger whose mirror is empty: a lost catalog, for `archive reindex`
    return not any(storage.reachable() and next(iter(storage.iter_package_ids()), None) for storage in ctx.all_storage)


def _nothing_to_audit(selection: str, now: datetime) -> AuditResult:
    return AuditResult("", now, selection, finished_at=now, status="complete", nothing_to_audit=True)


def run_audit(
    ctx: ArchiveContext,
    opts: AuditOptions,
    progress: Progress = lambda s, d, t: None,
    stop: threading.Event | None = None,
    now: datetime | None = None,
) -> AuditResult:
    """Run one audit; never raises for what it finds (see :class:`AuditResult`), only when it cannot run."""
    audits = Audits(ctx.catalog)
    _check_ids(audits, ctx, opts.package_ids)
    if not opts.package_ids and is_fresh(ctx, audits):
        # clean, and nothing to record: no run, no ledger entry (the ledger is made by the first ingest)
        return _nothing_to_audit(opts.selection or ("due" if opts.due else "all"), now or utcnow())
    if opts.due:  # before a run starts: refuse when an interval is unknown, record those read from profiles
        fixity_intervals.intervals(ctx, audits, record=True)
    clock = (lambda: now) if now else utcnow
    ctx.ledger.check_writable()
    with audit_lock(ctx, shared=opts.shared):
        if not opts.shared:  # alone: a run still marked running is a dead process's
            close_stale_runs(ctx, audits, clock())
        selection = opts.selection or ("ids" if opts.package_ids else "due" if opts.due else "all")
        result = AuditResult(str(uuid.uuid4()), clock(), selection)
        result.options = run_options(
            opts.jobs, int(opts.max_seconds) if opts.max_seconds else None, opts.max_bytes or None
        )
        budget = Budget(opts.max_seconds, opts.max_bytes, stop or threading.Event())
        audits.start_run(
            result.run_id,
            result.started_at,
            selection,
            opts.jobs,
            int(opts.max_seconds) if opts.max_seconds else None,
            opts.max_bytes or None,
        )
        pool = CheckPool(opts.jobs, thread_name_prefix="audit") if opts.jobs > 1 else None
        try:
            _run(ctx, audits, opts, result, budget, pool, clock, progress)
        except BaseException as exc:
            result.status, result.stop_reason = "error", f"{type(exc).__name__}: {exc}"[:500]
            try:
                _finish(ctx, audits, result, clock, notify_trouble=False)
            except Exception:
                pass
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        result.status = "interrupted" if budget.interrupted else ("budget" if budget.reason else "complete")
        result.stop_reason = budget.reason
        _finish(ctx, audits, result, clock, notify_trouble=True)
    return result


def _keep(result: AuditResult, findings: list[AuditFinding]) -> None:
    room = KEEP_FINDINGS - len(result.findings)
    if room > 0:
        result.findings.extend(findings[:room])


def _run(
    ctx: ArchiveContext,
    audits: Audits,
    opts: AuditOptions,
    result: AuditResult,
    budget: Budget,
    pool: CheckPool | None,
    clock: Callable[[], datetime],
    progress: Progress,
) -> None:
    if not opts.package_ids:
        found = list(find_orphans(ctx, audits, clock()))
        if found:
            bad = sum(1 for f in found if f.is_failure)
            audits.record(result.run_id, found, [], None, {"failures": bad, "unchecked": len(found) - bad})
            result.failures += bad
            result.unchecked += len(found) - bad
            result.run_findings.extend(found)
            _keep(result, found)
    cutoffs = _cutoffs(ctx, audits, result.started_at) if opts.due else None
    default = result.started_at - timedelta(days=DEFAULT_INTERVAL_DAYS)
    stored = audits.selection_bytes(opts.package_ids, cutoffs, default)
    total = max(1, stored * len(ctx.all_storage))
    if opts.max_bytes:
        total = min(total, max(1, opts.max_bytes))
    meter = ByteMeter(progress, "auditing", total)  # "auditing bytes", as they are read

    for package_id in select(ctx, audits, opts, result.started_at, result.run_id):
        if budget.exhausted():
            break
        if not audits.exists(package_id):  # a given id found only in storage
            orphan = [
                finding(
                    package_id, s.name, "", "orphan", f"package folder {s.path_of(package_id)} is not in the catalog"
                )
                for s in ctx.all_storage
                if s.exists(package_id)
            ]
            audits.record(result.run_id, orphan, [], None, {"failures": len(orphan)})
            result.failures += len(orphan)
            result.run_findings.extend(orphan)
            _keep(result, orphan)
            continue
        checked = audit_package(ctx, audits, result.run_id, package_id, budget, pool, clock, on_bytes=meter.add)
        if checked is None:
            break
        _count(result, checked)
        if opts.repair and any(f.kind != "catalog-changed" for f in checked.failures):
            result.repairs.append(repair_package(ctx, audits, result.run_id, checked, clock))


def _count(result: AuditResult, checked: PackageAudit) -> None:
    result.packages += 1
    result.files += checked.files
    result.bytes += checked.bytes
    result.failures += len(checked.failures)
    result.unchecked += len(checked.findings) - len(checked.failures)
    _keep(result, checked.findings)


def _finish(
    ctx: ArchiveContext, audits: Audits, result: AuditResult, clock: Callable[[], datetime], notify_trouble: bool
) -> None:
    result.finished_at = clock()
    summary = result.summary()
    fault_point("audit.before-finish")
    try:
        ledgering.append(
            ctx, [(KIND_AUDIT_RUN, {"run": summary, "options": result.options, **findings_out(result.run_findings)})]
        )
    finally:
        audits.update_run(
            result.run_id,
            finished_at=result.finished_at,
            status=result.status,
            outcome=result.outcome,
            stop_reason=result.stop_reason,
        )
    if notify_trouble and result.outcome != "success":
        s = ctx.settings
        result.notified = notify(s.notify_webhook, s.notify_command, summary, [f.as_dict() for f in result.findings])
        if result.notified:
            audits.update_run(result.run_id, notified=result.notified)

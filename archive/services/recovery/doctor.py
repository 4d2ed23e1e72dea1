"""``archive doctor``: find what a crash left behind and settle it, storage being the truth.

Phases, each reported as :class:`Issue` data (never exceptions), one doctor at a time:

1. staging folders of processes that died (their lock is free): removed;
2. ledger entries not yet mirrored in the catalog (a crash between the two writes): mirrored;
3. packages in storage the catalog lacks, not claimed by a live ingest: settled by
   :func:`archive.services.recovery.settle.settle_uncatalogued` (catalogued from their METS once verified,
   or quarantined); catalogued packages missing from a storage root are reported (``archive
   repair`` restores them from a copy);
4. while no audit or repair runs: audit runs still marked ``running`` are closed as interrupted,
   and ledgered events of catalogued packages the catalog lacks (an audit killed between its
   ledger entry and its catalog record) are recorded, with their findings and fixity state;
5. packages ledgered at ingest but neither stored nor catalogued: a ``withdrawn`` entry closes them.

After 3, objects an upload to object storage left without a commit object are finished (a
catalogued package's copy) or removed (objects of no package).

Between 2 and 3, disposals past their commit point (the tombstone is in primary storage) are
finished; in 3, each catalogued package's unfinished version is settled or recorded
(:func:`archive.services.lifecycle.versions.finish_versions`).

Only phase 1 is cheap enough to run at the start of ``ingest``, ``audit``, ``repair``,
``scheduler`` and ``serve`` (:func:`clean_staging`). See docs/reliability.md.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from archive.catalog.audits import Audits
from archive.catalog.ledger_mirror import LedgerMirror
from archive.catalog.maintenance import Maintenance
from archive.errors import ArchiveError, NotFound, StorageError
from archive.ledger import parse_line
from archive.model import utcnow
from archive.services.audit.run import audit_lock, close_stale_runs
from archive.services.context import ArchiveContext
from archive.services.ledgering import event_in, findings_in, fixity_in
from archive.services.lifecycle.disposal import finish_disposals
from archive.services.lifecycle.versions import finish_versions
from archive.services.recovery.settle import DoctorReport, Issue, live_claims, settle_uncatalogued, withdraw
from archive.storage import staging as staging_area
from archive.storage.local import STAGING
from archive.storage.s3 import S3Storage

__all__ = ["DoctorReport", "Issue", "clean_staging", "live_claims", "run_doctor"]

#: what doctor did about each kind of unfinished version (see finish_versions)
_VERSION_ACTIONS = {"version-unrecorded": "recorded", "copy-behind": "replicated", "version-settled": "settled"}


def clean_staging(ctx: ArchiveContext, report: DoctorReport | None = None) -> DoctorReport:
    """Remove the staging folders of dead processes in every storage root (cheap: start-up safe)."""
    report = report or DoctorReport()
    for storage in ctx.all_storage:
        try:
            removed = staging_area.remove_dead(storage.root / STAGING, report.dry_run)
        except OSError as exc:
            report.unchecked.append(f"staging of {storage.name}: {exc.strerror or exc}")
            continue
        for item in removed:
            if "error" in item.claim:
                report.unchecked.append(
                    f"staging leftover {item.path.name} of {storage.name} could not be removed: {item.claim['error']}"
                )
                continue
            report.add(
                "staging-leftover", item.path.name, "staging folder of a process that died", "removed", storage.name
            )
    return report


def _sync_ledger(ctx: ArchiveContext, report: DoctorReport) -> None:
    if not ctx.ledger.path.exists():
        return
    behind = ctx.ledger.sync_mirror(LedgerMirror(ctx.catalog), report.dry_run)
    if behind:
        report.add(
            "ledger-mirror-behind",
            f"{behind} entries",
            "ledger entries missing from the catalog's mirror (a crash between the ledger write and the mirror)",
            "mirrored",
            "catalog",
        )


def _bucket_leftovers(ctx: ArchiveContext, report: DoctorReport) -> None:
    """Objects an upload to object storage left without a commit object (older than the grace
    period, and owned by no live process): a catalogued package's copy is finished from primary
    storage; objects of no package are removed (they were never a copy of anything kept)."""
    claimed = live_claims(ctx)
    grace = ctx.settings.orphan_grace_seconds
    for copy in ctx.object_replicas:
        if not copy.reachable():
            if ctx.catalog.count_packages():
                report.unchecked.append(f"object storage {copy.name} at {copy.root} cannot be reached")
            continue
        try:
            _leftovers_of(ctx, report, copy, claimed, grace)
        except StorageError as exc:  # the bucket went away meanwhile: the next doctor looks again
            report.unchecked.append(f"object storage {copy.name}: {exc.message}")


def _leftovers_of(ctx: ArchiveContext, report: DoctorReport, copy: S3Storage, claimed: set[str], grace: int) -> None:
    for pid, newest in copy.leftovers():
        if pid in claimed or time.time() - newest < grace:
            continue
        if ctx.catalog.exists(pid):
            if ctx.storage.exists(pid):
                if not report.dry_run:
                    copy.mirror(ctx.storage.version(pid))
                what, done = "its copy was cut short before its commit object", "finished from primary"
                report.add("copy-unfinished", pid, what, done, copy.name)
            else:  # kept: it may be the last bytes of the package (`archive audit --repair` decides)
                what = "its copy has no commit object and primary storage lacks the package"
                report.add("copy-unfinished", pid, what, "reported", copy.name)
            continue
        if not report.dry_run:
            copy.remove_package(pid)
        report.add("upload-leftover", pid, "objects of an upload cut short, of no package", "removed", copy.name)


def _audit_records(ctx: ArchiveContext, report: DoctorReport) -> None:
    """Stale runs and ledgered events the catalog lacks, only while no audit or repair runs (a live
    one is between its two writes, or still running its run, and finishes them itself)."""
    with ExitStack() as stack:
        try:
            stack.enter_context(audit_lock(ctx))
        except StorageError:
            report.checked["audit_running"] = 1  # checked again by the next doctor
            return
        for run_id in close_stale_runs(ctx, Audits(ctx.catalog), utcnow(), report.dry_run):
            report.add(
                "audit-run-stale",
                run_id,
                "audit run marked running but no audit is running",
                "closed as interrupted",
                "catalog",
            )
        _missing_events(ctx, report)


def _storage_vs_catalog(ctx: ArchiveContext, report: DoctorReport) -> None:
    audits = Audits(ctx.catalog)
    catalogued = 0
    settled: set[str] = set()
    for storage in ctx.all_storage:
        if not storage.reachable():
            if ctx.catalog.count_packages():
                report.unchecked.append(f"storage {storage.name} at {storage.root} is not a readable folder")
            continue
        ids = list(storage.iter_package_ids())
        report.checked[f"stored_{storage.name}"] = len(ids)
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            known = audits.known(batch)
            for pid in batch:
                if pid not in known and pid not in settled and storage.exists(pid):
                    settled.add(pid)
                    settle_uncatalogued(ctx, report, pid)
    claimed = live_claims(ctx)
    for pid in audits.iter_ids():
        catalogued += 1
        if pid not in claimed:  # a change still running owns its package's newest version
            for kind, message, where in finish_versions(ctx, pid, report.dry_run):
                report.add(kind, pid, message, _VERSION_ACTIONS.get(kind, "reported"), where)
        for storage in ctx.all_storage:
            if storage.reachable() and not storage.exists(pid):
                report.add(
                    "package-missing",
                    pid,
                    "catalogued but missing from this storage root; "
                    "`archive repair` restores it from a copy that verifies",
                    "reported",
                    storage.name,
                )
    report.checked["catalogued"] = catalogued


def _run_exists(audits: Audits, run_id: str) -> bool:
    try:
        audits.get_run(run_id)
    except NotFound:
        return False
    return True


def _missing_events(ctx: ArchiveContext, report: DoctorReport) -> None:
    maint, audits = Maintenance(ctx.catalog), Audits(ctx.catalog)
    for line in maint.missing_ledgered_events():
        entry = parse_line(line)
        body, pid = entry.body, entry.package_id or ""
        event = event_in(body.get("event"))
        if event is None:
            continue
        report.add(
            "event-missing",
            event.identifier,
            f"{event.type} event of package {pid} is in the ledger (entry {entry.seq}) but not in the catalog",
            "recorded",
            "catalog",
        )
        if report.dry_run:
            continue
        run_id = str(body.get("run") or "")
        findings = findings_in(body.get("findings")) if run_id and _run_exists(audits, run_id) else []
        state = fixity_in(pid, body.get("fixity")) if maint.last_event_seq(pid) == entry.seq else None
        audits.record(run_id if findings else "", findings, [(pid, event)], state, {})


def _dangling(ctx: ArchiveContext, report: DoctorReport) -> None:
    claimed = live_claims(ctx)
    for pid in Maintenance(ctx.catalog).dangling_ledgered_packages():
        if pid in claimed or any(s.exists(pid) for s in ctx.all_storage):
            continue
        report.add(
            "ledger-dangling",
            pid,
            "ledgered at ingest but neither stored nor catalogued (the ingest died while rolling back)",
            "withdrawn in the ledger",
            "ledger",
        )
        withdraw(ctx, report, pid, "archive doctor: ledgered at ingest, neither stored nor catalogued")


def _disposals(ctx: ArchiveContext, report: DoctorReport) -> None:
    """Disposals past their commit point (the tombstone in primary storage) that a crash left
    unfinished: the objects removed from every copy, the catalog rows replaced by the tombstone."""
    for pid, message in finish_disposals(ctx, report.dry_run):
        report.add("disposal-unfinished", pid, message, "finished", "storage")


PHASES: list[tuple[str, Callable[[ArchiveContext, DoctorReport], None]]] = [
    ("ledger mirror", _sync_ledger),
    ("disposals", _disposals),
    ("storage and catalog", _storage_vs_catalog),
    ("uploads to object storage", _bucket_leftovers),
    ("audit runs and ledgered events", _audit_records),
    ("ledger", _dangling),
]


@contextmanager
def _doctor_lock(ctx: ArchiveContext) -> Iterator[bool]:
    """One doctor at a time per archive home; yields False when another one holds it."""
    path = ctx.settings.home / "doctor.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def run_doctor(ctx: ArchiveContext, dry_run: bool = False) -> DoctorReport:
    """Every check, in order; one that cannot run is reported in ``unchecked`` and the rest go on."""
    report = DoctorReport(dry_run=dry_run)
    with _doctor_lock(ctx) as mine:
        if not mine:
            report.unchecked.append(f"another archive doctor is running (lock {ctx.settings.home / 'doctor.lock'})")
            return report
        clean_staging(ctx, report)
        for name, phase in PHASES:
            try:
                phase(ctx, report)
            except (ArchiveError, OSError) as exc:
                message = exc.message if isinstance(exc, ArchiveError) else (exc.strerror or str(exc))
                report.unchecked.append(f"{name}: {message}")
    return report

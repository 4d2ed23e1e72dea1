"""``archive doctor``: find what a crash left behind and settle it, storage being the truth.

Phases, each reported as :class:`Issue` data (never exceptions):

1. staging folders of processes that died (their lock is free): removed;
2. ledger entries not yet mirrored in the catalog (a crash between the two writes): mirrored;
3. audit runs still marked ``running`` while no audit holds the audit lock: closed as interrupted;
4. packages in storage the catalog lacks, not claimed by a live ingest: verified from their own
   files (METS, manifests, every payload byte, the ledger's token) and catalogued from their
   METS; one that does not verify, was withdrawn by its ingest, or duplicates a catalogued
   submission is moved to ``.quarantine/`` (never deleted); catalogued packages missing from a
   storage root are reported (``archive repair`` restores them from a copy);
5. ledgered events of catalogued packages the catalog lacks (an audit killed between its ledger
   entry and its catalog record): recorded, with their findings and fixity state;
6. packages ledgered at ingest but neither stored nor catalogued: a ``withdrawn`` entry closes them.

Only phase 1 is cheap enough to run at the start of ``ingest``, ``audit`` and ``serve``
(:func:`clean_staging`). See docs/reliability.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from archive.catalog.audits import Audits
from archive.catalog.ledger_mirror import LedgerMirror
from archive.catalog.maintenance import Maintenance
from archive.catalog.repository import AlreadyRecorded
from archive.errors import ArchiveError, NotFound, StorageError
from archive.faults import fault_point, register
from archive.ledger import KIND_WITHDRAWN, parse_line
from archive.model import utcnow
from archive.services import ledgering
from archive.services.audit import audit_lock, close_stale_runs
from archive.services.context import ArchiveContext
from archive.services.ledger_codec import event_in, findings_in, fixity_in
from archive.services.replicate import replicate_package
from archive.services.stored import StoredPackage, read_stored
from archive.storage import LocalStorage, package_relpath
from archive.storage import staging as staging_area
from archive.storage.local import STAGING

register("doctor.before-catalogue")


@dataclass(frozen=True)
class Issue:
    """One thing found: ``kind`` (see docs/reliability.md), what, where, and what was done."""

    kind: str
    subject: str
    message: str
    action: str  # removed, mirrored, closed, catalogued, replicated, quarantined, recorded, withdrawn, reported
    where: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "where": self.where, "message": self.message,
                "action": self.action}


@dataclass
class DoctorReport:
    dry_run: bool = False
    issues: list[Issue] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # what could not be checked, and why
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        """0 healthy, 1 something found (and settled or reported), 3 something could not be checked."""
        return 3 if self.unchecked else (1 if self.issues else 0)

    def add(self, kind: str, subject: str, message: str, action: str, where: str = "") -> None:
        self.issues.append(Issue(kind, subject, message, f"would be {action}" if self.dry_run else action, where))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.exit_status == 0, "exit_status": self.exit_status, "dry_run": self.dry_run,
                "checked": self.checked, "issues": [i.as_dict() for i in self.issues], "unchecked": self.unchecked}


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
            report.add("staging-leftover", item.path.name, "staging folder of a process that died", "removed",
                       storage.name)
    return report


def live_claims(ctx: ArchiveContext) -> set[str]:
    """Package ids that live ingests (or replications) are storing right now."""
    return {item.package for s in ctx.all_storage for item in staging_area.survey(s.root / STAGING)
            if item.live and item.package}


def _sync_ledger(ctx: ArchiveContext, report: DoctorReport) -> None:
    if not ctx.ledger.path.exists():
        return
    behind = ctx.ledger.sync_mirror(LedgerMirror(ctx.catalog), report.dry_run)
    if behind:
        report.add("ledger-mirror-behind", f"{behind} entries", "ledger entries missing from the catalog's mirror "
                   "(a crash between the ledger write and the mirror)", "mirrored", "catalog")


def _close_runs(ctx: ArchiveContext, report: DoctorReport) -> None:
    try:
        with audit_lock(ctx):
            for run_id in close_stale_runs(ctx, Audits(ctx.catalog), utcnow(), report.dry_run):
                report.add("audit-run-stale", run_id, "audit run marked running but no audit is running",
                           "closed as interrupted", "catalog")
    except StorageError:
        report.checked["audit_running"] = 1  # a live audit holds the lock: its run is not stale


def _withdraw(ctx: ArchiveContext, report: DoctorReport, package_id: str, reason: str) -> None:
    if not report.dry_run:
        ledgering.append(ctx, [(KIND_WITHDRAWN, {"package": package_id, "reason": reason[:500]})])


def _quarantine(ctx: ArchiveContext, report: DoctorReport, package_id: str, kind: str, why: str,
                ledgered: bool, copies: list[LocalStorage]) -> None:
    label = f"doctor-{utcnow():%Y%m%dT%H%M%SZ}"
    for storage in copies:
        if not report.dry_run:
            storage.quarantine_package(package_id, label)
        report.add(kind, package_id, why, f"quarantined in {storage.root}/.quarantine/{package_id}/{label}",
                   storage.name)
    if ledgered and not Maintenance(ctx.catalog).withdrawn(package_id):
        _withdraw(ctx, report, package_id, f"archive doctor: {why}")


def _read_copies(ctx: ArchiveContext, package_id: str) -> dict[str, StoredPackage | str]:
    out: dict[str, StoredPackage | str] = {}
    for storage in ctx.all_storage:
        if storage.exists(package_id):
            try:
                out[storage.name] = read_stored(storage.path_of(package_id), package_id, True, ctx.settings.workers)
            except ArchiveError as exc:
                out[storage.name] = exc.message
    return out


def settle_uncatalogued(ctx: ArchiveContext, report: DoctorReport, package_id: str) -> None:
    """Catalogue (or quarantine) one stored package the catalog lacks, unless a live ingest owns it."""
    if package_id in live_claims(ctx):
        report.checked["in_progress"] = report.checked.get("in_progress", 0) + 1
        return
    if ctx.catalog.exists(package_id):  # its ingest committed meanwhile
        return
    by_name = {s.name: s for s in ctx.all_storage}
    token = LedgerMirror(ctx.catalog).package_token(package_id)
    copies = _read_copies(ctx, package_id)
    good = {n: c for n, c in copies.items()
            if isinstance(c, StoredPackage) and not c.problems and token in (None, c.token)}
    held = [by_name[n] for n in copies]
    if not good:
        why = "; ".join(f"{n}: {c if isinstance(c, str) else '; '.join(c.problems[:5]) or 'differs from the ledger'}"
                        for n, c in copies.items())
        _quarantine(ctx, report, package_id, "damaged-package", f"stored but not catalogued, and does not verify "
                    f"({why})", token is not None, held)
        return
    source_name, stored = next(iter(good.items()))
    pkg = stored.package
    existing = ctx.catalog.find_by_key(pkg.idempotency_key) if pkg.idempotency_key else None
    if existing and existing != package_id:
        _quarantine(ctx, report, package_id, "duplicate-package", f"stored but not catalogued: the same submission "
                    f"as catalogued package {existing}", token is not None, held)
        return
    if Maintenance(ctx.catalog).withdrawn(package_id):
        _quarantine(ctx, report, package_id, "withdrawn-package", "stored but not catalogued: its ingest withdrew it",
                    True, held)
        return
    bad = [by_name[n] for n in copies if n not in good]
    if bad:
        _quarantine(ctx, report, package_id, "damaged-copy", "this copy does not verify; a good copy is kept",
                    False, bad)
    for storage in ctx.all_storage:
        if storage.name not in good:  # created if need be, as an ingest does
            if not report.dry_run:
                replicate_package(by_name[source_name].path_of(package_id), storage, package_id, pkg.files,
                                  stored.tag_digests)
            report.add("copy-missing", package_id, f"copied from {source_name}, every file verified", "replicated",
                       storage.name)
    report.add("uncatalogued-package", package_id, f"stored but not catalogued (verified: METS, manifests, "
               f"{len(pkg.files)} files)", "catalogued from its METS", source_name)
    if report.dry_run:
        return
    if token is None:  # write-ahead, as an ingest does
        ledgering.append(ctx, [ledgering.package_item(pkg, stored.tag_digests),
                               *ledgering.event_items(pkg.id, pkg.events)])
    fault_point("doctor.before-catalogue")
    try:
        ctx.catalog.record_package(pkg, package_relpath(package_id), stored.mets_sha256, stored.tag_digests)
    except AlreadyRecorded as dup:
        report.issues.pop()
        _quarantine(ctx, report, package_id, "duplicate-package", f"the same submission as package {dup.existing}, "
                    "catalogued meanwhile", True, [s for s in ctx.all_storage if s.exists(package_id)])


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
            batch = ids[start:start + 500]
            known = audits.known(batch)
            for pid in batch:
                if pid not in known and pid not in settled and storage.exists(pid):
                    settled.add(pid)
                    settle_uncatalogued(ctx, report, pid)
    for pid in audits.iter_ids():
        catalogued += 1
        for storage in ctx.all_storage:
            if storage.reachable() and not storage.exists(pid):
                report.add("package-missing", pid, "catalogued but missing from this storage root; "
                           "`archive repair` restores it from a copy that verifies", "reported", storage.name)
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
        report.add("event-missing", event.identifier, f"{event.type} event of package {pid} is in the ledger "
                   f"(entry {entry.seq}) but not in the catalog", "recorded", "catalog")
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
        report.add("ledger-dangling", pid, "ledgered at ingest but neither stored nor catalogued (the ingest died "
                   "while rolling back)", "withdrawn in the ledger", "ledger")
        _withdraw(ctx, report, pid, "archive doctor: ledgered at ingest, neither stored nor catalogued")


PHASES: list[tuple[str, Callable[[ArchiveContext, DoctorReport], None]]] = [
    ("ledger mirror", _sync_ledger), ("audit runs", _close_runs), ("storage and catalog", _storage_vs_catalog),
    ("ledgered events", _missing_events), ("ledger", _dangling)]


def run_doctor(ctx: ArchiveContext, dry_run: bool = False) -> DoctorReport:
    """Every check, in order; one that cannot run is reported in ``unchecked`` and the rest go on."""
    report = clean_staging(ctx, DoctorReport(dry_run=dry_run))
    for name, phase in PHASES:
        try:
            phase(ctx, report)
        except (ArchiveError, OSError) as exc:
            message = exc.message if isinstance(exc, ArchiveError) else (exc.strerror or str(exc))
            report.unchecked.append(f"{name}: {message}")
    return report

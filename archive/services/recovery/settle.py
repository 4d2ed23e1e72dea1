"""Settle one package that storage holds and the catalog lacks (``archive doctor``'s phase 3).

Storage is the truth: a copy that verifies from its own files is catalogued from its METS (and
copied to the storage roots that lack it); what does not verify, was withdrawn by its ingest, or
duplicates a catalogued submission goes to the quarantine (``extensions/archive-quarantine/``),
never deleted. A package a live ingest has claimed (:mod:`archive.storage.staging`) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.catalog.ledger_mirror import LedgerMirror
from archive.catalog.maintenance import Maintenance
from archive.catalog.repository import AlreadyRecorded
from archive.errors import ArchiveError, StorageError
from archive.faults import fault_point, register
from archive.ledger import KIND_WITHDRAWN
from archive.model import utcnow
from archive.services import ledgering
from archive.services.audit.intervals import profile_interval
from archive.services.context import ArchiveContext
from archive.services.copies import replicate_package
from archive.services.recovery.stored import StoredPackage, read_stored
from archive.storage import LocalStorage, package_relpath
from archive.storage import staging as staging_area
from archive.storage.local import QUARANTINE, STAGING

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
        return {
            "kind": self.kind,
            "subject": self.subject,
            "where": self.where,
            "message": self.message,
            "action": self.action,
        }


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
        return {
            "ok": self.exit_status == 0,
            "exit_status": self.exit_status,
            "dry_run": self.dry_run,
            "checked": self.checked,
            "issues": [i.as_dict() for i in self.issues],
            "unchecked": self.unchecked,
        }


def live_claims(ctx: ArchiveContext) -> set[str]:
    """Package ids that live ingests (or replications) are storing right now."""
    return {
        item.package
        for s in ctx.all_storage
        for item in staging_area.survey(s.root / STAGING)
        if item.live and item.package
    }


def withdraw(ctx: ArchiveContext, report: DoctorReport, package_id: str, reason: str) -> None:
    if not report.dry_run:
        ledgering.append(ctx, [(KIND_WITHDRAWN, {"package": package_id, "reason": reason[:500]})])


def _quarantine(
    ctx: ArchiveContext,
    report: DoctorReport,
    package_id: str,
    kind: str,
    why: str,
    ledgered: bool,
    copies: list[LocalStorage],
) -> None:
    label = f"doctor-{utcnow():%Y%m%dT%H%M%SZ}"
    for storage in copies:
        if not report.dry_run:
            storage.quarantine_package(package_id, label)
        report.add(
            kind, package_id, why, f"quarantined in {storage.root}/{QUARANTINE}/{package_id}/{label}", storage.name
        )
    if not copies or kind not in ("duplicate-package", "withdrawn-package"):
        return  # a damaged package's bucket copy may be its last good one: audits and repair judge it
    for copy in ctx.object_replicas:  # a copy of what is kept in quarantine above: not a package of its own
        try:
            if copy.exists(package_id) or any(True for _ in copy.keys(package_id)):
                if not report.dry_run:
                    copy.remove_package(package_id)
                report.add(kind, package_id, why, "removed (the folder copy is kept in quarantine)", copy.name)
        except StorageError as exc:
            report.unchecked.append(f"object storage {copy.name}: {exc.message}")
    if ledgered and not Maintenance(ctx.catalog).withdrawn(package_id):
        withdraw(ctx, report, package_id, f"archive doctor: {why}")


def _read_copies(ctx: ArchiveContext, package_id: str) -> dict[str, StoredPackage | str]:
    out: dict[str, StoredPackage | str] = {}
    for storage in ctx.all_storage:
        if storage.exists(package_id):
            try:
                out[storage.name] = read_stored(storage.version(package_id), package_id, True, ctx.settings.workers)
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
    good = {
        n: c for n, c in copies.items() if isinstance(c, StoredPackage) and not c.problems and token in (None, c.token)
    }
    held = [by_name[n] for n in copies]
    if not good:
        why = "; ".join(
            f"{n}: {c if isinstance(c, str) else '; '.join(c.problems[:5]) or 'differs from the ledger'}"
            for n, c in copies.items()
        )
        _quarantine(
            ctx,
            report,
            package_id,
            "damaged-package",
            f"stored but not catalogued, and does not verify ({why})",
            token is not None,
            held,
        )
        return
    source_name, stored = next(iter(good.items()))
    pkg = stored.package
    existing = ctx.catalog.find_by_key(pkg.idempotency_key) if pkg.idempotency_key else None
    if existing and existing != package_id:
        _quarantine(
            ctx,
            report,
            package_id,
            "duplicate-package",
            f"stored but not catalogued: the same submission as catalogued package {existing}",
            token is not None,
            held,
        )
        return
    if Maintenance(ctx.catalog).withdrawn(package_id):
        _quarantine(
            ctx,
            report,
            package_id,
            "withdrawn-package",
            "stored but not catalogued: its ingest withdrew it",
            True,
            held,
        )
        return
    bad = [by_name[n] for n in copies if n not in good]
    if bad:
        _quarantine(
            ctx, report, package_id, "damaged-copy", "this copy does not verify; a good copy is kept", False, bad
        )
    for storage in ctx.all_storage:
        if storage.name not in good:  # created if need be, as an ingest does
            if not report.dry_run:
                replicate_package(
                    by_name[source_name].version(package_id), storage, package_id, pkg.files, stored.tag_digests
                )
            report.add(
                "copy-missing",
                package_id,
                f"copied from {source_name}, every file verified",
                "replicated",
                storage.name,
            )
    for copy in ctx.object_replicas:  # what an ingest cut short did not upload (what is there is kept)
        try:
            if copy.exists(package_id) and copy.head(package_id) >= by_name[source_name].head(package_id):
                continue
            if not report.dry_run:
                copy.mirror(by_name[source_name].version(package_id))
        except StorageError as exc:  # catalogued all the same: audits report the copy, repair makes it
            report.unchecked.append(f"object storage {copy.name}: package {package_id} not copied: {exc.message}")
            continue
        checked = f"copied from {source_name}, every file checked"
        report.add("copy-missing", package_id, checked, "replicated", copy.name)
    report.add(
        "uncatalogued-package",
        package_id,
        f"stored but not catalogued (verified: METS, manifests, {len(pkg.files)} files)",
        "catalogued from its METS",
        source_name,
    )
    if report.dry_run:
        return
    if pkg.fixity_interval_days is None:  # the METS does not carry it; unknown profile: audits --due refuse
        pkg.fixity_interval_days = profile_interval(ctx, pkg.profile_id)
    if token is None:  # write-ahead, as an ingest does
        ledgering.append(
            ctx, [ledgering.package_item(pkg, stored.tag_digests), *ledgering.event_items(pkg.id, pkg.events)]
        )
    fault_point("doctor.before-catalogue")
    try:
        ctx.catalog.record_package(pkg, package_relpath(package_id), stored.mets_sha256, stored.tag_digests)
    except AlreadyRecorded as dup:
        report.issues.pop()
        _quarantine(
            ctx,
            report,
            package_id,
            "duplicate-package",
            f"the same submission as package {dup.existing}, catalogued meanwhile",
            True,
            [s for s in ctx.all_storage if s.exists(package_id)],
        )

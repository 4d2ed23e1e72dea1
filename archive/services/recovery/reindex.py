"""``archive reindex``: rebuild the catalog from storage alone (bags, METS, the ledger).

1. the ledger (``<storage>/ledger/ledger.jsonl``) is mirrored into the catalog again, and read for
   each package's content token, ``withdrawn`` packages and every audit run;
2. every package folder (in any storage root; a package only a bucket in object storage still
   holds is downloaded from it into a temporary folder first) is read from its METS and tag files
   (:func:`archive.services.recovery.stored.read_stored`) and recorded exactly as an ingest records it:
   package, files and formats, descriptive metadata and its search index, agents, ingest events;
3. the ledger is read again for what happened after ingest: audit and repair events with their
   findings and each package's latest fixity state; then the audit runs with their own findings.

The result equals the catalog that was lost (``archive.catalog.dump``; tested in
tests/test_reindex.py), except for what storage never held: API tokens, the access log, incidents
and which channels an audit notification reached. Run it with the archive quiet (no ingest,
audit or API writing meanwhile).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.catalog.disposals import Disposals
from archive.catalog.ledger_mirror import LedgerMirror
from archive.catalog.maintenance import Maintenance
from archive.catalog.records import AuditRun, FixityState
from archive.errors import ArchiveError
from archive.ledger import (
    KIND_AUDIT_RUN,
    KIND_DISPOSAL,
    KIND_EVENT,
    KIND_PACKAGE,
    KIND_VERSION,
    KIND_WITHDRAWN,
    LedgerEntry,
    LedgerFormatError,
    parse_line,
)
from archive.model import Package
from archive.services.audit.intervals import profile_interval
from archive.services.context import ArchiveContext
from archive.services.ledgering import event_in, findings_in, fixity_in, run_in
from archive.services.lifecycle.disposal import stored_tombstones
from archive.services.lifecycle.versions import Known, as_stored
from archive.services.progress import Progress
from archive.services.recovery.stored import StoredPackage, read_stored
from archive.storage import LocalStorage, package_relpath
from archive.storage.local import StoredVersion
from archive.storage.s3 import S3Storage

BATCH = 500


class CatalogNotEmpty(ArchiveError):
    """``archive reindex`` rebuilds into an empty catalog unless told to wipe it (``--force``)."""

    code = "E710"


@dataclass
class ReindexReport:
    packages: int = 0
    files: int = 0
    events: int = 0
    audit_runs: int = 0
    findings: int = 0
    ledger_entries: int = 0
    tombstones: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)  # {"package", "message"}

    @property
    def exit_status(self) -> int:
        return 1 if self.problems else 0

    def problem(self, package_id: str, message: str) -> None:
        self.problems.append({"package": package_id, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "packages": self.packages,
            "files": self.files,
            "events": self.events,
            "audit_runs": self.audit_runs,
            "findings": self.findings,
            "ledger_entries": self.ledger_entries,
            "tombstones": self.tombstones,
            "problems": self.problems,
        }


@dataclass
class _LedgerFacts:
    tokens: dict[str, str] = field(default_factory=dict)
    intervals: dict[str, int] = field(default_factory=dict)  # package -> fixity interval recorded at ingest
    withdrawn: set[str] = field(default_factory=set)
    runs: dict[str, AuditRun] = field(default_factory=dict)
    run_findings: dict[str, list[Any]] = field(default_factory=dict)
    first_seen: dict[str, datetime] = field(default_factory=dict)  # run id -> time of its first entry
    disposals: list[dict[str, Any]] = field(default_factory=list)  # disposal entries' bodies, in order


def _entries(ctx: ArchiveContext, report: ReindexReport) -> Iterator[LedgerEntry]:
    for number, line in ctx.ledger.lines():
        try:
            yield parse_line(line)
        except LedgerFormatError as exc:
            report.problem("", f"ledger line {number} is not an entry ({exc}); run `archive ledger verify`")


def _read_ledger(ctx: ArchiveContext, report: ReindexReport) -> _LedgerFacts:
    facts = _LedgerFacts()
    for entry in _entries(ctx, report):
        report.ledger_entries += 1
        pid = entry.package_id or ""
        if entry.kind in (KIND_PACKAGE, KIND_VERSION) and isinstance(entry.body.get("token"), str):
            facts.tokens[pid] = entry.body["token"]
            days = entry.body.get("fixity_interval_days")
            if isinstance(days, int) and not isinstance(days, bool) and days > 0:
                facts.intervals[pid] = days
        elif entry.kind == KIND_WITHDRAWN:
            facts.withdrawn.add(pid)
        elif entry.kind == KIND_DISPOSAL:
            facts.disposals.append(dict(entry.body))
        elif entry.kind == KIND_AUDIT_RUN and (run := run_in(entry.body)) is not None:
            facts.runs[run.id] = run
            facts.run_findings[run.id] = findings_in(entry.body.get("findings"))
        elif entry.kind == KIND_EVENT and entry.body.get("run"):
            facts.first_seen.setdefault(str(entry.body["run"]), datetime.fromisoformat(entry.time))
    return facts


def _packages(
    ctx: ArchiveContext, facts: _LedgerFacts, verify: bool, report: ReindexReport, progress: Progress
) -> set[str]:
    ids = sorted({pid for s in ctx.audited_copies if s.reachable() for pid in s.iter_package_ids()})
    done: set[str] = set()
    disposed = _tombstones(ctx, report)
    for i, pid in enumerate(ids, 1):
        progress("packages", i, len(ids))
        if pid in disposed:
            report.problem(
                pid, "disposed of (its tombstone is in storage) but not removed: `archive doctor` finishes it"
            )
            continue
        if pid in facts.withdrawn:
            report.problem(pid, "stored, but its ingest withdrew it: not catalogued; `archive doctor` quarantines it")
            continue
        versions: list[tuple[StoredVersion, StoredPackage]] = []
        why: list[str] = []
        for storage in ctx.all_storage:
            if storage.exists(pid):
                try:
                    versions = _read_versions(storage, pid, verify, ctx.settings.workers)
                    break
                except ArchiveError as exc:
                    why.append(f"{storage.name}: {exc.message}")
        with ExitStack() as fetched:
            for copy in ctx.object_replicas if not versions else []:  # a package only a bucket still holds
                try:
                    if copy.exists(pid):
                        folder = fetched.enter_context(tempfile.TemporaryDirectory(prefix="archive-reindex-"))
                        versions = _read_versions(_fetched(copy, pid, Path(folder)), pid, verify, ctx.settings.workers)
                        break
                except ArchiveError as exc:
                    why.append(f"{copy.name}: {exc.message}")
            if not versions:
                report.problem(pid, "no copy has a readable METS: not catalogued (" + "; ".join(why) + ")")
                continue
            _record(ctx, facts, report, pid, versions)
            done.add(pid)
    return done


def _fetched(copy: S3Storage, pid: str, folder: Path) -> LocalStorage:
    """The package's object from a bucket, downloaded into a storage root of its own in ``folder``
    (every file, as a folder copy holds it: what recovery from a bucket alone costs)."""
    local = LocalStorage(folder, copy.name)
    base = folder / package_relpath(pid)
    for rel, _ in copy.keys(pid):
        target = base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        copy.download(pid, rel, target)
    return local


def _record(
    ctx: ArchiveContext,
    facts: _LedgerFacts,
    report: ReindexReport,
    pid: str,
    versions: list[tuple[StoredVersion, StoredPackage]],
) -> None:
    """One package's versions, read from a copy, recorded as its ingest and changes recorded them."""
    for number, (_, stored) in enumerate(versions, 1):
        for p in stored.problems[:20]:
            report.problem(pid, p if len(versions) == 1 else f"version {number}: {p}")
    token = facts.tokens.get(pid)
    if token is not None and token != versions[-1][1].token:
        report.problem(
            pid, "its files or METS differ from what the ledger recorded for it (the next audit reports E609)"
        )
    first_version, first = versions[0]
    as_stored(first_version, first)  # who made version 1 (its kind is always ingest)
    _restore_interval(ctx, facts, first.package, report)
    ctx.catalog.record_package(first.package, package_relpath(pid), first.mets_sha256, first.tag_digests)
    previous = first.package
    for stored_version, stored in versions[1:]:
        pkg, kind, reason = as_stored(stored_version, stored)
        pkg.fixity_interval_days = first.package.fixity_interval_days
        events, agents = Known.of(previous).new_in(pkg)
        number = stored_version.number
        ctx.catalog.record_version(pkg, number, kind, reason, stored.mets_sha256, stored.tag_digests, events, agents)
        previous = pkg
    report.packages += 1
    report.files += len(previous.files)
    report.events += len(previous.events)


def _tombstones(ctx: ArchiveContext, report: ReindexReport) -> set[str]:
    """Every tombstone the storage roots keep, recorded again; the disposed packages' ids."""
    found: dict[str, dict[str, Any]] = {}
    for storage in ctx.all_storage:
        if storage.reachable():
            for document in stored_tombstones(storage):
                found.setdefault(str(document["package"]), document)
    Disposals(ctx.catalog).restore(list(found.values()))
    report.tombstones = len(found)
    return set(found)


def _proposals(ctx: ArchiveContext, facts: _LedgerFacts) -> None:
    """Disposal proposals as the ledger recorded them: proposed, approved, withdrawn, executed."""
    made: dict[str, dict[str, Any]] = {}
    for body in facts.disposals:
        pid, action = str(body.get("proposal", "")), body.get("action")
        if action == "proposed":
            made[pid] = {
                "id": pid,
                "created_at": datetime.fromisoformat(str(body["at"])),
                "proposer": str(body.get("by", "")),
                "reason": str(body.get("reason", "")),
                "state": "proposed",
                "package_ids": list(body.get("ids") or []),
                "approver": "",
                "approved_at": None,
                "executed_at": None,
                "note": "",
            }
        elif pid in made and action == "approved":
            made[pid].update(state="approved", approver=str(body.get("by", "")), note=str(body.get("reason", "")))
            made[pid]["approved_at"] = datetime.fromisoformat(str(body["at"]))
        elif pid in made and action == "withdrawn":
            made[pid].update(state="withdrawn", note=str(body.get("reason", "")))
        elif pid in made and action == "completed":
            made[pid].update(state="executed", executed_at=datetime.fromisoformat(str(body["at"])))
    Disposals(ctx.catalog).restore_proposals(list(made.values()))


def _read_versions(
    storage: LocalStorage, pid: str, verify: bool, workers: int
) -> list[tuple[StoredVersion, StoredPackage]]:
    """Every version of a stored package, read and checked from its own bag."""
    head = storage.head(pid)
    out = []
    for number in range(1, head + 1):
        version = storage.version(pid, number)
        out.append((version, read_stored(version, pid, verify, workers)))
    return out


def _restore_interval(ctx: ArchiveContext, facts: _LedgerFacts, pkg: Package, report: ReindexReport) -> None:
    """The fixity interval ingest recorded (the ledger), else that of the profile the METS names."""
    days = facts.intervals.get(pkg.id) or profile_interval(ctx, pkg.profile_id)
    if days is None:
        report.problem(
            pkg.id,
            f"its fixity interval is unknown: the ledger does not record it and profile "
            f"{pkg.profile_id!r} is not found (looked in {ctx.profiles.searched()}); `archive audit "
            "--due` refuses until the setting profiles_dirs names the profile's folder",
        )
    pkg.fixity_interval_days = days


def _runs(maint: Maintenance, facts: _LedgerFacts, report: ReindexReport) -> None:
    runs = list(facts.runs.values())
    for run_id, first in facts.first_seen.items():
        if run_id not in facts.runs:  # killed before its summary, and never closed by doctor
            runs.append(
                AuditRun(
                    run_id,
                    first,
                    None,
                    "interrupted",
                    "",
                    "",
                    1,
                    None,
                    None,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    "no summary in the ledger: the run did not finish",
                    "",
                )
            )
    maint.add_runs(sorted(runs, key=lambda r: (r.started_at, r.id)))
    report.audit_runs = len(runs)


def _later_events(
    ctx: ArchiveContext, maint: Maintenance, facts: _LedgerFacts, catalogued: set[str], report: ReindexReport
) -> None:
    fixity: dict[str, FixityState] = {}
    events: list[tuple[str, Any]] = []
    findings: list[tuple[str, Any]] = []

    def flush() -> None:
        known = maint.existing_event_ids(e.identifier for _, e in events)
        fresh = [(pid, e) for pid, e in events if e.identifier not in known]
        maint.add_batch(fresh, findings)
        report.events += len(fresh)
        report.findings += len(findings)
        events.clear()
        findings.clear()

    for entry in _entries(ctx, ReindexReport()):
        pid = entry.package_id or ""
        if entry.kind != KIND_EVENT or pid not in catalogued:
            continue
        event = event_in(entry.body.get("event"))
        if event is None:
            continue
        events.append((pid, event))
        run_id = str(entry.body.get("run") or "")
        if run_id:
            findings.extend((run_id, f) for f in findings_in(entry.body.get("findings")))
        state = fixity_in(pid, entry.body.get("fixity"))
        if state is not None:
            fixity[pid] = state
        if len(events) >= BATCH:
            flush()
    for run_id, items in facts.run_findings.items():
        findings.extend((run_id, f) for f in items)
    flush()
    maint.put_fixity(list(fixity.values()))


def reindex(
    ctx: ArchiveContext, force: bool = False, verify: bool = False, progress: Progress = lambda s, d, t: None
) -> ReindexReport:
    """Rebuild the catalog from storage; raises CatalogNotEmpty unless it is empty or ``force``."""
    maint = Maintenance(ctx.catalog)
    if not maint.is_empty():
        if not force:
            counts = ", ".join(f"{n} {t}" for t, n in maint.counts().items() if n)
            raise CatalogNotEmpty(
                f"the catalog is not empty ({counts}); reindex rebuilds an empty catalog: give "
                "--force to delete what a rebuild restores and rebuild it"
            )
        maint.wipe()
    report = ReindexReport()
    if ctx.ledger.path.exists():
        ctx.ledger.sync_mirror(LedgerMirror(ctx.catalog))
    facts = _read_ledger(ctx, report)
    catalogued = _packages(ctx, facts, verify, report, progress)
    _proposals(ctx, facts)
    _runs(maint, facts, report)
    _later_events(ctx, maint, facts, catalogued, report)
    return report

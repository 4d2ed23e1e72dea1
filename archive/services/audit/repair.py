"""Repair: replace damaged or missing files of one copy with bytes from a copy that still verifies.

Every byte copied in is verified against the catalog's digests while copying; the damaged entry
is moved to ``<root>/.quarantine/`` (kept as evidence), never deleted; the repaired copy is then
checked again. Nothing changes for a file no other copy holds intact: that is said plainly.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.audit.budget import Budget
from archive.audit.check import OCFL_STRUCTURE, CopyResult, Expected, check_copy
from archive.audit.findings import REPAIRABLE, AuditFinding
from archive.catalog.audits import Audits
from archive.catalog.records import FixityState, PackageRecord
from archive.errors import ArchiveError
from archive.faults import fault_point, register
from archive.model import EVENT_REPLICATION, OUTCOME_FAILURE, OUTCOME_SUCCESS, Event
from archive.services import ledgering
from archive.services.audit.package import (
    AGENTS,
    CopyChecks,
    PackageAudit,
    check_copies,
    copy_entries,
    copy_source,
    fixity_event,
)
from archive.services.context import ArchiveContext
from archive.services.ledgering import fixity_out
from archive.storage import LocalStorage
from archive.storage.local import QUARANTINE
from archive.storage.s3 import S3Storage

#: a copy as repair sees it: a storage root on disk or in object storage
Copy = LocalStorage | S3Storage

register("repair.before-record")


@dataclass
class RepairResult:
    package_id: str
    restored: list[dict[str, str]] = field(default_factory=list)  # copy, path, source
    quarantined: list[dict[str, str]] = field(default_factory=list)  # copy, path
    unrepairable: list[dict[str, str]] = field(default_factory=list)  # copy, path, reason
    remaining: list[AuditFinding] = field(default_factory=list)  # failures after the repair

    @property
    def changed(self) -> bool:
        return bool(self.restored or self.quarantined)

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package_id,
            "restored": self.restored,
            "quarantined": self.quarantined,
            "unrepairable": self.unrepairable,
            "remaining": [f.as_dict() for f in self.remaining],
        }


def _entries(rec: PackageRecord, checks: CopyChecks, by_name: dict[str, Copy], damaged: str) -> list[Expected]:
    """The entries of the package located through the inventory of a copy that verifies (content
    paths are the same in every copy: each copy's versions are made alike)."""
    ordered = sorted(by_name, key=lambda n: (n == damaged, not isinstance(checks.get(n), CopyResult)))
    for name in ordered:
        entries, problems = copy_entries(by_name[name], rec)
        if not problems:
            return entries
    return copy_entries(by_name[ordered[0]], rec)[0]


def _structure(folder: Path) -> list[str]:
    """An OCFL object's own files: declaration, inventories and sidecars (root and every version)."""
    out = []
    for dirpath, _, names in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        for name in names:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if OCFL_STRUCTURE.fullmatch(rel):
                out.append(rel)
    return sorted(out)


def _good(checks: CopyChecks, path: str, exclude: str) -> str | None:
    for name, check in checks.items():
        if name != exclude and isinstance(check, CopyResult) and path in check.verified:
            return name
    return None


def _fresh_checks(ctx: ArchiveContext, rec: PackageRecord) -> tuple[CopyChecks, list[AuditFinding]]:
    scratch = PackageAudit(rec.id)
    check_copies(ctx, rec, Budget(), None, (0, None), scratch, lambda o: None)
    return scratch.checks, scratch.findings


@contextmanager
def _scratch(storage: Copy) -> Iterator[Path]:
    """A folder for bytes fetched from object storage on their way into ``storage``: its own
    staging for a folder (same file system, locked, removed after), a temporary folder else."""
    if isinstance(storage, LocalStorage):
        staging = storage.new_staging("repair-fetch")
        try:
            yield staging
        finally:
            storage.discard(staging)
        return
    with tempfile.TemporaryDirectory(prefix="archive-repair-") as tmp:
        yield Path(tmp)


def _readable(copy: Copy, package_id: str, location: str, scratch: Path) -> Path:
    """A file of a copy as a path to read: where it is on disk, or fetched from object storage into ``scratch``."""
    if isinstance(copy, LocalStorage):
        return copy.path_of(package_id) / location
    fetched = scratch / uuid.uuid4().hex
    copy.download(package_id, location, fetched)
    return fetched


def _fix_copy(
    storage: Copy,
    rec: PackageRecord,
    problems: list[AuditFinding],
    checks: CopyChecks,
    by_name: dict[str, Copy],
    label: str,
    result: RepairResult,
) -> list[str]:
    """Restore or quarantine what ``problems`` name in one copy; return the payload paths touched."""
    entries = {e.path: e for e in _entries(rec, checks, by_name, storage.name)}
    if checks.get(storage.name) == "missing":
        return _rebuild(storage, rec, entries, checks, by_name, result)
    todo = sorted({f.path for f in problems if f.kind != "extra"})
    touched = []
    for path in todo:
        source = _good(checks, path, storage.name)
        if source is None:
            result.unrepairable.append(
                {"copy": storage.name, "path": path, "reason": "no other copy of this file still verifies"}
            )
            continue
        e = entries[path]
        try:
            with _scratch(storage) as scratch:
                readable = _readable(by_name[source], rec.id, e.location, scratch)
                storage.restore_file(rec.id, e.location, readable, e.digests, e.size, label)
        except ArchiveError as exc:
            result.unrepairable.append({"copy": storage.name, "path": path, "reason": exc.message})
            continue
        result.restored.append({"copy": storage.name, "path": path, "source": source})
        touched.append(path)
    for f in problems:
        if f.kind == "extra":
            try:
                storage.quarantine(rec.id, str(f.found.get("location", f.path)), label)
                result.quarantined.append({"copy": storage.name, "path": f.path})
                touched.append(f.path)
            except ArchiveError as exc:
                result.unrepairable.append({"copy": storage.name, "path": f.path, "reason": exc.message})
    return touched


def _rebuild(
    storage: Copy,
    rec: PackageRecord,
    entries: dict[str, Expected],
    checks: CopyChecks,
    by_name: dict[str, Copy],
    result: RepairResult,
) -> list[str]:
    """A copy whose whole package is missing: rebuilt in staging from good copies, then renamed in."""
    sources = {path: _good(checks, path, storage.name) for path in entries}
    lacking = sorted(p for p, src in sources.items() if src is None)
    if lacking:
        result.unrepairable.extend(
            {
                "copy": storage.name,
                "path": p,
                "reason": "no other copy of this file still verifies, so the missing package cannot be rebuilt",
            }
            for p in lacking
        )
        return []
    try:
        with _scratch(storage) as scratch:
            plan = [
                (
                    entries[p].location,
                    _readable(by_name[str(src)], rec.id, entries[p].location, scratch),
                    entries[p].digests,
                    entries[p].size,
                )
                for p, src in sources.items()
            ]
            # the object's declaration and inventories, as a source copy has them (a folder's if one is)
            holders = sorted({by_name[str(src)] for src in sources.values()}, key=lambda c: isinstance(c, S3Storage))
            if holders and isinstance(holders[0], LocalStorage):
                folder = holders[0].path_of(rec.id)
                plan += [(rel, folder / rel, {}, None) for rel in _structure(folder)]
            elif holders:
                bucket = holders[0]
                assert isinstance(bucket, S3Storage)
                own = [rel for rel, _ in bucket.keys(rec.id) if OCFL_STRUCTURE.fullmatch(rel)]
                plan += [(rel, _readable(bucket, rec.id, rel, scratch), {}, None) for rel in own]
            storage.restore_package(rec.id, plan)
    except ArchiveError as exc:
        result.unrepairable.append({"copy": storage.name, "path": "", "reason": exc.message})
        return []
    result.restored.extend({"copy": storage.name, "path": p, "source": str(src)} for p, src in sources.items())
    return list(entries)


def repair_package(
    ctx: ArchiveContext, audits: Audits, run_id: str, audit: PackageAudit, clock: Callable[[], datetime]
) -> RepairResult:
    """Repair every copy of ``audit.package_id`` from copies that verify, then check them again and record."""
    rec = audits.package(audit.package_id)
    checks, findings = (audit.checks, audit.findings) if audit.whole_pass else _fresh_checks(ctx, rec)
    result = RepairResult(rec.id)
    by_name: dict[str, Copy] = {s.name: s for s in ctx.audited_copies}
    label = f"{clock():%Y%m%dT%H%M%SZ}-{run_id[:8]}"
    events: list[Event] = []
    for name, storage in by_name.items():
        problems = [f for f in findings if f.copy == name and f.kind in REPAIRABLE]
        if not problems and checks.get(name) != "missing":
            continue
        before = len(result.restored)
        touched = _fix_copy(storage, rec, problems, checks, by_name, label, result)
        if not touched:
            continue
        restored = result.restored[before:]
        sources = ", ".join(sorted({r["source"] for r in restored})) or "-"
        bad = [u for u in result.unrepairable if u["copy"] == name]
        events.append(
            Event(
                str(uuid.uuid4()),
                EVENT_REPLICATION,
                clock(),
                f"Repair in audit run {run_id}: {len(restored)} file(s) of copy {name} restored from "
                f"{sources}, each verified against the catalog's digests while copying; "
                f"damaged or unexpected entries moved to {str(storage.root).rstrip('/')}/{QUARANTINE}/{rec.id}/{label}",
                OUTCOME_FAILURE if bad else OUTCOME_SUCCESS,
                "\n".join(f"{r['path']} <- {r['source']}" for r in restored)[:8000],
                list(AGENTS),
                [rec.id, *sorted({p[5:] for p in touched if p.startswith("data/")})],
            )
        )
        located, _ = copy_entries(storage, rec)
        recheck = check_copy(copy_source(storage, rec.id), located, rec.id, name, Budget(), extras=True)
        checks[name] = recheck
        findings = [f for f in findings if f.copy != name] + recheck.findings
        events.append(
            fixity_event(
                rec.id,
                f"Re-verification of copy {name} after repair (audit run {run_id})",
                recheck.findings,
                run_id,
                clock(),
            )
        )
    result.remaining = [f for f in findings if f.is_failure]
    if not events:
        return result
    state = audits.state(rec.id) or FixityState(rec.id)
    if not result.remaining and not any(not f.is_failure for f in findings):
        now = clock()
        state.outcome, state.checked_at, state.verified_at, state.cursor = "success", now, now, None
        state.pass_failed = state.pass_unchecked = False
    state.run_id = run_id
    ledgering.append(ctx, ledgering.event_items(rec.id, events, run=run_id, fixity=fixity_out(state)))
    fault_point("repair.before-record")
    audits.record(run_id, [], [(rec.id, e) for e in events], state, {"repaired": len(result.restored)})
    return result

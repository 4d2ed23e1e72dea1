"""Audit one package: every copy checked against the catalog (and the catalog against the ledger),
then one PREMIS ``fixity check`` event, ledgered first and recorded with the findings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from archive.audit.budget import Budget
from archive.audit.check import CopyResult, Expected, FileOutcome, check_copy, expected_entries, version_entries
from archive.audit.findings import AuditFinding, finding
from archive.audit.remote import ObjectCopy
from archive.catalog.audits import Audits
from archive.catalog.ledger_mirror import LedgerMirror
from archive.catalog.records import FixityState, PackageRecord
from archive.errors import ArchiveError, StorageError
from archive.faults import fault_point, register
from archive.ledger import package_token
from archive.model import (
    EVENT_FIXITY_CHECK,
    OUTCOME_FAILURE,
    OUTCOME_SUCCESS,
    OUTCOME_WARNING,
    Event,
    EventLink,
)
from archive.services import ledgering
from archive.services.context import ArchiveContext
from archive.services.ledgering import findings_out, fixity_out
from archive.storage import LocalStorage
from archive.storage.s3 import S3Storage

register("audit.mid-package", "audit.before-record")

#: findings written into one PREMIS outcome detail (all of them are in the catalog's audit_findings)
MAX_DETAIL_LINES = 200
AGENTS = [EventLink("software:archive", "executing program"), EventLink("organization", "authorizer")]

#: per copy: a finished CopyResult, or "missing" / "unreachable"
CopyChecks = dict[str, CopyResult | str]


@dataclass
class PackageAudit:
    package_id: str
    findings: list[AuditFinding] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    complete: bool = True  # the pass over every copy finished in this run
    whole_pass: bool = False  # ... and started in this run too (so ``checks`` covers every copy)
    checks: CopyChecks = field(default_factory=dict)
    outcome: str = ""

    @property
    def failures(self) -> list[AuditFinding]:
        return [f for f in self.findings if f.is_failure]


def event_outcome(findings: list[AuditFinding]) -> str:
    if any(f.is_failure for f in findings):
        return OUTCOME_FAILURE
    return OUTCOME_WARNING if findings else OUTCOME_SUCCESS


def outcome_detail(findings: list[AuditFinding], run_id: str) -> str:
    lines = [f.line() for f in findings[:MAX_DETAIL_LINES]]
    if len(findings) > MAX_DETAIL_LINES:
        lines.append(f"... and {len(findings) - MAX_DETAIL_LINES} more findings (audit run {run_id})")
    return "\n".join(lines) or "every file verified"


def fixity_event(package_id: str, detail: str, findings: list[AuditFinding], run_id: str, when: datetime) -> Event:
    objects = [package_id, *sorted({f.path[5:] for f in findings if f.path.startswith("data/")})]  # v1's files
    return Event(
        str(uuid.uuid4()),
        EVENT_FIXITY_CHECK,
        when,
        detail,
        event_outcome(findings),
        outcome_detail(findings, run_id),
        list(AGENTS),
        objects,
    )


def check_token(ctx: ArchiveContext, rec: PackageRecord) -> AuditFinding | None:
    """The catalog's digests against the token the ledger recorded at ingest."""
    recorded = LedgerMirror(ctx.catalog).package_token(rec.id)
    if recorded is None:
        return None  # ingested before the ledger existed
    now = package_token(rec.files, rec.tag_digests)
    if now == recorded:
        return None
    return finding(
        rec.id,
        "catalog",
        "",
        "catalog-changed",
        "the catalog's digests for this package differ from those the ledger recorded at ingest",
        {"token": recorded},
        {"token": now},
    )


def copy_entries(storage: LocalStorage | S3Storage, rec: PackageRecord) -> tuple[list[Expected], list[AuditFinding]]:
    """What one copy must hold: every content file of every version the catalog records, located
    through the copy's own inventory (whose word is checked too: each file against the catalog's
    digests), and what is wrong with that inventory."""
    problems: list[AuditFinding] = []
    try:
        inventory = storage.inventory(rec.id)
    except ArchiveError as exc:
        problems.append(finding(rec.id, storage.name, "inventory.json", "inventory", exc.message))
        inventory = {}
    entries, lacking = version_entries(inventory, rec.version, rec.history, rec.version_tags)
    if inventory and lacking:
        problems.append(
            finding(
                rec.id,
                storage.name,
                "inventory.json",
                "inventory",
                f"the inventory lacks version(s) {', '.join(lacking)} of the {rec.version} the catalog records",
            )
        )
    if not entries:  # no inventory to find the files by: each is looked for where version 1 keeps it
        entries = [
            Expected(e.path, e.size, e.digests, f"v1/content/{e.path}")
            for e in expected_entries(rec.files, rec.tag_digests)
        ]
    return entries, problems


#: requests an audit has under way at once to a copy in object storage
OBJECT_READS = 8


def copy_source(storage: LocalStorage | S3Storage, package_id: str, tier: str = "full") -> Path | ObjectCopy:
    """What :func:`~archive.audit.check.check_copy` reads one copy of a package from."""
    if isinstance(storage, S3Storage):
        return ObjectCopy(storage, package_id, tier)
    return storage.path_of(package_id)


#: how an audit's event names the tier it checked a copy in object storage with
_TIER_WORDS = {
    "full": "object storage, every byte read back",
    "cheap": "object storage, size and the server's SHA-256 of each object, no byte read (every byte of an "
    "object it keeps no SHA-256 for)",
}


def check_copies(
    ctx: ArchiveContext,
    rec: PackageRecord,
    budget: Budget,
    pool: Executor | None,
    start: tuple[int, str | None],
    result: PackageAudit,
    on_file: Callable[[FileOutcome], None],
    on_bytes: Callable[[int], None] | None = None,
) -> dict[str, object] | None:
    """Check copies from ``start`` (copy index, last path done); return a cursor if the budget ran out."""
    copies = ctx.audited_copies
    tier = ctx.settings.object_audit_tier
    for ci in range(start[0], len(copies)):
        storage = copies[ci]
        after = start[1] if ci == start[0] else None
        if budget.exhausted():
            return {"copy": ci, "after": after}
        if not storage.reachable():
            result.findings.append(
                finding(rec.id, storage.name, "", "unreachable", f"storage root {storage.root} cannot be reached")
            )
            result.checks[storage.name] = "unreachable"
            continue
        try:
            done = _check_one(storage, rec, tier, budget, pool, after, result, on_file, on_bytes)
        except StorageError as exc:  # a bucket that answered, then did not: this copy could not be checked
            if not isinstance(storage, S3Storage):
                raise
            result.findings.append(finding(rec.id, storage.name, "", "unreachable", exc.message))
            result.checks[storage.name] = "unreachable"
            continue
        if done is None:
            continue
        result.findings.extend(done.findings)
        result.files += done.files
        result.bytes += done.bytes
        if not done.complete:
            return {"copy": ci, "after": done.last_path or after}
        result.checks[storage.name] = done
        fault_point("audit.mid-package")
    return None


def _check_one(
    storage: LocalStorage | S3Storage,
    rec: PackageRecord,
    tier: str,
    budget: Budget,
    pool: Executor | None,
    after: str | None,
    result: PackageAudit,
    on_file: Callable[[FileOutcome], None],
    on_bytes: Callable[[int], None] | None,
) -> CopyResult | None:
    """One reachable copy checked (None: its package is missing, as ``result`` now says)."""
    bag = copy_source(storage, rec.id, tier)
    if isinstance(storage, S3Storage):
        missing = not storage.exists(rec.id)
        where = f"package object {storage.root}{storage.object_key(rec.id, '')}"
    else:
        missing = not storage.path_of(rec.id).is_dir()
        where = f"package folder {bag}"
    if missing:
        result.findings.append(finding(rec.id, storage.name, "", "package-missing", f"{where} is missing"))
        result.checks[storage.name] = "missing"
        return None
    entries, problems = copy_entries(storage, rec)
    result.findings.extend(problems)
    with ExitStack() as stack:
        reading = pool
        if isinstance(bag, ObjectCopy):  # objects wait on the network: several requests at once
            reading = stack.enter_context(ThreadPoolExecutor(OBJECT_READS, thread_name_prefix="objects"))
        return check_copy(
            bag, entries, rec.id, storage.name, budget, reading, after, on_file, extras=True, on_bytes=on_bytes
        )


def audit_package(
    ctx: ArchiveContext,
    audits: Audits,
    run_id: str,
    package_id: str,
    budget: Budget,
    pool: Executor | None,
    clock: Callable[[], datetime],
    on_file: Callable[[FileOutcome], None] = lambda o: None,
    on_bytes: Callable[[int], None] | None = None,
) -> PackageAudit | None:
    """Check (or resume checking) one package and record the outcome; None if the budget allowed nothing."""
    rec = audits.package(package_id)
    state = audits.state(package_id) or FixityState(package_id)
    resuming = state.cursor is not None
    result = PackageAudit(package_id)
    if not resuming:
        state.pass_started_at, state.pass_failed, state.pass_unchecked = clock(), False, False
        token_problem = check_token(ctx, rec)
        if token_problem:
            result.findings.append(token_problem)
    start = (int(state.cursor["copy"]), state.cursor.get("after")) if state.cursor else (0, None)
    cursor = check_copies(ctx, rec, budget, pool, start, result, on_file, on_bytes)
    if cursor is not None and result.files == 0 and not result.findings:
        return None
    result.complete = cursor is None
    result.whole_pass = result.complete and not resuming
    failed = bool(result.failures)
    state.pass_failed |= failed
    state.pass_unchecked |= any(not f.is_failure for f in result.findings)
    state.run_id, state.cursor = run_id, cursor
    if failed:
        state.outcome, state.failed_run_id = "failure", run_id
    if result.complete:
        if state.pass_failed:
            state.outcome, state.checked_at = "failure", state.pass_started_at
        elif state.pass_unchecked:
            state.outcome = "could-not-check"
        else:
            state.outcome, state.checked_at, state.verified_at = "success", state.pass_started_at, state.pass_started_at
    result.outcome = state.outcome
    names = ", ".join(
        s.name if isinstance(s, LocalStorage) else f"{s.name} ({_TIER_WORDS[ctx.settings.object_audit_tier]})"
        for s in ctx.audited_copies
    )
    algos = ", ".join(
        sorted({a for _, _, d in rec.files for a in d} | {a for d in rec.tag_digests.values() for a in d})
    )
    how = "pass complete" if result.complete else "pass continues in the next run"
    detail = (
        f"Audit run {run_id}: {result.files} files ({result.bytes} bytes) of copies {names} read once each "
        f"and compared with the catalog's digests ({algos}); {how}"
    )
    event = fixity_event(package_id, detail, result.findings, run_id, clock())
    ledgering.append(
        ctx,
        ledgering.event_items(
            package_id, [event], run=run_id, fixity=fixity_out(state), **findings_out(result.findings)
        ),
    )
    fault_point("audit.before-record")
    audits.record(
        run_id,
        result.findings,
        [(package_id, event)],
        state,
        {
            "packages": 1,
            "files": result.files,
            "bytes": result.bytes,
            "failures": len(result.failures),
            "unchecked": len(result.findings) - len(result.failures),
        },
    )
    return result

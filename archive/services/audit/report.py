"""Reading audit history: the coverage report an auditor signs, and the reads the HTTP API serves.

API entry points: :func:`list_audit_runs`, :func:`audit_run_for` (one run, each finding decided
for the caller), :func:`last_audit` (and :func:`get_audit_run`, :func:`last_fixity_outcomes`,
:func:`coverage_report`). They return plain dicts ready for JSON.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from archive.access import policy
from archive.catalog import retrieval
from archive.catalog.audit_queries import COVERAGE_COUNTS
from archive.catalog.audits import Audits
from archive.catalog.records import FixityState
from archive.model import utcnow
from archive.services.audit import intervals as fixity_intervals
from archive.services.audit.run import DEFAULT_INTERVAL_DAYS
from archive.services.context import ArchiveContext
from archive.services.retrieve.packages import profile_visibility
from archive.services.retrieve.usage import Caller

#: what replaces a finding's path and message in a package the caller may not see
WITHHELD = "withheld: the package is hidden from this role"


def list_audit_runs(ctx: ArchiveContext, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Audit runs, newest first, paged: ``{"count", "limit", "offset", "runs": [...]}``."""
    audits = Audits(ctx.catalog)
    limit = max(1, min(int(limit), 500))
    return {
        "count": audits.count_runs(),
        "limit": limit,
        "offset": max(0, int(offset)),
        "runs": [r.as_dict() for r in audits.list_runs(limit, max(0, int(offset)))],
    }


def get_audit_run(ctx: ArchiveContext, run_id: str, limit: int | None = 1000, offset: int = 0) -> dict[str, Any]:
    """One run with its findings (paged); raises NotFound for an unknown id."""
    audits = Audits(ctx.catalog)
    run = audits.get_run(run_id).as_dict()
    run["findings"] = audits.run_findings(run_id, limit, offset)
    return run


def audit_run_for(ctx: ArchiveContext, caller: Caller, run_id: str, limit: int, offset: int) -> dict[str, Any]:
    """:func:`get_audit_run` as ``caller`` may read it.

    Audit results name packages by id only, for every package (auditors check the whole
    archive); a finding in a package the caller may not see has its path, message and digests
    withheld (a file's name, or its digest, can tell what a confidential package holds).
    """
    run = get_audit_run(ctx, run_id, limit, offset)
    if caller.role in policy.SEE_ALL:  # archivists and admins see every package
        return run
    findings = run["findings"]
    access = retrieval.access_of(ctx.catalog, [f["package"] for f in findings if f["package"]])

    def visible(package_id: str) -> bool:
        if package_id not in access:
            return False  # no longer catalogued: nothing to show of it
        profile_id, level = access[package_id]
        return policy.sees_metadata(caller.role, level, ctx.settings.api_anonymous, profile_visibility(ctx, profile_id))

    run["findings"] = [
        f
        if not f["package"] or visible(f["package"])
        else {**f, "path": "", "message": WITHHELD, "expected": None, "found": None}
        for f in findings
    ]
    return run


def last_audit(ctx: ArchiveContext, package_id: str) -> dict[str, Any] | None:
    """The package's fixity state: last outcome (None if never audited), when checked and verified."""
    # one row by its key (every package page asks): not the many-package query
    state = (Audits(ctx.catalog).state(package_id) or FixityState(package_id)).as_dict()
    return {k: v for k, v in state.items() if k != "package"}


def last_fixity_outcomes(ctx: ArchiveContext, package_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per package: last outcome (success | failure | could-not-check | None when never audited),
    ``checked_at``, ``verified_at``, the run, and whether a pass is in progress."""
    return {pid: st.as_dict() for pid, st in Audits(ctx.catalog).last_fixity(package_ids).items()}


def _intervals(ctx: ArchiveContext, names: list[str]) -> dict[str, int]:
    """Each catalogued profile's interval as recorded at ingest (refuses when one is unknown)."""
    return fixity_intervals.intervals(ctx, Audits(ctx.catalog))


def coverage_report(
    ctx: ArchiveContext, since: date | datetime | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Per profile: files and bytes verified within their interval (or since ``since``), oldest
    verification, never-audited packages, open failures. Ingest's read-back counts as a verification."""
    audits = Audits(ctx.catalog)
    now = now or utcnow()
    names = audits.catalog_profiles()
    intervals = _intervals(ctx, names)
    if since is not None and not isinstance(since, datetime):
        since = datetime.combine(since, time(0), tzinfo=UTC)
    if since is not None:
        thresholds = dict.fromkeys(names, since)
        default = since
    else:
        thresholds = {n: now - timedelta(days=d) for n, d in intervals.items()}
        default = now - timedelta(days=DEFAULT_INTERVAL_DAYS)
    profiles = audits.coverage(thresholds, default)
    totals: dict[str, float] = dict.fromkeys(COVERAGE_COUNTS, 0)
    for p in profiles:
        p["interval_days"] = intervals.get(p["profile"], DEFAULT_INTERVAL_DAYS)
        p["threshold"] = thresholds.get(p["profile"], default).isoformat()
        p["covered_percent"] = round(100 * p["covered_bytes"] / p["bytes"], 2) if p["bytes"] else 100.0
        for k in totals:
            totals[k] += p[k]
    totals["covered_percent"] = round(100 * totals["covered_bytes"] / totals["bytes"], 2) if totals["bytes"] else 100.0
    window_start = since or (now - timedelta(days=max(intervals.values(), default=DEFAULT_INTERVAL_DAYS)))
    return {
        "generated_at": now.isoformat(),
        "since": since.isoformat() if since else None,
        "profiles": profiles,
        "totals": totals,
        "open_failures": audits.open_failures(),
        "runs": {"since": window_start.isoformat(), **audits.runs_since(window_start)},
    }

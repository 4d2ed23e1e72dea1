"""The longer SQL statements of fixity audits, built (never run): due packages, a selection page, coverage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, and_, case, func, literal, or_, select

from archive.catalog.tables import PackageFixityRow, PackageRow

_TS = DateTime(timezone=True)
#: when a package was last checked (its ingest if never), and last verified intact
LAST = func.coalesce(PackageFixityRow.checked_at, PackageRow.created_at, type_=_TS)
VERIFIED = func.coalesce(PackageFixityRow.verified_at, PackageRow.created_at, type_=_TS)
#: the names of the columns of :func:`coverage_query`, in order
COVERAGE_KEYS = (
    "profile",
    "packages",
    "files",
    "bytes",
    "covered_packages",
    "covered_files",
    "covered_bytes",
    "oldest_verification",
    "never_audited",
    "open_failures",
    "could_not_check",
)
#: the ones that are counts, and add up over profiles
COVERAGE_COUNTS = tuple(k for k in COVERAGE_KEYS if k not in ("profile", "oldest_verification"))


def due(cutoffs: dict[str, datetime], default_cutoff: datetime | None) -> Any:
    """The condition "last checked before its profile's cutoff" (``default_cutoff``: other profiles)."""
    names = list(cutoffs)
    conds = [and_(PackageRow.profile_id == n, cutoffs[n] > LAST) for n in names]
    if default_cutoff is not None:
        conds.append(
            and_(PackageRow.profile_id.not_in(names), default_cutoff > LAST) if names else default_cutoff > LAST
        )
    return or_(*conds)


def selection_page(
    cutoffs: dict[str, datetime] | None,
    default_cutoff: datetime | None,
    exclude_run: str,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Select[*tuple[Any, ...]]:
    """``(package id, last check)`` of the next packages to audit: see ``Audits.page``."""
    touched = and_(PackageFixityRow.run_id.is_not(None), PackageFixityRow.run_id == exclude_run)
    q = (
        select(PackageRow.id, LAST)
        .outerjoin(PackageFixityRow, PackageFixityRow.package_id == PackageRow.id)
        .where(~touched)
        .order_by(LAST, PackageRow.id)
        .limit(limit)
    )
    if after is not None:
        q = q.where(or_(LAST > after[0], and_(LAST == after[0], PackageRow.id > after[1])))  # noqa: SIM300 (the column first: an SQL expression)
    if cutoffs is not None:
        q = q.where(due(cutoffs, default_cutoff))
    return q


def coverage_query(thresholds: dict[str, datetime], default: datetime) -> Select[*tuple[Any, ...]]:
    """Per profile (:data:`COVERAGE_KEYS`): totals, what was verified since its threshold (and is
    not failing), the oldest verification, never audited, open failures, could not check."""
    cut = (
        case(
            *((PackageRow.profile_id == n, literal(t, _TS)) for n, t in thresholds.items()),
            else_=literal(default, _TS),
        )
        if thresholds
        else literal(default, _TS)
    )
    covered = and_(cut <= VERIFIED, func.coalesce(PackageFixityRow.outcome, "") != "failure")
    return (
        select(
            PackageRow.profile_id,
            func.count(),
            func.sum(PackageRow.file_count),
            func.sum(PackageRow.total_bytes),
            func.sum(case((covered, 1), else_=0)),
            func.sum(case((covered, PackageRow.file_count), else_=0)),
            func.sum(case((covered, PackageRow.total_bytes), else_=0)),
            func.min(VERIFIED),
            func.sum(case((PackageFixityRow.checked_at.is_(None), 1), else_=0)),
            func.sum(case((PackageFixityRow.outcome == "failure", 1), else_=0)),
            func.sum(case((PackageFixityRow.outcome == "could-not-check", 1), else_=0)),
        )
        .outerjoin(PackageFixityRow, PackageFixityRow.package_id == PackageRow.id)
        .group_by(PackageRow.profile_id)
        .order_by(PackageRow.profile_id)
    )

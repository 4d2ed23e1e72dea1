"""Usage statistics over the access log, aggregated in SQL (per package, per profile, per period),
so ``GET /stats`` stays fast however long the log grows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from archive.catalog.callers import ACTION_FILE, ACTION_PACKAGE, ACTION_VIEW
from archive.catalog.guard import guarded
from archive.catalog.repository import Catalog
from archive.catalog.tables import AccessLogRow, PackageRow

PERIODS = ("day", "month", "year")


def _period(catalog: Catalog, period: str) -> ColumnElement[str]:
    col = AccessLogRow.occurred_at
    if catalog.engine.dialect.name == "postgresql":
        fmt = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[period]
        return func.to_char(func.timezone("UTC", col), fmt)
    fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[period]
    return func.strftime(fmt, col)


def _measures() -> list[Any]:
    a = AccessLogRow
    full = (a.action == ACTION_FILE) & (a.byte_range == "")
    return [
        func.sum(case((a.action == ACTION_VIEW, 1), else_=0)).label("views"),
        func.sum(case((full | (a.action == ACTION_PACKAGE), 1), else_=0)).label("downloads"),
        func.sum(case(((a.action == ACTION_FILE) & (a.byte_range != ""), 1), else_=0)).label("partial"),
        # nginx sends a delegated download's bytes: count what was handed over
        func.sum(case((a.outcome == "delegated", a.bytes_planned), else_=a.bytes_sent)).label("bytes"),
    ]


def _row(r: Any) -> dict[str, int]:
    return {
        "views": int(r.views or 0),
        "downloads": int(r.downloads or 0),
        "partial": int(r.partial or 0),
        "bytes": int(r.bytes or 0),
    }


@guarded("compute usage statistics")
def usage(
    catalog: Catalog,
    since: date | None,
    until: date | None,
    period: str,
    profile: str | None = None,
    top: int = 100,
) -> dict[str, Any]:
    """Views, downloads (whole files and zips), partial (Range) requests and bytes sent."""
    a = AccessLogRow
    conds: list[ColumnElement[bool]] = [a.outcome != "failed"]
    if since:
        conds.append(a.occurred_at >= datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        conds.append(a.occurred_at < datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC))
    if profile:
        conds.append(a.profile_id == profile)
    per = _period(catalog, period).label("period")

    with catalog.session() as s:
        totals = s.execute(select(*_measures()).where(*conds)).one()
        by_profile = s.execute(
            select(a.profile_id, *_measures()).where(*conds).group_by(a.profile_id).order_by(a.profile_id)
        ).all()
        by_period = s.execute(select(per, *_measures()).where(*conds).group_by(per).order_by(per)).all()
        pkg_q = (
            select(a.package_id, a.profile_id, *_measures())
            .where(*conds)
            .group_by(a.package_id, a.profile_id)
            .order_by(func.count().desc(), a.package_id)
            .limit(top)
        )
        by_package = s.execute(pkg_q).all()
        titles = dict(
            s.execute(
                select(PackageRow.id, PackageRow.title).where(PackageRow.id.in_([r.package_id for r in by_package]))
            ).all()
        )
    return {
        "totals": _row(totals),
        "by_profile": [{"profile": r.profile_id, **_row(r)} for r in by_profile],
        "by_period": [{"period": r.period, **_row(r)} for r in by_period],
        "by_package": [
            {
                "package_id": r.package_id,
                "title": titles.get(r.package_id, ""),
                "profile": r.profile_id,
                **_row(r),
            }
            for r in by_package
        ],
    }

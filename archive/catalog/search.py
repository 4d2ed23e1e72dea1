"""Search the catalog: free text, profile, any field, format, date ranges; keyset pagination.

Results are ordered by ``(created_at, id)`` and paged by keyset: a page starts after the last
row's key (``SearchQuery.after``, ``SearchPage.next_after``), so a page never repeats or skips a
package while others are being added. The API hands that key out as a signed cursor
(:mod:`archive.api.cursors`); the catalog never sees a cursor. The
caller's visible access levels and profiles (from :mod:`archive.access.policy`) are a filter like
any other: a hidden package is neither listed nor counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select

from archive.catalog.guard import guarded
from archive.catalog.records import PackageInfo
from archive.catalog.repository import PACKAGE_INFO_COLUMNS, Catalog
from archive.catalog.search_index import prefix_bounds, words
from archive.catalog.tables import FileRow, MetadataValueRow, PackageRow, SearchDateRow, SearchTermRow
from archive.errors import InvalidRequest

MAX_WORDS = 16


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    profile: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # (field, exact value), all must match
    puids: tuple[str, ...] = ()  # any of these formats among the package's files
    created_from: date | None = None  # inclusive, UTC days
    created_to: date | None = None
    date_from: date | None = None  # overlap with the dates found in ``date_field``
    date_to: date | None = None
    date_field: str = "date"
    levels: frozenset[str] | None = None  # visible access levels; None: every level
    #: visible packages as groups of (profile ids, access levels), from the profiles' narrowing of
    #: the access matrix (archive.access.policy.metadata_scope); None: every package
    visible: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] | None = None
    limit: int = 50
    after: tuple[datetime, str] | None = None  # the last row of the previous page: (created_at, id)


@dataclass
class SearchPage:
    total: int
    items: list[PackageInfo] = field(default_factory=list)
    next_after: tuple[datetime, str] | None = None  # where the next page starts; None: no next page


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def conditions(q: SearchQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a query (without the cursor)."""
    conds: list[ColumnElement[bool]] = []
    if q.levels is not None:
        conds.append(PackageRow.access_level.in_(sorted(q.levels)))
    if q.visible is not None:
        groups = [
            and_(PackageRow.profile_id.in_(list(ids)), PackageRow.access_level.in_(list(levels)))
            for ids, levels in q.visible
            if ids and levels
        ]
        conds.append(or_(*groups) if groups else false())
    if q.profile:
        conds.append(PackageRow.profile_id == q.profile)
    query_words = list(dict.fromkeys(words(q.text)))
    if len(query_words) > MAX_WORDS:
        raise InvalidRequest(f"free text has {len(query_words)} words; at most {MAX_WORDS} are searched")
    for w in query_words:
        low, high = prefix_bounds(w)
        conds.append(
            PackageRow.id.in_(
                select(SearchTermRow.package_id).where(SearchTermRow.term >= low, SearchTermRow.term < high)
            )
        )
    for name, value in q.fields:
        conds.append(
            exists().where(
                MetadataValueRow.package_id == PackageRow.id,
                MetadataValueRow.field == name,
                MetadataValueRow.value_key == value[:255],
                MetadataValueRow.value == value,
            )
        )
    if q.puids:
        conds.append(
            exists().where(
                FileRow.package_id == PackageRow.id, FileRow.until_version.is_(None), FileRow.puid.in_(q.puids)
            )
        )  # formats of the current version: a withdrawn file no longer makes its package match
    if q.created_from:
        conds.append(PackageRow.created_at >= _day_start(q.created_from))
    if q.created_to:
        conds.append(PackageRow.created_at < _day_start(q.created_to + timedelta(days=1)))
    if q.date_from or q.date_to:
        overlap = [SearchDateRow.package_id == PackageRow.id, SearchDateRow.field == q.date_field]
        if q.date_to:
            overlap.append(SearchDateRow.start <= q.date_to)
        if q.date_from:
            overlap.append(SearchDateRow.end >= q.date_from)
        conds.append(exists().where(*overlap))
    return conds


@guarded("search the catalog")
def search(catalog: Catalog, q: SearchQuery) -> SearchPage:
    conds = conditions(q)
    keys = select(PackageRow.id).where(*conds)
    if q.after is not None:
        after, after_id = q.after
        keys = keys.where(
            or_(PackageRow.created_at > after, and_(PackageRow.created_at == after, PackageRow.id > after_id))
        )
    # the page's keys first (index-only: ix_packages_retrieval), then only those rows in full
    keys = keys.order_by(PackageRow.created_at, PackageRow.id).limit(q.limit + 1)
    page = (
        select(*PACKAGE_INFO_COLUMNS)
        .where(PackageRow.id.in_(keys.scalar_subquery()))
        .order_by(PackageRow.created_at, PackageRow.id)
    )
    with catalog.connection() as c:
        total = c.execute(select(func.count()).select_from(PackageRow).where(*conds)).scalar() or 0
        rows = c.execute(page).all()
    items = [PackageInfo.from_row(r) for r in rows[: q.limit]]
    more = len(rows) > q.limit
    next_after = (items[-1].created_at, items[-1].id) if more and items else None
    return SearchPage(total=total, items=items, next_after=next_after)


def describe_query(q: SearchQuery) -> dict[str, Any]:
    """The query as the API echoes it back (without the access filter)."""
    out: dict[str, Any] = {}
    if q.text:
        out["q"] = q.text
    if q.profile:
        out["profile"] = q.profile
    if q.fields:
        out["field"] = [f"{k}={v}" for k, v in q.fields]
    if q.puids:
        out["puid"] = list(q.puids)
    for key in ("created_from", "created_to", "date_from", "date_to"):
        value = getattr(q, key)
        if value:
            out[key] = value.isoformat()
    return out

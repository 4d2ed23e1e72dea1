"""Search the catalog: free text, profile, any field, format, date ranges; keyset pagination.

Results are ordered by ``(created_at, id)`` and paged with an opaque cursor that carries the
last row's key, so a page never repeats or skips a package while others are being added. The
caller's visible access levels (from :mod:`archive.access.policy`) are a filter like any other:
a hidden package is neither listed nor counted.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from archive.catalog.access_tables import SearchDateRow, SearchTermRow
from archive.catalog.repository import Catalog, PackageSummary, _aware
from archive.catalog.search_index import prefix_bounds, words
from archive.catalog.tables import FileRow, MetadataValueRow, PackageRow
from archive.errors import CatalogError, InvalidRequest

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
    limit: int = 50
    cursor: str | None = None


@dataclass
class SearchPage:
    total: int
    items: list[PackageSummary] = field(default_factory=list)
    next_cursor: str | None = None


def encode_cursor(created_at: datetime, package_id: str) -> str:
    raw = json.dumps([_aware(created_at).isoformat(), package_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, package_id = json.loads(raw)
        when = datetime.fromisoformat(created)
        if not isinstance(package_id, str) or "\x00" in package_id or when.tzinfo is None:
            raise ValueError("bad cursor")
        return when.astimezone(timezone.utc), package_id
    # OverflowError: a forged time at the edge of the calendar with an offset past it
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            f"cursor {cursor[:40]!r} is not one this API handed out; start again without it"
        ) from exc


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def conditions(q: SearchQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a query (without the cursor)."""
    conds: list[ColumnElement[bool]] = []
    if q.levels is not None:
        conds.append(PackageRow.access_level.in_(sorted(q.levels)))
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
        conds.append(exists().where(FileRow.package_id == PackageRow.id, FileRow.puid.in_(q.puids)))
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


def search(catalog: Catalog, q: SearchQuery) -> SearchPage:
    conds = conditions(q)
    keys = select(PackageRow.id).where(*conds)
    if q.cursor:
        after, after_id = decode_cursor(q.cursor)
        keys = keys.where(
            or_(PackageRow.created_at > after, and_(PackageRow.created_at == after, PackageRow.id > after_id))
        )
    # the page's keys first (index-only: ix_packages_retrieval), then only those rows in full
    keys = keys.order_by(PackageRow.created_at, PackageRow.id).limit(q.limit + 1)
    page = (
        select(
            PackageRow.id,
            PackageRow.profile_id,
            PackageRow.profile_version,
            PackageRow.title,
            PackageRow.created_at,
            PackageRow.access_level,
            PackageRow.embargo_until,
            PackageRow.file_count,
            PackageRow.total_bytes,
        )
        .where(PackageRow.id.in_(keys.scalar_subquery()))
        .order_by(PackageRow.created_at, PackageRow.id)
    )
    try:
        with catalog.engine.connect() as c:
            total = c.execute(select(func.count()).select_from(PackageRow).where(*conds)).scalar() or 0
            rows = c.execute(page).all()
    except SQLAlchemyError as exc:
        raise CatalogError(f"cannot search the catalog: {exc}") from exc
    items = [
        PackageSummary(
            r.id,
            r.profile_id,
            r.profile_version,
            r.title,
            _aware(r.created_at),
            r.access_level,
            r.embargo_until,
            r.file_count,
            r.total_bytes,
        )
        for r in rows[: q.limit]
    ]
    more = len(rows) > q.limit
    next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if more and items else None
    return SearchPage(total=total, items=items, next_cursor=next_cursor)


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

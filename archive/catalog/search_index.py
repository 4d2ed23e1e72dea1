"""The search index of descriptive metadata: words for free text, date ranges for date filters.

Filled in the same transaction that records a package (``Catalog.record_package``) and, for
packages recorded before it existed, by migration ``0003``. Words are case-folded, stripped of
accents (``Café`` -> ``cafe``) and cut to 64 characters; a query word matches every term it is a
prefix of, through an index range scan, so search stays fast at any catalog size.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from archive.catalog.guard import guarded
from archive.catalog.tables import TERM_LENGTH, MetadataValueRow, SearchDateRow, SearchTermRow

_WORD = re.compile(r"[^\W_]+")  # letters and digits; "_" separates words
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The normalised words of ``text``, in order, duplicates kept."""
    return [w[:TERM_LENGTH] for w in _WORD.findall(normalise(text))]


def prefix_bounds(word: str) -> tuple[str, str]:
    """``(low, high)`` such that ``low <= term < high`` holds exactly for terms starting with ``word``."""
    last = ord(word[-1])
    if last >= 0x10FFFF:  # pragma: no cover - no word character is that high
        return word, word + "\U0010ffff"
    return word, word[:-1] + chr(last + 1)


def _bound(text: str, end: bool) -> date | None:
    m = _DATE.fullmatch(text.strip())
    if not m:
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day:
            return date(year, int(month), int(day))
        if month:
            mon = int(month)
            return date(year, mon, calendar.monthrange(year, mon)[1] if end else 1)
        return date(year, 12, 31) if end else date(year, 1, 1)
    except ValueError:
        return None


def date_range(value: str) -> tuple[date, date] | None:
    """``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or ``A/B`` of those, as the days it covers; else None."""
    parts = value.split("/")
    if len(parts) == 1:
        start, end = _bound(parts[0], False), _bound(parts[0], True)
    elif len(parts) == 2:
        start, end = _bound(parts[0], False), _bound(parts[1], True)
    else:
        return None
    if start is None or end is None or end < start:
        return None
    return start, end


def index_values(
    package_id: str, values: Iterable[tuple[str, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of ``search_terms`` and ``search_dates`` for one package from its ``(field, value)`` pairs."""
    terms: dict[str, None] = {}
    dates: dict[tuple[str, date, date], None] = {}
    for field, value in values:
        for w in words(value):
            terms[w] = None
        found = date_range(value)
        if found:
            dates[(field, *found)] = None
    return (
        [{"term": t, "package_id": package_id} for t in terms],
        [{"package_id": package_id, "field": f, "start": a, "end": b} for f, a, b in dates],
    )


@guarded("index package {package_id} for search")
def record(conn: Connection | Session, package_id: str, values: Iterable[tuple[str, str]]) -> None:
    """Index one package inside the caller's transaction."""
    terms, dates = index_values(package_id, values)
    if terms:
        conn.execute(insert(SearchTermRow), terms)
    if dates:
        conn.execute(insert(SearchDateRow), dates)


@guarded("index the catalogued packages for search")
def backfill(conn: Connection) -> int:
    """Index every catalogued package (for migrations); returns how many packages were indexed."""
    by_package: dict[str, list[tuple[str, str]]] = {}
    for package_id, field, value in conn.execute(
        select(MetadataValueRow.package_id, MetadataValueRow.field, MetadataValueRow.value).order_by(
            MetadataValueRow.package_id, MetadataValueRow.id
        )
    ):
        by_package.setdefault(package_id, []).append((field, value))
    for package_id, values in by_package.items():
        record(conn, package_id, values)
    return len(by_package)

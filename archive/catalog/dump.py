"""A comparable dump of the catalog: what "``archive reindex`` rebuilds it identically" means.

``dump(catalog)`` returns, for every table a rebuild from storage restores, its rows as plain
values, sorted. Two catalogs are *identical* when their dumps are equal. Normalised on the way:

- autoincrement surrogate keys (``id`` of files, metadata values, agents, audit findings,
  search dates) are left out: they number rows in insertion order and mean nothing else;
- times are compared as UTC instants (ISO 8601), dates as ISO dates; JSON as values;
- ``audit_runs.notified`` is left out: which notification channels answered is not recorded in
  storage (the ledger entry of a run is written before its notification is sent).

Tables left out entirely are listed in :data:`NOT_REBUILT` with the reason; a test fails when a
table is neither dumped nor listed there.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Integer, Table, select

from archive.catalog.guard import guarded
from archive.catalog.maintenance import REBUILT
from archive.catalog.repository import Catalog
from archive.catalog.tables import Base

#: table -> why a rebuild from storage cannot restore it (it is not about what storage holds)
NOT_REBUILT: dict[str, str] = {
    "api_tokens": "API credentials are issued by the catalog itself and are never written to storage",
    "access_log": "who downloaded what: usage data kept only in the catalog",
    "incidents": "problems seen while serving files: usage data kept only in the catalog",
    "alembic_version": "the schema version, set by migrations",
}
#: columns left out of the comparison (see the module docstring)
SKIPPED_COLUMNS: dict[str, set[str]] = {"audit_runs": {"notified"}}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _surrogate(table: Any) -> set[str]:
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].autoincrement is not False:
        return {pk[0].name}
    return set()


@guarded("dump the catalog")
def dump(catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    """Every rebuilt table's rows (normalised, sorted): equal dumps mean identical catalogs."""
    out: dict[str, list[dict[str, Any]]] = {}
    with catalog.engine.connect() as conn:
        for model in REBUILT:
            table: Table = model.__table__  # type: ignore[assignment]
            leave_out = _surrogate(table) | SKIPPED_COLUMNS.get(table.name, set())
            columns = [c for c in table.columns if c.name not in leave_out]
            rows = [
                {c.name: _value(v) for c, v in zip(columns, row, strict=False)}
                for row in conn.execute(select(*columns))
            ]
            rows.sort(key=lambda r: json.dumps(r, sort_keys=True, default=str))
            out[table.name] = rows
    return out


def unaccounted_tables() -> list[str]:
    """Tables of the schema neither dumped nor listed in :data:`NOT_REBUILT` (should be none)."""
    dumped = {m.__tablename__ for m in REBUILT}
    return sorted(t for t in Base.metadata.tables if t not in dumped and t not in NOT_REBUILT)

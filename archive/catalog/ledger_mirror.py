"""The catalog's mirror of the ledger: one row per entry, written under the ledger's lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, insert, select

from archive.catalog.guard import guarded
from archive.catalog.repository import Catalog
from archive.catalog.tables import EventRow, LedgerEntryRow
from archive.ledger import KIND_PACKAGE, KIND_VERSION, LedgerEntry
from archive.model import Event

_PAGE = 1000


class LedgerMirror:
    """Implements :class:`archive.ledger.Mirror` on the catalog, plus the reads verification needs."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @guarded("read the ledger mirror")
    def last_seq(self) -> int:
        with self.catalog.session() as s:
            return int(s.scalar(select(func.max(LedgerEntryRow.seq))) or 0)

    @guarded("mirror ledger entries in the catalog")
    def add(self, entries: list[LedgerEntry]) -> None:
        if not entries:
            return
        with self.catalog.session() as s, s.begin():
            s.execute(  # one executemany into the table (not the ORM's bulk insert, twice as slow)
                insert(cast(Table, LedgerEntryRow.__table__)),
                [
                    {
                        "seq": e.seq,
                        "entry_hash": e.hash,
                        "prev_hash": e.prev,
                        "kind": e.kind,
                        "package_id": e.package_id,
                        "event_id": e.event_id,
                        "recorded_at": datetime.fromisoformat(e.time),
                        "line": e.line,
                    }
                    for e in entries
                ],
            )

    @guarded("read the ledger mirror")
    def hashes(self) -> Iterator[tuple[int, str]]:
        """``(seq, hash)`` of every mirrored entry in order, paged (flat memory)."""
        after = 0
        while True:
            with self.catalog.session() as s:
                rows = s.execute(
                    select(LedgerEntryRow.seq, LedgerEntryRow.entry_hash)
                    .where(LedgerEntryRow.seq > after)
                    .order_by(LedgerEntryRow.seq)
                    .limit(_PAGE)
                ).all()
            if not rows:
                return
            for seq, digest in rows:
                yield int(seq), digest
            after = int(rows[-1][0])

    @guarded("read the ledger mirror for package {package_id}")
    def package_token(self, package_id: str) -> str | None:
        """The content token the ledger recorded for ``package_id``'s head: at ingest, or with its
        newest version (None before ledgers existed)."""
        with self.catalog.session() as s:
            line = s.scalar(
                select(LedgerEntryRow.line)
                .where(LedgerEntryRow.package_id == package_id, LedgerEntryRow.kind.in_((KIND_PACKAGE, KIND_VERSION)))
                .order_by(LedgerEntryRow.seq.desc())
                .limit(1)
            )
        if line is None:
            return None
        token = json.loads(line).get("body", {}).get("token")
        return token if isinstance(token, str) else None

    @guarded("look up the ledgered versions of package {package_id}")
    def ledgered_versions(self, package_id: str) -> set[int]:
        """The version numbers of ``package_id`` the ledger has a version entry for."""
        with self.catalog.session() as s:
            lines = s.scalars(
                select(LedgerEntryRow.line).where(
                    LedgerEntryRow.package_id == package_id, LedgerEntryRow.kind == KIND_VERSION
                )
            ).all()
        found = set()
        for line in lines:
            number = json.loads(line).get("body", {}).get("version")
            if isinstance(number, int):
                found.add(number)
        return found

    @guarded("read the ledgered events")
    def events_with_lines(self) -> Iterator[tuple[str, Event, str | None]]:
        """Every catalog event with the ledger line that recorded it (None: never ledgered), paged."""
        after = ""
        while True:
            with self.catalog.session() as s:
                rows = s.execute(
                    select(EventRow, LedgerEntryRow.line)
                    .outerjoin(LedgerEntryRow, LedgerEntryRow.event_id == EventRow.id)
                    .where(EventRow.id > after)
                    .order_by(EventRow.id)
                    .limit(_PAGE)
                ).all()
            if not rows:
                return
            for row, line in rows:
                yield row.package_id, row.event(), line
            after = rows[-1][0].id

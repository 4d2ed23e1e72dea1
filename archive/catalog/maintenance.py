"""Catalog queries for ``archive doctor`` and ``archive reindex``: what the ledger holds that the
catalog lacks, and the bulk writes of a rebuild."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select
from sqlalchemy.orm import Session, aliased

from archive.catalog.guard import guarded
from archive.catalog.records import AuditRun, FixityState
from archive.catalog.repository import Catalog
from archive.catalog.tables import (
    AgentRow,
    AuditFindingRow,
    AuditRunRow,
    DisposalProposalRow,
    EventRow,
    FileRow,
    LedgerEntryRow,
    MetadataValueRow,
    PackageFixityRow,
    PackageRow,
    SearchDateRow,
    SearchTermRow,
    TombstoneRow,
    VersionRow,
)
from archive.model import Event

#: what a rebuild from storage fills, children first (the order ``wipe`` deletes in)
REBUILT = (
    SearchTermRow,
    SearchDateRow,
    AuditFindingRow,
    PackageFixityRow,
    EventRow,
    AgentRow,
    MetadataValueRow,
    FileRow,
    VersionRow,
    PackageRow,
    TombstoneRow,
    DisposalProposalRow,
    AuditRunRow,
    LedgerEntryRow,
)


class Maintenance:
    """Every method is its own transaction; database failures become :class:`CatalogError`."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _read(self, query: Callable[[Session], Any]) -> Any:
        with self.catalog.session() as s:
            return query(s)

    def _write(self, apply: Callable[[Session], None]) -> None:
        with self.catalog.session() as s, s.begin():
            apply(s)

    # -- doctor ------------------------------------------------------------------------------
    @guarded("find ledgered events missing from the catalog")
    def missing_ledgered_events(self, limit: int = 10_000) -> list[str]:
        """Ledger lines of events of catalogued packages that the catalog's ``events`` lacks, in order."""
        q = (
            select(LedgerEntryRow.line)
            .where(
                LedgerEntryRow.kind == "event",
                LedgerEntryRow.event_id.is_not(None),
                exists().where(PackageRow.id == LedgerEntryRow.package_id),
                ~exists().where(EventRow.id == LedgerEntryRow.event_id),
            )
            .order_by(LedgerEntryRow.seq)
            .limit(limit)
        )
        return self._read(lambda s: list(s.scalars(q)))

    @guarded("find dangling ledger entries")
    def dangling_ledgered_packages(self) -> list[str]:
        """Packages the ledger recorded at ingest that are neither catalogued, withdrawn nor disposed of."""
        withdrawn = aliased(LedgerEntryRow)
        q = (
            select(LedgerEntryRow.package_id)
            .distinct()
            .where(
                LedgerEntryRow.kind == "package",
                LedgerEntryRow.package_id.is_not(None),
                ~exists().where(PackageRow.id == LedgerEntryRow.package_id),
                ~exists().where(
                    and_(
                        withdrawn.kind.in_(("withdrawn", "disposal")), withdrawn.package_id == LedgerEntryRow.package_id
                    )
                ),
            )
            .order_by(LedgerEntryRow.package_id)
        )
        return self._read(lambda s: [p for p in s.scalars(q) if p])

    @guarded("read the ledger mirror")
    def withdrawn(self, package_id: str) -> bool:
        q = select(func.count()).where(LedgerEntryRow.kind == "withdrawn", LedgerEntryRow.package_id == package_id)
        return bool(self._read(lambda s: s.scalar(q)))

    @guarded("read the ledger mirror")
    def last_event_seq(self, package_id: str) -> int:
        q = select(func.max(LedgerEntryRow.seq)).where(
            LedgerEntryRow.kind == "event", LedgerEntryRow.package_id == package_id
        )
        return int(self._read(lambda s: s.scalar(q)) or 0)

    # -- reindex -----------------------------------------------------------------------------
    @guarded("count catalog rows")
    def counts(self) -> dict[str, int]:
        def count(s: Session) -> dict[str, int]:
            return {t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0) for t in REBUILT}

        return self._read(count)

    @guarded("count catalog rows")
    def is_empty(self) -> bool:
        return not any(self.counts().values())

    @guarded("empty the catalog")
    def wipe(self) -> None:
        """Delete every row a rebuild restores (API tokens, the access log and incidents are kept)."""

        def apply(s: Session) -> None:
            for table in REBUILT:
                s.execute(delete(table))

        self._write(apply)

    @guarded("read events")
    def existing_event_ids(self, ids: Iterable[str]) -> set[str]:
        wanted = list(ids)
        if not wanted:
            return set()
        return self._read(lambda s: set(s.scalars(select(EventRow.id).where(EventRow.id.in_(wanted)))))

    @guarded("record audit runs")
    def add_runs(self, runs: list[AuditRun]) -> None:
        if runs:
            self._write(
                lambda s: s.add_all(
                    AuditRunRow(**{f.name: getattr(r, f.name) for f in fields(AuditRun)}) for r in runs
                ),
            )

    @guarded("record events and findings")
    def add_batch(self, events: list[tuple[str, Event]], findings: list[tuple[str, Any]]) -> None:
        """Events ``(package, event)`` and findings ``(run id, AuditFinding)`` in one transaction."""

        def apply(s: Session) -> None:
            if events:
                s.execute(insert(EventRow), [EventRow.values(pid, e) for pid, e in events])
            if findings:
                s.execute(
                    insert(AuditFindingRow),
                    [
                        {
                            "run_id": run_id,
                            "package_id": f.package_id,
                            "copy": f.copy,
                            "path": f.path,
                            "kind": f.kind,
                            "code": f.code,
                            "severity": f.severity,
                            "message": f.message,
                            "expected": f.expected,
                            "found": f.found,
                        }
                        for run_id, f in findings
                    ],
                )

        if events or findings:
            self._write(apply)

    @guarded("record fixity states")
    def put_fixity(self, states: list[FixityState]) -> None:
        def apply(s: Session) -> None:
            for state in states:
                row = s.get(PackageFixityRow, state.package_id) or PackageFixityRow(package_id=state.package_id)
                for f in fields(FixityState):
                    setattr(row, f.name, getattr(state, f.name))
                s.add(row)

        if states:
            self._write(apply)

"""Disposal proposals and tombstones in the catalog; a disposed package's rows go in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import delete, insert, select

from archive.catalog.guard import guarded
from archive.catalog.records import aware, iso
from archive.catalog.repository import Catalog
from archive.catalog.tables import DisposalProposalRow, PackageFixityRow, PackageRow, TombstoneRow
from archive.errors import NotFound
from archive.faults import fault_point


@dataclass(frozen=True)
class Proposal:
    id: str
    created_at: datetime
    proposer: str
    reason: str
    state: str  # proposed | approved | executed | withdrawn
    package_ids: list[str]
    approver: str
    approved_at: datetime | None
    executed_at: datetime | None
    note: str

    @classmethod
    def from_row(cls, r: DisposalProposalRow) -> Self:
        return cls(
            r.id,
            aware(r.created_at),
            r.proposer,
            r.reason,
            r.state,
            [str(p) for p in r.package_ids],
            r.approver,
            aware(r.approved_at) if r.approved_at else None,
            aware(r.executed_at) if r.executed_at else None,
            r.note,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": iso(self.created_at),
            "proposer": self.proposer,
            "reason": self.reason,
            "state": self.state,
            "packages": self.package_ids,
            "approver": self.approver or None,
            "approved": iso(self.approved_at),
            "executed": iso(self.executed_at),
            "note": self.note,
        }


@dataclass(frozen=True)
class Tombstone:
    package_id: str
    disposed_at: datetime
    proposal_id: str
    reason: str
    proposer: str
    approver: str
    title: str
    profile_id: str
    access_level: str
    document: dict[str, Any]

    @classmethod
    def from_row(cls, r: TombstoneRow) -> Self:
        return cls(
            r.package_id,
            aware(r.disposed_at),
            r.proposal_id,
            r.reason,
            r.proposer,
            r.approver,
            r.title,
            r.profile_id,
            r.access_level,
            dict(r.document),
        )

    def public(self) -> dict[str, Any]:
        """What anyone who could see the package's metadata may know of its disposal (a 410's body)."""
        return {
            "id": self.package_id,
            "title": self.title,
            "profile": self.profile_id,
            "disposed": iso(self.disposed_at),
            "reason": self.reason,
        }


def _row(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "package_id": document["package"],
        "disposed_at": datetime.fromisoformat(document["disposed"]),
        "proposal_id": document["proposal"]["id"],
        "reason": document["proposal"]["reason"],
        "proposer": document["proposal"]["proposer"],
        "approver": document["proposal"]["approver"],
        "title": document.get("title", ""),
        "profile_id": document.get("profile", ""),
        "access_level": document.get("access_level", ""),
        "document": document,
    }


class Disposals:
    """Every method is its own transaction; database failures become :class:`CatalogError`."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @guarded("record disposal proposal {proposal.id}")
    def add_proposal(self, proposal: Proposal) -> None:
        with self.catalog.session() as s, s.begin():
            s.add(
                DisposalProposalRow(
                    id=proposal.id,
                    created_at=proposal.created_at,
                    proposer=proposal.proposer,
                    reason=proposal.reason,
                    state=proposal.state,
                    package_ids=list(proposal.package_ids),
                    approver=proposal.approver,
                    approved_at=proposal.approved_at,
                    executed_at=proposal.executed_at,
                    note=proposal.note,
                )
            )

    @guarded("read disposal proposal {proposal_id}")
    def proposal(self, proposal_id: str) -> Proposal:
        with self.catalog.session() as s:
            row = s.get(DisposalProposalRow, proposal_id)
            if row is None:
                raise NotFound(f"no disposal proposal {proposal_id}")
            return Proposal.from_row(row)

    @guarded("list disposal proposals")
    def proposals(self) -> list[Proposal]:
        with self.catalog.session() as s:
            rows = s.scalars(select(DisposalProposalRow).order_by(DisposalProposalRow.created_at)).all()
            return [Proposal.from_row(r) for r in rows]

    @guarded("update disposal proposal {proposal_id}")
    def update(self, proposal_id: str, **values: Any) -> None:
        with self.catalog.session() as s, s.begin():
            row = s.get(DisposalProposalRow, proposal_id)
            if row is None:
                raise NotFound(f"no disposal proposal {proposal_id}")
            for key, value in values.items():
                setattr(row, key, value)

    @guarded("record the disposal of package {document[package]}")
    def record_disposal(self, document: dict[str, Any]) -> None:
        """Delete every row of the package (files, versions, events, agents, metadata, search
        terms, fixity: by cascade) and insert its tombstone, in one transaction."""
        pid = document["package"]
        with self.catalog.session() as s, s.begin():
            s.execute(delete(PackageFixityRow).where(PackageFixityRow.package_id == pid))
            s.execute(delete(PackageRow).where(PackageRow.id == pid))
            if s.get(TombstoneRow, pid) is None:
                s.execute(insert(TombstoneRow), [_row(document)])
            fault_point("catalog.before-commit")  # every row deleted, the tombstone inserted, nothing committed

    @guarded("restore tombstones")
    def restore(self, documents: list[dict[str, Any]]) -> int:
        """Tombstones read back from storage (``archive reindex``); those present are kept."""
        with self.catalog.session() as s, s.begin():
            fresh = [d for d in documents if s.get(TombstoneRow, d["package"]) is None]
            if fresh:
                s.execute(insert(TombstoneRow), [_row(d) for d in fresh])
            return len(fresh)

    @guarded("restore disposal proposals")
    def restore_proposals(self, rows: list[dict[str, Any]]) -> None:
        """Proposals rebuilt from the ledger (``archive reindex``)."""
        with self.catalog.session() as s, s.begin():
            fresh = [r for r in rows if s.get(DisposalProposalRow, r["id"]) is None]
            if fresh:
                s.execute(insert(DisposalProposalRow), fresh)

    @guarded("list tombstones")
    def tombstones(self) -> list[Tombstone]:
        with self.catalog.session() as s:
            rows = s.scalars(select(TombstoneRow).order_by(TombstoneRow.package_id)).all()
            return [Tombstone.from_row(r) for r in rows]

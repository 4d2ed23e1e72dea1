"""Tables for fixity audits and the ledger's catalog mirror (migration 0002). Shares ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.catalog.tables import Base


class AuditRunRow(Base):
    """One run of ``archive audit`` (or of the scheduler, or of a repair)."""

    __tablename__ = "audit_runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | complete | budget | interrupted
    outcome: Mapped[str] = mapped_column(String(16), default="")  # success | failure | could-not-check
    selection: Mapped[str] = mapped_column(String(32))  # ids | all | due | repair
    jobs: Mapped[int] = mapped_column(Integer, default=1)
    max_seconds: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    packages: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    unchecked: Mapped[int] = mapped_column(Integer, default=0)
    repaired: Mapped[int] = mapped_column(Integer, default=0)
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    notified: Mapped[str] = mapped_column(Text, default="")


class AuditFindingRow(Base):
    """One problem found by a run (no foreign key to packages: orphans are not in the catalog)."""

    __tablename__ = "audit_findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("audit_runs.id", ondelete="CASCADE"), index=True)
    package_id: Mapped[str] = mapped_column(String(36), index=True)
    copy: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    expected: Mapped[dict[str, Any]] = mapped_column()
    found: Mapped[dict[str, Any]] = mapped_column()


class PackageFixityRow(Base):
    """Where each package stands: last complete pass over every copy, and a pass in progress."""

    __tablename__ = "package_fixity"
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="")
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    failed_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    pass_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)  # {"copy", "after"}
    pass_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    pass_unchecked: Mapped[bool] = mapped_column(Boolean, default=False)


class LedgerEntryRow(Base):
    """The catalog's mirror of the ledger in storage: the exact line of each entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_package_kind", "package_id", "kind"),)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    package_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    line: Mapped[str] = mapped_column(Text)

"""The catalog's tables, all on one ``Base``. All SQL lives in ``archive.catalog``; nothing else imports SQLAlchemy.

Packages and their files, metadata, agents and events (migration 0001); fixity audits and the
ledger's mirror (0002); API tokens, the access log, incidents and the search index (0003);
package versions and holds (0006); disposal proposals and tombstones (0007).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from archive.catalog.records import aware
from archive.model import Event, EventLink


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012 (SQLAlchemy's own class attribute)


class PackageRow(Base):
    __tablename__ = "packages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), index=True)
    profile_version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source_name: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    access_level: Mapped[str] = mapped_column(String(32))
    embargo_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    access_statement: Mapped[str] = mapped_column(Text, default="")
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_path: Mapped[str] = mapped_column(String(255))
    mets_sha256: Mapped[str] = mapped_column(String(64))
    descriptive: Mapped[dict[str, Any]] = mapped_column(JSON)
    dublin_core: Mapped[dict[str, Any]] = mapped_column(JSON)
    bag_info: Mapped[dict[str, Any]] = mapped_column(JSON)
    tag_digests: Mapped[dict[str, Any]] = mapped_column(JSON)  # tag file -> {algorithm: digest}
    #: the profile's fixity interval when the package was catalogued (NULL: not recorded; migration 0005)
    fixity_interval_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the head version's number (migration 0006); the columns above describe the head
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: a legal hold is on the package: no change and no disposal until it is released
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class VersionRow(Base):
    """One version of a package (migration 0006): what its METS and bag-info said, who made it and why."""

    __tablename__ = "package_versions"
    __table_args__ = (UniqueConstraint("package_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(32))  # ingest | amend | add | withdraw | access | hold | release
    reason: Mapped[str] = mapped_column(Text, default="")
    agent: Mapped[str] = mapped_column(Text, default="")
    mets_sha256: Mapped[str] = mapped_column(String(64))
    tag_digests: Mapped[dict[str, Any]] = mapped_column(JSON)
    descriptive: Mapped[dict[str, Any]] = mapped_column(JSON)
    dublin_core: Mapped[dict[str, Any]] = mapped_column(JSON)
    bag_info: Mapped[dict[str, Any]] = mapped_column(JSON)
    access_level: Mapped[str] = mapped_column(String(32))
    embargo_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    access_statement: Mapped[str] = mapped_column(Text, default="")
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)


class FileRow(Base):
    __tablename__ = "package_files"
    #: one row per path and version it starts in (a changed file has a row per content; migration 0006)
    __table_args__ = (UniqueConstraint("package_id", "path", "since_version", name="uq_package_files_version_path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    sha512: Mapped[str | None] = mapped_column(String(128), nullable=True)
    digests: Mapped[dict[str, Any]] = mapped_column(JSON)
    puid: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    format_name: Mapped[str] = mapped_column(Text, default="")
    format_version: Mapped[str] = mapped_column(Text, default="")
    mime: Mapped[str] = mapped_column(String(255), default="")
    basis: Mapped[str] = mapped_column(String(32), default="")
    tool: Mapped[str] = mapped_column(String(64), default="")
    tool_version: Mapped[str] = mapped_column(String(64), default="")
    signature_version: Mapped[str] = mapped_column(Text, default="")
    format_warning: Mapped[str] = mapped_column(Text, default="")
    original_name: Mapped[str] = mapped_column(Text, default="")
    file_metadata: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the versions holding this row's file: ``since_version`` up to, not including, ``until_version``
    #: (NULL: the head holds it). A changed or withdrawn file keeps its row (migration 0006).
    since_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    until_version: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class MetadataValueRow(Base):
    """One value of one descriptive field, so that any profile field can be queried."""

    __tablename__ = "metadata_values"
    __table_args__ = (Index("ix_metadata_field_value", "field", "value_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(Text)
    value_key: Mapped[str] = mapped_column(String(255))  # the value cut to fit an index


class AgentRow(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    identifier: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")


class EventRow(Base):
    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(32))
    outcome_detail: Mapped[str] = mapped_column(Text, default="")
    agents: Mapped[list[Any]] = mapped_column(JSON)
    objects: Mapped[list[Any]] = mapped_column(JSON)

    @staticmethod
    def values(package_id: str, e: Event) -> dict[str, Any]:
        """The row's columns for ``e``: the one way an event is written into the catalog."""
        return {
            "id": e.identifier,
            "package_id": package_id,
            "type": e.type,
            "occurred_at": e.datetime,
            "detail": e.detail,
            "outcome": e.outcome,
            "outcome_detail": e.outcome_detail,
            "agents": [{"agent": link.agent, "role": link.role} for link in e.agents],
            "objects": list(e.objects),
        }

    def event(self) -> Event:
        """The event this row holds: the one way an event is read back."""
        return Event(
            identifier=self.id,
            type=self.type,
            datetime=aware(self.occurred_at),
            detail=self.detail,
            outcome=self.outcome,
            outcome_detail=self.outcome_detail,
            agents=[EventLink(agent=a["agent"], role=a["role"]) for a in self.agents],
            objects=list(self.objects),
        )


# -- fixity audits and the ledger's mirror (migration 0002) --


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


# -- retrieval: tokens, the access log, incidents, the search index (migration 0003) --

#: search terms compare byte by byte (code point order) on every database, so that a prefix
#: query ``term >= 'harb' AND term < 'harc'`` can use the index
TERM_TYPE = String(64).with_variant(String(64, collation="C"), "postgresql")
TERM_LENGTH = 64


class TokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: refused from this moment on (NULL: never expires); migration 0004
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AccessLogRow(Base):
    """One recorded access: a metadata view, a file download or a package (zip) download."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_package_time", "package_id", "occurred_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    token_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    caller: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # view | file | package
    package_id: Mapped[str] = mapped_column(String(36))
    profile_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text, default="")
    byte_range: Mapped[str] = mapped_column(String(64), default="")  # "" for a whole file
    bytes_planned: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome: Mapped[str] = mapped_column(String(16))  # started | complete | aborted | delegated | failed


class IncidentRow(Base):
    """Stored bytes found not to match the catalog (or missing) while serving them."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    package_id: Mapped[str] = mapped_column(String(36), index=True)
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))  # missing | size-mismatch | digest-mismatch | unreadable
    detail: Mapped[str] = mapped_column(Text, default="")
    token_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    caller: Mapped[str] = mapped_column(String(128), default="")


class SearchTermRow(Base):
    """One normalised word of a package's descriptive metadata (free-text search)."""

    __tablename__ = "search_terms"
    term: Mapped[str] = mapped_column(TERM_TYPE, primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True, index=True)


class SearchDateRow(Base):
    """A date or date range found in one descriptive field (date-range search)."""

    __tablename__ = "search_dates"
    __table_args__ = (Index("ix_search_dates_field_start", "field", "start"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(128))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)


#: search and access filters read these columns only: an index that covers them lets a count or a
#: page of keys be answered from the index, without reading the (wide, JSON-laden) package rows
PACKAGES_RETRIEVAL_INDEX = Index(
    "ix_packages_retrieval",
    PackageRow.id,
    PackageRow.access_level,
    PackageRow.profile_id,
    PackageRow.created_at,
)


class DisposalProposalRow(Base):
    """A proposal to dispose of packages, and its approval by a second person (migration 0007)."""

    __tablename__ = "disposal_proposals"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    proposer: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # proposed | approved | executed | withdrawn
    package_ids: Mapped[list[Any]] = mapped_column(JSON)
    approver: Mapped[str] = mapped_column(Text, default="")
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    executed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")  # the approver's or withdrawer's words


class TombstoneRow(Base):
    """What is left of a disposed package: who, when, why, and what was disposed of (migration 0007).
    The same document is kept in every storage root (``extensions/archive-tombstones/<id>.json``)."""

    __tablename__ = "tombstones"
    package_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    disposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    proposal_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(Text)
    proposer: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    profile_id: Mapped[str] = mapped_column(String(64))
    access_level: Mapped[str] = mapped_column(String(32))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)

"""Tables for retrieval: API tokens, the access log, incidents, and the search index.

They share :class:`archive.catalog.tables.Base`; migration ``0003_access_and_usage`` creates them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.catalog.tables import Base, PackageRow

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
    package_id: Mapped[str] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True, index=True
    )


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

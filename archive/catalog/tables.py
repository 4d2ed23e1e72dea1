"""The catalog's tables. All SQL lives in ``archive.catalog``; nothing else imports SQLAlchemy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


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


class FileRow(Base):
    __tablename__ = "package_files"
    __table_args__ = (UniqueConstraint("package_id", "path"),)
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

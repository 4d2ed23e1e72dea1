"""The catalog's read records: what its queries hand back (plain frozen values, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, Self

from archive.model import title_of


def aware(value: datetime) -> datetime:
    """``value`` with UTC as its zone if it has none (SQLite hands back naive times)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 of ``value`` in its zone (UTC if naive); None stays None."""
    return aware(value).isoformat() if value else None


@dataclass(frozen=True)
class PackageInfo:
    """One catalogued package without its files, metadata or events: what listing, search and
    retrieval need to know about it before they decide anything (``as_dict`` for listings)."""

    id: str
    profile_id: str
    profile_version: str
    title: str
    created_at: datetime
    access_level: str
    embargo_until: date | None
    access_statement: str
    file_count: int
    total_bytes: int
    storage_path: str
    mets_sha256: str
    tag_digests: dict[str, dict[str, str]]
    version: int = 1  # the head version's number
    held: bool = False  # a legal hold is on it: no change, no disposal

    @classmethod
    def from_row(cls, r: Any, **more: Any) -> Self:
        """From a row with these fields' names (a ``packages`` row, or a select of
        :data:`archive.catalog.repository.PACKAGE_INFO_COLUMNS`); ``more``: a subclass's fields."""
        return cls(
            id=r.id,
            profile_id=r.profile_id,
            profile_version=r.profile_version,
            title=r.title,
            created_at=aware(r.created_at),
            access_level=r.access_level,
            embargo_until=r.embargo_until,
            access_statement=r.access_statement,
            file_count=r.file_count,
            total_bytes=r.total_bytes,
            storage_path=r.storage_path,
            mets_sha256=r.mets_sha256,
            tag_digests=dict(r.tag_digests),
            version=getattr(r, "version", 1),
            held=bool(getattr(r, "held", False)),
            **more,
        )

    def as_dict(self) -> dict[str, Any]:
        """The package as ``archive list --json`` and ``GET /packages`` show it."""
        return {
            "id": self.id,
            "profile": self.profile_id,
            "profile_version": self.profile_version,
            "title": self.title,
            "created": iso(self.created_at),
            "access_level": self.access_level,
            "embargo_until": self.embargo_until.isoformat() if self.embargo_until else None,
            "files": self.file_count,
            "bytes": self.total_bytes,
            "version": self.version,
            "held": self.held,
        }


@dataclass(frozen=True)
class PackageRecord(PackageInfo):
    """A package as an audit reads it: its :class:`PackageInfo`, every head file's ``(path, size,
    digests)``, and for every version the files and tag files it holds (audits read them all)."""

    files: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    #: every file row of every version: ``(since_version, until_version or None, path, size, digests)``
    history: list[tuple[int, int | None, str, int, dict[str, str]]] = field(default_factory=list)
    #: each version's tag files (bag path -> digests)
    version_tags: dict[int, dict[str, dict[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredFileInfo:
    """One file of a package, as retrieval serves it."""

    package_id: str
    path: str  # relative to data/
    size: int
    digests: dict[str, str]
    puid: str | None
    format_name: str
    mime: str
    key: int = 0  # the catalog row's key: what a page of files is continued after (see file_path)
    #: what the identification rests on: signature, container, extension (a guess) or none
    basis: str = ""


@dataclass(frozen=True)
class TokenInfo:
    """An API token as the catalog holds it (its secret only as salt and digest)."""

    id: str
    name: str
    role: str
    salt: str
    digest: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and aware(now) >= aware(self.expires_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created": iso(self.created_at),
            "revoked": iso(self.revoked_at),
            "expires": iso(self.expires_at),
        }


@dataclass
class AuditRun:
    """An audit run as the catalog holds it (``as_dict`` for JSON)."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    outcome: str
    selection: str
    jobs: int
    max_seconds: int | None
    max_bytes: int | None
    packages: int
    files: int
    bytes: int
    failures: int
    unchecked: int
    repaired: int
    stop_reason: str
    notified: str

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["started_at"], data["finished_at"] = iso(self.started_at), iso(self.finished_at)
        return data


@dataclass
class FixityState:
    """One package's fixity record; ``cursor`` set while a pass is split across runs."""

    package_id: str
    checked_at: datetime | None = None
    verified_at: datetime | None = None
    outcome: str = ""
    run_id: str | None = None
    failed_run_id: str | None = None
    pass_started_at: datetime | None = None
    cursor: dict[str, Any] | None = None
    pass_failed: bool = False
    pass_unchecked: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package_id,
            "outcome": self.outcome or None,
            "checked_at": iso(self.checked_at),
            "verified_at": iso(self.verified_at),
            "run": self.run_id,
            "failed_run": self.failed_run_id,
            "pass_in_progress": self.cursor is not None,
        }


@dataclass(frozen=True)
class VersionRecord:
    """One version of a package as the catalog holds it (``as_dict`` for ``--json`` and the API)."""

    number: int
    created_at: datetime
    kind: str  # ingest | amend | add | withdraw | access | hold | release
    reason: str
    agent: str
    mets_sha256: str
    title: str
    access_level: str
    embargo_until: date | None
    held: bool
    file_count: int
    total_bytes: int
    descriptive: dict[str, Any]
    dublin_core: dict[str, Any]
    access_statement: str = ""

    @classmethod
    def from_row(cls, r: Any) -> Self:
        descriptive = dict(r.descriptive)
        return cls(
            number=r.number,
            created_at=aware(r.created_at),
            kind=r.kind,
            reason=r.reason,
            agent=r.agent,
            mets_sha256=r.mets_sha256,
            title=title_of(descriptive, dict(r.dublin_core)),
            access_level=r.access_level,
            embargo_until=r.embargo_until,
            held=bool(r.held),
            file_count=r.file_count,
            total_bytes=r.total_bytes,
            descriptive=descriptive,
            dublin_core=dict(r.dublin_core),
            access_statement=r.access_statement,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.number,
            "created": iso(self.created_at),
            "kind": self.kind,
            "reason": self.reason,
            "agent": self.agent,
            "title": self.title,
            "access_level": self.access_level,
            "embargo_until": self.embargo_until.isoformat() if self.embargo_until else None,
            "held": self.held,
            "files": self.file_count,
            "bytes": self.total_bytes,
            "mets_sha256": self.mets_sha256,
        }

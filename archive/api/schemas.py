"""The shapes of the API's JSON answers, for the OpenAPI description (``/openapi.json``).

Routes build their answers as plain dicts (fast, no second validation); these models only
*document* them. ``tests/test_api_fuzz.py`` checks every answer the app gives against this
description, so a key added to a route and not here (``extra="forbid"``) fails a test.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors -----------------------------------------------------------------------------------
class ErrorDetail(_Doc):
    where: str = Field(description="The parameter at fault, e.g. `query parameter 'limit'`.")
    message: str


class ErrorBody(_Doc):
    code: str = Field(pattern=r"^E\d{3}$", description="The archive's error code (docs/api.md).")
    type: str = Field(description="The kind of error, e.g. `NotFound`.")
    status: int = Field(description="The HTTP status, repeated.")
    message: str
    details: list[ErrorDetail] | None = Field(default=None, description="One entry per bad parameter (422).")
    findings: list[dict[str, Any]] | None = Field(default=None, description="Rejected input (422).")
    tombstone: dict[str, Any] | None = Field(
        default=None, description="A disposed package (410): id, title, profile, disposed, reason."
    )


class ErrorDocument(_Doc):
    """Every error, whatever raised it."""

    error: ErrorBody


# -- packages ---------------------------------------------------------------------------------
class Access(_Doc):
    level: str
    embargo_until: str | None
    statement: str
    files_available: bool
    files_withheld_because: str | None
    files_available_from: str | None


class PackageSummary(_Doc):
    id: str
    profile: str
    profile_version: str
    title: str
    created: str
    access_level: str
    embargo_until: str | None
    files: int
    bytes: int
    version: int = Field(description="The head version's number (1 until the package is first changed).")
    held: bool = Field(description="A legal hold is on the package: nothing about it may change.")
    access: Access
    href: str


class SearchEcho(_Doc):
    """The query as understood (without the caller's access filter)."""

    q: str = ""
    profile: str = ""
    field: list[str] = []
    puid: list[str] = []
    created_from: str = ""
    created_to: str = ""
    date_from: str = ""
    date_to: str = ""


class PackageList(_Doc):
    total: int = Field(description="Every match the caller may see (hidden packages are not counted).")
    count: int
    limit: int
    next_cursor: str | None
    query: SearchEcho
    packages: list[PackageSummary]


class FormatCount(_Doc):
    puid: str | None
    name: str
    files: int
    bytes: int


class FilesSummary(_Doc):
    count: int
    bytes: int
    formats: list[FormatCount]
    href: str


class LastAudit(_Doc):
    outcome: str | None
    checked_at: str | None
    verified_at: str | None
    run: str | None
    failed_run: str | None
    pass_in_progress: bool


class PackageLinks(_Doc):
    mets: str
    events: str
    files: str
    download: str


class PackageDetail(_Doc):
    id: str
    title: str
    profile: str
    profile_version: str
    created: str
    access: Access
    metadata: dict[str, Any]
    dublin_core: dict[str, Any]
    files: FilesSummary
    last_audit: LastAudit | None
    links: PackageLinks


class Event(_Doc):
    id: str
    type: str
    datetime: str
    detail: str
    outcome: str
    outcome_detail: str
    agents: list[Any]
    objects: list[Any]


class EventsPage(_Doc):
    package_id: str
    count: int
    next_cursor: str | None
    events: list[Event]


class FileFormat(_Doc):
    puid: str | None
    name: str
    mime: str | None
    #: what the identification rests on: ``signature``, ``container``, ``extension`` (a guess from
    #: the file name only: the format policy counts it as unidentified) or ``none``
    basis: str | None = None


class FileEntry(_Doc):
    path: str
    size: int
    digests: dict[str, str]
    format: FileFormat
    href: str


class FilesPage(_Doc):
    package_id: str
    total: int
    count: int
    files_available: bool
    next_cursor: str | None
    files: list[FileEntry]


# -- audits, stats, health --------------------------------------------------------------------
class AuditRun(_Doc):
    id: str
    started_at: str
    finished_at: str | None
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


class AuditFinding(_Doc):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    package: str
    copy_: str = Field(alias="copy", description="The storage copy checked.")
    path: str
    kind: str
    code: str
    severity: str
    message: str
    expected: dict[str, Any] | None
    found: dict[str, Any] | None


class AuditRuns(_Doc):
    count: int
    limit: int
    offset: int
    runs: list[AuditRun]


class AuditRunDetail(AuditRun):
    findings: list[AuditFinding]


class Usage(_Doc):
    views: int
    downloads: int
    partial: int
    bytes: int


class ProfileUsage(Usage):
    profile: str


class PeriodUsage(Usage):
    period: str


class PackageUsage(Usage):
    package_id: str
    title: str
    profile: str


class Stats(_Doc):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(alias="from")
    to: str | None
    period: str
    profile: str | None
    totals: Usage
    by_profile: list[ProfileUsage]
    by_period: list[PeriodUsage]
    by_package: list[PackageUsage]


class Health(_Doc):
    status: str
    catalog: str
    storage: str
    version: str

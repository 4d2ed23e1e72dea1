"""The shapes of the API's JSON answers, for the OpenAPI description (``/openapi.json``), and of
the few request bodies it takes (decisions).

Routes build their answers as plain dicts (fast, no second validation); these models only
*document* them. ``tests/test_api_fuzz.py`` checks every answer the app gives against this
description, so a key added to a route and not here (``extra="forbid"``) fails a test. The
request bodies (:class:`AccessDecision`, :class:`HoldDecision`) are validated: unknown keys,
a missing or blank reason, and characters no record can hold are refused (422).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from archive.model import ACCESS_LEVELS


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
    versions: str


class PackageDetail(_Doc):
    id: str
    title: str
    profile: str
    profile_version: str
    created: str
    version: int = Field(description="The version shown: the head, or the one `?version=` asked for.")
    head_version: int = Field(description="The head version's number (the package's current state).")
    held: bool = Field(description="A legal hold was on the package in the version shown.")
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
    objects: list[Any] = Field(description="What the event concerns: the first 1,000 (objects_count says how many)")
    objects_count: int


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
    version: int = Field(description="The version listed: the head, or the one `?version=` asked for.")
    total: int
    count: int
    files_available: bool
    next_cursor: str | None
    files: list[FileEntry]


# -- versions and decisions --------------------------------------------------------------------
class VersionEntry(_Doc):
    version: int
    created: str
    kind: str = Field(description="ingest, amend, add, withdraw, access, hold or release.")
    reason: str
    agent: str = Field(description="Who made the version (a person's or a token's name).")
    title: str | None = Field(description="The version's title; null when the caller may not see that version.")
    access_level: str = Field(description="The access level the version was given.")
    embargo_until: str | None
    held: bool = Field(description="A legal hold was on the package in this version.")
    files: int
    bytes: int
    mets_sha256: str
    available: bool = Field(
        description="The caller may read this version: the head's access and the version's own both allow it."
    )
    files_available: bool = Field(description="The caller may download this version's files.")
    href: str


class VersionsPage(_Doc):
    package_id: str
    head_version: int
    count: int
    versions: list[VersionEntry] = Field(description="Every version, oldest first.")


class VersionMade(_Doc):
    """The version a decision made."""

    id: str
    version: int
    kind: str
    reason: str
    agent: str
    created: str
    summary: str
    files: int
    bytes: int
    stored_bytes: int = Field(description="Bytes this version added to storage (a decision adds tag files only).")


#: what no recorded reason may hold: C0 controls other than tab, line feed and carriage return,
#: and U+FFFE/U+FFFF (none of them can be written in XML, so in PREMIS); nor surrogates, checked
#: apart (a pattern naming them cannot be compiled by every JSON Schema validator)
_UNWRITABLE = r"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
#: a reason: writable, with at least one character that is not white space
REASON_PATTERN = rf"^[^{_UNWRITABLE}]*[^{_UNWRITABLE}\s][^{_UNWRITABLE}]*$"
_REASON = re.compile(REASON_PATTERN)
_SURROGATE = re.compile("[\ud800-\udfff]")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _reason(value: str) -> str:
    if not _REASON.fullmatch(value) or _SURROGATE.search(value):
        raise ValueError("must hold a character other than white space, and no control character (a recorded text)")
    return value


def _day(value: object) -> object:
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("must be a day, YYYY-MM-DD")
    return value


Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        json_schema_extra={"pattern": REASON_PATTERN},
        description="Why: recorded with the decision (PREMIS event, ledger, version message); "
        "at most 2,000 characters.",
    ),
    AfterValidator(_reason),
]
Day = Annotated[date, BeforeValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]


#: the access levels (archive.model.ACCESS_LEVELS, spelt out for the type checker)
AccessLevel = Literal["open", "restricted", "embargoed", "confidential", "legal-hold"]
assert set(AccessLevel.__args__) == set(ACCESS_LEVELS)  # type: ignore[attr-defined]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class AccessDecision(_Body):
    """An access decision: the package's new access level."""

    level: AccessLevel = Field(description="The new access level.")
    reason: Reason
    embargo_until: Day | None = Field(
        default=None, description="For `embargoed` only (and required there): the day files become available (UTC)."
    )


class HoldDecision(_Body):
    """A legal hold placed or released."""

    reason: Reason


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

"""The profile model: what a kind of collection requires of its packages. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

FIELD_TYPES = ("string", "text", "date", "integer", "boolean", "uri", "object")
DUBLIN_CORE = (
    "title",
    "creator",
    "subject",
    "description",
    "publisher",
    "contributor",
    "date",
    "type",
    "format",
    "identifier",
    "source",
    "language",
    "relation",
    "coverage",
    "rights",
)
UNIDENTIFIED_POLICIES = ("accept", "warn", "reject")
#: what a retention schedule asks for when it falls due (a person does it; the archive never deletes)
RETENTION_ACTIONS = ("review", "dispose")
#: a schedule's ``from`` that means the day the package was ingested (any other value names a date field)
FROM_INGEST = "ingest"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = "string"
    required: bool = False
    repeatable: bool = False
    pattern: str | None = None
    vocabulary: tuple[str, ...] = ()
    description: str = ""
    dc: str | None = None
    fields: tuple[FieldSpec, ...] = ()  # for type "object"

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "required": self.required, "repeatable": self.repeatable}
        if self.pattern:
            data["pattern"] = self.pattern
        if self.vocabulary:
            data["vocabulary"] = list(self.vocabulary)
        if self.dc:
            data["dc"] = self.dc
        data["description"] = self.description
        if self.fields:
            data["fields"] = {f.name: f.as_dict() for f in self.fields}
        return data


@dataclass(frozen=True)
class FormatPolicy:
    accepted: tuple[str, ...] = ()  # empty: every identified format is accepted
    warned: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    unidentified: str = "warn"


@dataclass(frozen=True)
class AccessRule:
    when: tuple[tuple[str, Any], ...]
    level: str


@dataclass(frozen=True)
class AccessPolicy:
    """How a profile decides its packages' access (docs/profiles.md, "Access").

    ``default`` (with ``embargo_until`` when it is ``embargoed``) and the first matching rule are
    the archive's decision; a submission may only tighten it, except to the levels listed in
    ``submitter_may_loosen``. ``metadata_visible_to`` narrows the access matrix for this profile's
    packages: level -> the roles that see their metadata at all.
    """

    default: str = "open"
    rules: tuple[AccessRule, ...] = ()
    embargo_until: date | None = None  # the default's embargo end (default embargoed only); None: no date
    submitter_may_loosen: tuple[str, ...] = ()
    metadata_visible_to: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def visible_to(self) -> dict[str, tuple[str, ...]] | None:
        """The narrowing as :mod:`archive.access.policy` takes it; ``None`` when there is none."""
        return dict(self.metadata_visible_to) or None

    def as_dict(self) -> dict[str, Any]:
        return {
            "default": self.default,
            "embargo_until": self.embargo_until.isoformat() if self.embargo_until else None,
            "rules": [{"when": dict(r.when), "level": r.level} for r in self.rules],
            "submitter_may_loosen": list(self.submitter_may_loosen),
            "metadata_visible_to": {level: list(roles) for level, roles in self.metadata_visible_to},
        }


@dataclass(frozen=True)
class Period:
    """A length of time kept: whole years, months and days, added in that order (see
    :func:`archive.services.lifecycle.retention.add_period`)."""

    years: int = 0
    months: int = 0
    days: int = 0

    def is_zero(self) -> bool:
        return not (self.years or self.months or self.days)

    def as_dict(self) -> dict[str, int]:
        """The non-zero parts, as a profile gives them (``{"days": 0}`` for no time at all)."""
        parts = {k: v for k, v in (("years", self.years), ("months", self.months), ("days", self.days)) if v}
        return parts or {"days": 0}

    def describe(self) -> str:
        """'7 years', '1 year 6 months', '0 days'."""
        units = (("year", self.years), ("month", self.months), ("day", self.days))
        parts = [f"{n} {unit}{'' if n == 1 else 's'}" for unit, n in units if n]
        return " ".join(parts) or "0 days"


@dataclass(frozen=True)
class RetentionSchedule:
    """Keep a package for ``keep`` from ``start`` (the ingest day, or the date in a date field of
    the package's metadata), then ``then``: a review or a disposal, each done by people."""

    name: str
    keep: Period
    start: str  # FROM_INGEST, or the name of a date field of the profile
    then: str  # one of RETENTION_ACTIONS
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "keep": self.keep.as_dict(), "from": self.start, "then": self.then}
        if self.description:
            data["description"] = self.description
        return data


@dataclass(frozen=True)
class Profile:
    id: str
    version: str
    title: str
    description: str
    checksums: tuple[str, ...]
    fixity_interval_days: int
    allow_extra_fields: bool
    access: AccessPolicy
    formats: FormatPolicy
    fields: tuple[FieldSpec, ...]
    file_fields: tuple[FieldSpec, ...]
    extends: tuple[str, ...] = ()  # the chain of profiles this one inherits from, nearest first
    source: str = ""  # the YAML file it was read from
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    retention: tuple[RetentionSchedule, ...] = ()  # none: the profile's packages are kept indefinitely

    def field(self, name: str) -> FieldSpec | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "extends": list(self.extends),
            "checksums": list(self.checksums),
            "fixity_interval_days": self.fixity_interval_days,
            "allow_extra_fields": self.allow_extra_fields,
            "access": self.access.as_dict(),
            "formats": {
                "accepted": list(self.formats.accepted),
                "warned": list(self.formats.warned),
                "rejected": list(self.formats.rejected),
                "unidentified": self.formats.unidentified,
            },
            "fields": {f.name: f.as_dict() for f in self.fields},
            "file_fields": {f.name: f.as_dict() for f in self.file_fields},
            "retention": [r.as_dict() for r in self.retention],
            "source": self.source,
        }

"""Domain types shared by every part of the archive. Pure data: no I/O here.

A :class:`Package` is everything the archive knows about one AIP. It is written into the
bag's METS document and into the catalog, and can be read back from the METS alone (storage
is the truth; the catalog is an index rebuilt from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

#: PREMIS event types used by the archive (Library of Congress eventType vocabulary labels)
EVENT_INGESTION = "ingestion"
EVENT_VALIDATION = "validation"
EVENT_FORMAT_IDENTIFICATION = "format identification"
EVENT_MESSAGE_DIGEST = "message digest calculation"
EVENT_FIXITY_CHECK = "fixity check"
EVENT_PACKAGE_CREATION = "information package creation"
EVENT_REPLICATION = "replication"
EVENT_METADATA_MODIFICATION = "metadata modification"
EVENT_MODIFICATION = "modification"
EVENT_POLICY_ASSIGNMENT = "policy assignment"  # an access decision, a legal hold placed or released
EVENT_DEACCESSION = "deaccession"
EVENT_DELETION = "deletion"
#: the bag-info tag that records a legal hold on the package (its value says who placed it, when and why)
LEGAL_HOLD_TAG = "Archive-Legal-Hold"
#: the bag-info tag that names the version a bag is
VERSION_TAG = "Archive-Version"

#: PREMIS agent types
AGENT_SOFTWARE = "software"
AGENT_ORGANIZATION = "organization"
AGENT_PERSON = "person"

#: access levels a profile or package may set
ACCESS_OPEN = "open"
ACCESS_RESTRICTED = "restricted"
ACCESS_EMBARGOED = "embargoed"
ACCESS_CONFIDENTIAL = "confidential"
ACCESS_LEGAL_HOLD = "legal-hold"
ACCESS_LEVELS = (ACCESS_OPEN, ACCESS_RESTRICTED, ACCESS_EMBARGOED, ACCESS_CONFIDENTIAL, ACCESS_LEGAL_HOLD)

OUTCOME_SUCCESS = "success"
OUTCOME_FAILURE = "failure"
OUTCOME_WARNING = "warning"


def title_of(metadata: dict[str, Any], dublin_core: dict[str, Any]) -> str:
    """A package's title from its descriptive metadata, else from its Dublin Core."""
    return str(metadata.get("title") or (dublin_core.get("title") or [""])[0])


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class FormatInfo:
    """What identified a file's format, and with which tool and signature version."""

    puid: str | None  # None: unidentified
    name: str = ""
    version: str = ""
    mime: str = ""
    basis: str = ""  # "signature", "container", "extension", "none"
    tool: str = ""
    tool_version: str = ""
    signature_version: str = ""
    warning: str = ""

    @property
    def identified(self) -> bool:
        return bool(self.puid)


@dataclass(slots=True)
class FileRecord:
    """One payload file. ``path`` is relative to the bag's ``data/`` folder, '/'-separated, NFC."""

    path: str
    size: int
    digests: dict[str, str]
    format: FormatInfo | None = None
    original_name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def bag_path(self) -> str:
        return f"data/{self.path}"


#: the AIP's tag folder holding what a submission brought beside its payload
SUBMISSION_FOLDER = "submission"


@dataclass
class SubmittedFile:
    """A file a submission brought beside its payload, kept in the AIP under ``submission/``:
    a submitted bag's own tag files and tag folders (bag-info.txt, its manifests, an
    Archivematica ``metadata/`` or ``logs/`` folder), and the metadata files it was described
    with. ``path`` is relative to the submission's root, '/'-separated."""

    path: str
    size: int
    digests: dict[str, str]

    @property
    def bag_path(self) -> str:
        return f"{SUBMISSION_FOLDER}/{self.path}"


@dataclass
class Agent:
    """A PREMIS agent. ``identifier`` is stable and unique within a package."""

    identifier: str
    name: str
    type: str
    note: str = ""  # e.g. a software's version and signature file


@dataclass(slots=True)
class EventLink:
    agent: str  # Agent.identifier
    role: str  # "executing program", "implementer", "authorizer", ...


@dataclass(slots=True)
class Event:
    """A PREMIS event. ``objects`` lists file paths (relative to data/) or the package id."""

    identifier: str
    type: str
    datetime: datetime
    detail: str
    outcome: str
    outcome_detail: str = ""
    agents: list[EventLink] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)


@dataclass
class Access:
    level: str = ACCESS_OPEN
    embargo_until: date | None = None
    statement: str = ""  # human-readable rights/access statement


@dataclass
class Package:
    """Everything the archive records about one AIP."""

    id: str
    profile_id: str
    profile_version: str
    created: datetime
    metadata: dict[str, Any]  # descriptive fields, as the profile names them
    dublin_core: dict[str, list[str]]  # the profile's Dublin Core mapping of ``metadata``
    access: Access
    files: list[FileRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    bag_info: dict[str, list[str]] = field(default_factory=dict)
    source_name: str = ""
    idempotency_key: str = ""
    #: what the submission brought beside its payload (see :class:`SubmittedFile`)
    submitted: list[SubmittedFile] = field(default_factory=list)
    #: days between fixity audits, from the profile at ingest (None: not known, e.g. read from a METS)
    fixity_interval_days: int | None = None
    #: the version this state is (1 at ingest; each amendment, addition, withdrawal or decision adds one)
    version: int = 1
    #: when and by whom this version was made (None / "": at ingest, ``created`` and the submitter)
    version_created: datetime | None = None
    version_agent: str = ""

    @property
    def title(self) -> str:
        """The title the archive lists the package by: its ``title`` field, else its Dublin Core title."""
        return title_of(self.metadata, self.dublin_core)

    @property
    def held(self) -> bool:
        """A legal hold is on the package (recorded as bag-info's ``Archive-Legal-Hold``, so in its METS)."""
        return bool(self.bag_info.get(LEGAL_HOLD_TAG))

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def file(self, path: str) -> FileRecord | None:
        for f in self.files:
            if f.path == path:
                return f
        return None

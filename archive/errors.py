"""One exception tree for the whole archive, and what each error means to a caller.

Each class has a stable ``code``, the HTTP status the API answers it with (:data:`HTTP_STATUS`)
and the exit status of the ``archive`` command (:data:`EXIT_STATUS`); both tables give the
nearest class in an error's MRO. ``tests/test_error_tree.py`` checks this drawing against them::

    class                             code  HTTP  exit  meaning
    ArchiveError                      E000   500     1  anything the archive reports on purpose
    ├── ConfigError                   E001   500     2  settings file or environment is wrong
    │   ├── ArchiveNotFound           E007   500     2  no archive at the home a command needs
    │   ├── NoProfiles                E008   500     2  no profile found at all (a broken install)
    │   └── UnknownInterval           E009   500     2  packages whose profile and fixity interval are unknown
    ├── NotFound                      E002   404     1  a package, file or token that does not exist
    │   └── Gone                      E010   410     1  a package that was disposed of (its tombstone says when and why)
    ├── AuthenticationRequired        E003   401     1  no valid credentials (missing, unknown or revoked token)
    ├── AccessDenied                  E004   403     1  the caller may not see this (files withheld, role too low)
    ├── InvalidRequest                E005   400     2  a malformed identifier, path, range or parameter
    │   └── RangeNotSatisfiable       E006   416     2  a Range header that names no byte of the file
    ├── ProfileError                  E100   500     1  a profile file is broken or unknown
    ├── RejectedError                 E110   422     1  input failed validation; carries every Finding
    │   ├── SubmissionRejected        E111   422     1  a submission (folder, archive, bag) was rejected
    │   │   └── UnsafeFile            E112   422     1  one file of a submission was refused
    │   └── BagInvalid                E300   422     1  a BagIt bag failed validation
    ├── FormatError                   E200   500     1  format identification could not run
    ├── PackagingError                E310   500     1  building METS/PREMIS or a bag failed
    ├── MetadataError                 E490   500     1  descriptive metadata could not be read
    ├── StorageError                  E500   503     3  storage is unreachable, or a write-once rule was hit
    │   ├── VersionConflict           E501   503     3  another writer added that OCFL version (or object) first
    │   ├── ObjectExists              E502   503     3  object storage holds other bytes under a write-once key
    │   └── AuditBusy                 E503   503     3  another audit, repair or doctor holds the audit lock
    ├── FixityError                   E600   500     1  stored bytes do not match their recorded digests
    ├── CatalogError                  E700   503     3  the catalog database failed
    │   └── AlreadyRecorded           E701   503     3  an idempotency key is recorded already
    ├── CatalogNotEmpty               E710   500     1  reindex refused: the catalog is not empty
    └── ChangeRefused                 E800   409     1  a change the package's state does not allow now
        └── ChangeConflict            E801   409     1  another change of the package came first: read it again

The subclasses live where they are raised: ``ArchiveNotFound`` in ``services/context.py``,
``NoProfiles`` in ``profiles/loader.py``, ``UnknownInterval`` in ``services/audit/intervals.py``,
``UnsafeFile`` in ``submission/safeopen.py``, ``AlreadyRecorded`` in ``catalog/repository.py``,
``CatalogNotEmpty`` in ``services/recovery/reindex.py``, ``VersionConflict`` in
``storage/ocfl/writing.py``, ``ObjectExists`` in ``storage/objects.py``, ``AuditBusy`` in
``services/audit/run.py``.

A class code is never a finding code: finding codes (``E101``, ``W201``, ...) say what was wrong
with the input, class codes which kind of error stopped a command.

Not in the tree, on purpose: :data:`INTERNAL_SIGNALS`, exceptions that never leave the code
that raises them (each is caught nearby and becomes a :class:`Finding` or a tree error), and
``StreamAborted``, raised inside an HTTP response already under way so that the server cuts
the connection (an ArchiveError there would reach the API's error handler).

Validation problems are data: a :class:`Finding` each. Validators collect all of them and
raise one :class:`RejectedError` carrying the list, so a user sees every problem at once.
Third-party exceptions are translated where the library is called (``raise ... from exc``).
Every error, in the API and with ``archive ... --json``, is one JSON shape: :func:`error_document`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ERROR",
    "EXIT_STATUS",
    "HTTP_STATUS",
    "INTERNAL_SIGNALS",
    "WARNING",
    "AccessDenied",
    "ArchiveError",
    "AuthenticationRequired",
    "BagInvalid",
    "CatalogError",
    "ChangeConflict",
    "ChangeRefused",
    "ConfigError",
    "Finding",
    "FixityError",
    "FormatError",
    "Gone",
    "InvalidRequest",
    "MetadataError",
    "NotFound",
    "PackagingError",
    "ProfileError",
    "RangeNotSatisfiable",
    "RejectedError",
    "StorageError",
    "SubmissionRejected",
    "error_body",
    "error_document",
    "exit_status",
    "http_status",
]

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem found while validating something.

    ``code`` is stable (``E1xx`` submission, ``E4xx`` metadata, ...), ``severity`` is
    ``"error"`` or ``"warning"``, ``path`` names the file or field concerned (or ``""``).
    """

    code: str
    severity: str
    path: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"[{self.code}] {self.severity}: {where}{self.message}"


def error(code: str, path: str, message: str) -> Finding:
    return Finding(code, ERROR, path, message)


def warning(code: str, path: str, message: str) -> Finding:
    return Finding(code, WARNING, path, message)


class ArchiveError(Exception):
    """Base of every error the archive raises on purpose."""

    code = "E000"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def summary(self) -> str:
        """The message a caller reads first (for a RejectedError: without the list of findings)."""
        return self.message

    def as_dict(self) -> dict[str, Any]:
        """This error as the API and ``--json`` give it: the ``"error"`` object of :func:`error_document`."""
        return error_document(self)["error"]


class ConfigError(ArchiveError):
    code = "E001"


class NotFound(ArchiveError):
    code = "E002"


class Gone(NotFound):
    """A package that was disposed of: ``tombstone`` is what anyone who could see it may know
    (id, title, profile, when, why)."""

    code = "E010"

    def __init__(self, message: str, tombstone: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.tombstone = dict(tombstone or {})


class AuthenticationRequired(ArchiveError):
    code = "E003"


class AccessDenied(ArchiveError):
    code = "E004"


class InvalidRequest(ArchiveError):
    code = "E005"


class RangeNotSatisfiable(InvalidRequest):
    """A Range header that names no bytes of the file (answered 416 with ``Content-Range: bytes */size``)."""

    code = "E006"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class ProfileError(ArchiveError):
    code = "E100"


class RejectedError(ArchiveError):
    """Validation failed: ``findings`` lists every problem (errors and warnings)."""

    code = "E110"

    def __init__(self, message: str, findings: Iterable[Finding] = ()) -> None:
        self.findings: list[Finding] = list(findings)
        errors = [f for f in self.findings if f.is_error]
        if errors:
            message = f"{message}: {len(errors)} problem(s)\n" + "\n".join(f"  {f}" for f in errors)
        super().__init__(message)
        self._summary = message.splitlines()[0] if message else ""

    @property
    def summary(self) -> str:
        return self._summary


class SubmissionRejected(RejectedError):
    code = "E111"


class BagInvalid(RejectedError):
    code = "E300"


class FormatError(ArchiveError):
    code = "E200"


class PackagingError(ArchiveError):
    code = "E310"


class MetadataError(ArchiveError):
    code = "E490"


class StorageError(ArchiveError):
    code = "E500"


class FixityError(ArchiveError):
    code = "E600"


class CatalogError(ArchiveError):
    code = "E700"


class ChangeRefused(ArchiveError):
    """A change of a stored package that its state does not allow now: a legal hold is on it, it
    was disposed of, or the one who approves a disposal is the one who proposed it."""

    code = "E800"


class ChangeConflict(ChangeRefused):
    """Another change of the package (a new version) came first; nothing of either is lost."""

    code = "E801"


# -- what an error means to a caller: one table for the API, one for the CLI, one JSON shape ----

#: the HTTP status the API answers an error with; the nearest class in an error's MRO wins
HTTP_STATUS: dict[type[ArchiveError], int] = {
    ArchiveError: 500,
    NotFound: 404,
    Gone: 410,
    AuthenticationRequired: 401,
    AccessDenied: 403,
    InvalidRequest: 400,
    RangeNotSatisfiable: 416,
    RejectedError: 422,
    FixityError: 500,  # stored bytes differ from the catalog: the archive's fault, recorded as an incident
    StorageError: 503,
    CatalogError: 503,
    ChangeRefused: 409,
}

#: the exit status of ``archive`` for an error (0 success; 1 rejected or invalid input, failed
#: check; 2 usage; 3 could not reach storage or catalog); the nearest class in an error's MRO wins
EXIT_STATUS: dict[type[ArchiveError], int] = {
    ArchiveError: 1,
    ConfigError: 2,
    InvalidRequest: 2,
    StorageError: 3,
    CatalogError: 3,
}

#: exceptions defined in archive/ that are not in the tree: each is caught next to where it is
#: raised and becomes a Finding or a tree error ("module:Class": where it is translated)
INTERNAL_SIGNALS: Mapping[str, str] = {
    "archive.api.serving:StreamAborted": "cuts an HTTP response already under way (never handled)",
    "archive.ledger.format:LedgerFormatError": "ledger/store.py, ledger/verify.py, services/recovery/reindex.py",
    "archive.safeyaml:UnsafeYAML": "config.py, profiles/loader.py, submission/metadata.py",
    "archive.safeyaml:DuplicateKeys": "config.py, profiles/loader.py, submission/metadata.py",
    "archive.services.ingest.prepare:_Changed": "services/ingest/prepare.py (E141)",
    "archive.submission.safeopen:_Unlistable": "submission/safeopen.py (UnsafeFile)",
    "archive.submission.sevenzip:SevenZipUnreadable": "submission/extract.py (E120)",
    "archive.submission.sevenzip:_Refused": "submission/sevenzip.py (E120, E125, E128)",
    "archive.submission.tarlist:HeaderTooLarge": "submission/extract.py (E120)",
    "archive.submission.tarlist:StreamTooLong": "submission/extract.py (E125, E128)",
    "archive.submission.zipcheck:ZipUnreadable": "submission/extract.py (E120)",
}


def _nearest(table: Mapping[type[ArchiveError], int], exc: ArchiveError | type[ArchiveError]) -> int:
    cls = exc if isinstance(exc, type) else type(exc)
    return next(table[c] for c in cls.__mro__ if c in table)  # ArchiveError is in every table


def http_status(exc: ArchiveError | type[ArchiveError]) -> int:
    """The HTTP status of ``exc`` (an error or an error class) from :data:`HTTP_STATUS`."""
    return _nearest(HTTP_STATUS, exc)


def exit_status(exc: ArchiveError | type[ArchiveError]) -> int:
    """The exit status of ``archive`` for ``exc`` (an error or an error class) from :data:`EXIT_STATUS`."""
    return _nearest(EXIT_STATUS, exc)


def error_body(code: str, kind: str, status: int, message: str, **extra: Any) -> dict[str, Any]:
    """The one JSON shape of an error: ``{"error": {"code", "type", "status", "message", ...}}``."""
    return {"error": {"code": code, "type": kind, "status": status, "message": message, **extra}}


def error_document(exc: ArchiveError, message: str | None = None) -> dict[str, Any]:
    """``exc`` in the one JSON shape; rejected input adds ``findings``. ``message`` replaces the
    error's own (the API tells a caller less of its own failures than the log)."""
    extra: dict[str, Any] = {}
    if isinstance(exc, RejectedError):
        extra["findings"] = [f.as_dict() for f in exc.findings]
    if isinstance(exc, Gone) and exc.tombstone:
        extra["tombstone"] = exc.tombstone
    text = exc.summary if message is None else message
    return error_body(exc.code, type(exc).__name__, http_status(exc), text, **extra)


@dataclass
class FindingList:
    """A small collector: ``add`` findings, then ``raise_if_errors``."""

    items: list[Finding] = field(default_factory=list)

    def error(self, code: str, path: str, message: str) -> None:
        self.items.append(error(code, path, message))

    def warning(self, code: str, path: str, message: str) -> None:
        self.items.append(warning(code, path, message))

    def extend(self, findings: Iterable[Finding]) -> None:
        self.items.extend(findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.items if not f.is_error]

    def raise_if_errors(self, exc_type: type[RejectedError], message: str) -> None:
        if self.errors:
            raise exc_type(message, self.items)

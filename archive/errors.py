"""One exception tree for the whole archive.

::

    ArchiveError                      E000  anything the archive reports on purpose
    ├── ConfigError                   E001  settings file or environment is wrong
    ├── NotFound                      E002  a package, file or token that does not exist
    ├── AuthenticationRequired        E003  no valid credentials (missing, unknown or revoked token)
    ├── AccessDenied                  E004  the caller may not see this (files withheld, role too low)
    ├── InvalidRequest                E005  a malformed identifier, path, range or parameter
    ├── ProfileError                  E100  a profile file is broken or unknown
    ├── RejectedError                 E110  input failed validation; carries every Finding
    │   ├── SubmissionRejected        E111  a submission (folder, archive, bag) was rejected
    │   └── BagInvalid                E300  a BagIt bag failed validation
    ├── FormatError                   E200  format identification could not run
    ├── PackagingError                E310  building METS/PREMIS or a bag failed
    ├── MetadataError                 E400  descriptive metadata could not be read
    ├── StorageError                  E500  storage is unreachable, or a write-once rule was hit
    ├── FixityError                   E600  stored bytes do not match their recorded digests
    └── CatalogError                  E700  the catalog database failed

Validation problems are data: a :class:`Finding` each. Validators collect all of them and
raise one :class:`RejectedError` carrying the list, so a user sees every problem at once.
Third-party exceptions are translated where the library is called (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "ERROR",
    "WARNING",
    "AccessDenied",
    "ArchiveError",
    "AuthenticationRequired",
    "BagInvalid",
    "CatalogError",
    "ConfigError",
    "Finding",
    "FixityError",
    "FormatError",
    "InvalidRequest",
    "MetadataError",
    "NotFound",
    "PackagingError",
    "ProfileError",
    "RejectedError",
    "StorageError",
    "SubmissionRejected",
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
    #: process exit status the CLI uses for this error
    exit_status = 1

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "error": type(self).__name__, "message": self.message}


class ConfigError(ArchiveError):
    code = "E001"
    exit_status = 2


class NotFound(ArchiveError):
    code = "E002"


class AuthenticationRequired(ArchiveError):
    code = "E003"


class AccessDenied(ArchiveError):
    code = "E004"


class InvalidRequest(ArchiveError):
    code = "E005"
    exit_status = 2


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
        self.summary = message.splitlines()[0] if message else ""

    def as_dict(self) -> dict[str, object]:
        data = super().as_dict()
        data["message"] = self.summary
        data["findings"] = [f.as_dict() for f in self.findings]
        return data


class SubmissionRejected(RejectedError):
    code = "E111"


class BagInvalid(RejectedError):
    code = "E300"


class FormatError(ArchiveError):
    code = "E200"


class PackagingError(ArchiveError):
    code = "E310"


class MetadataError(ArchiveError):
    code = "E400"


class StorageError(ArchiveError):
    code = "E500"
    exit_status = 3


class FixityError(ArchiveError):
    code = "E600"


class CatalogError(ArchiveError):
    code = "E700"
    exit_status = 3


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

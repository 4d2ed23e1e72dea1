"""What an audit can find, as data: one :class:`AuditFinding` per problem, never an exception.

Two severities: ``failure`` (checked, and wrong) and ``unchecked`` (could not check: storage
unreachable, permission denied, read error). The CLI maps them to exit statuses 1 and 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAILURE = "failure"
UNCHECKED = "unchecked"

#: kind -> (code, severity, short label)
KINDS: dict[str, tuple[str, str, str]] = {
    "changed": ("E601", FAILURE, "content changed"),
    "truncated": ("E602", FAILURE, "file truncated"),
    "missing": ("E603", FAILURE, "file missing"),
    "extra": ("E604", FAILURE, "unexpected file"),
    "tag-changed": ("E605", FAILURE, "tag file changed"),
    "package-missing": ("E606", FAILURE, "package missing"),
    "orphan": ("E607", FAILURE, "package unknown to the catalog"),
    "not-regular": ("E608", FAILURE, "not a regular file"),
    "catalog-changed": ("E609", FAILURE, "catalog record differs from the ledger"),
    "inventory": ("E610", FAILURE, "OCFL inventory damaged or missing a version"),
    "unreadable": ("E650", UNCHECKED, "could not read"),
    "unreachable": ("E651", UNCHECKED, "storage unreachable"),
}

#: kinds a repair can fix by copying a good file in (or moving an unexpected one out)
REPAIRABLE = frozenset({"changed", "truncated", "missing", "tag-changed", "not-regular", "extra"})


@dataclass(frozen=True)
class AuditFinding:
    """One problem with one package copy (``copy`` names the storage; ``path`` is bag-relative)."""

    package_id: str
    copy: str
    path: str
    kind: str
    message: str
    expected: dict[str, Any] = field(default_factory=dict)
    found: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return KINDS[self.kind][0]

    @property
    def severity(self) -> str:
        return KINDS[self.kind][1]

    @property
    def is_failure(self) -> bool:
        return self.severity == FAILURE

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package_id,
            "copy": self.copy,
            "path": self.path,
            "kind": self.kind,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
        }

    def line(self) -> str:
        """One line for people and for PREMIS outcome details, with full digests."""
        where = f"{self.copy} {self.path}".strip()
        text = f"[{self.code}] {where}: {self.message}"
        for algo in sorted(set(self.expected) | set(self.found)):
            if algo == "size" or self.expected.get(algo) == self.found.get(algo):
                continue
            text += f"; {algo} expected {self.expected.get(algo, '-')}, found {self.found.get(algo, '-')}"
        return text


def finding(
    package_id: str,
    copy: str,
    path: str,
    kind: str,
    message: str = "",
    expected: dict[str, Any] | None = None,
    found: dict[str, Any] | None = None,
) -> AuditFinding:
    if kind not in KINDS:
        raise ValueError(f"unknown audit finding kind {kind!r}")
    return AuditFinding(package_id, copy, path, kind, message or KINDS[kind][2], expected or {}, found or {})

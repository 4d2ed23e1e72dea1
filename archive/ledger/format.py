"""The ledger's entry format: one canonical JSON object per line, each carrying its predecessor's hash.

An entry is ``{"v": 1, "seq": N, "time": ISO-8601 UTC, "kind": ..., "prev": HEX, "body": {...},
"hash": HEX}`` where ``hash`` is the SHA-256 of the canonical JSON of every other field (keys
sorted, no spaces, UTF-8) and ``prev`` is the previous entry's ``hash`` (64 zeros for the first).
See docs/ledger.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

VERSION = 1
GENESIS = "0" * 64

KIND_EVENT = "event"  # a PREMIS event the catalog records (ingest, audit, repair)
KIND_PACKAGE = "package"  # a package's content token, written at ingest before its events
KIND_WITHDRAWN = "withdrawn"  # an ingest whose entries were written but whose catalog record failed
KIND_AUDIT_RUN = "audit-run"  # the summary of one audit run
KIND_VERSION = "version"  # a new version's content token, kind, reason and agent, before its events
KIND_DISPOSAL = "disposal"  # a disposal proposed, approved, withdrawn or executed (with its tombstone's digest)
KINDS = (KIND_EVENT, KIND_PACKAGE, KIND_WITHDRAWN, KIND_AUDIT_RUN, KIND_VERSION, KIND_DISPOSAL)


class LedgerFormatError(ValueError):
    """A line is not a well-formed ledger entry."""


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def iso_utc(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    time: str
    kind: str
    prev: str
    body: dict[str, Any]
    hash: str
    #: the stored line, when the entry was made here (:func:`make_entry`); else made on demand
    text: str = field(default="", compare=False, repr=False)

    def fields(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "prev": self.prev,
            "body": self.body,
        }

    def computed_hash(self) -> str:
        return hashlib.sha256(canonical(self.fields())).hexdigest()

    @property
    def line(self) -> str:
        """The entry as stored: canonical JSON, no newline."""
        return self.text or canonical({**self.fields(), "hash": self.hash}).decode("utf-8")

    @property
    def package_id(self) -> str | None:
        value = self.body.get("package")
        return value if isinstance(value, str) else None

    @property
    def event_id(self) -> str | None:
        event = self.body.get("event")
        return event.get("id") if isinstance(event, dict) else None


def make_entry(seq: int, prev: str, kind: str, body: dict[str, Any], when: datetime) -> LedgerEntry:
    """A new entry, its hash and its stored line made from one encoding of its body: canonical
    JSON sorts the keys, so the line is the hashed text with ``"hash"`` put between ``body`` and
    ``kind`` (what :meth:`LedgerEntry.computed_hash` and :attr:`LedgerEntry.line` would give)."""
    if kind not in KINDS:
        raise ValueError(f"unknown ledger entry kind {kind!r}")
    time = iso_utc(when)
    head = '{"body":' + canonical(body).decode("utf-8")
    tail = f',"kind":{_string(kind)},"prev":{_string(prev)},"seq":{int(seq)},"time":{_string(time)},"v":{VERSION}}}'
    digest = hashlib.sha256((head + tail).encode("utf-8")).hexdigest()
    return LedgerEntry(seq, time, kind, prev, body, digest, f'{head},"hash":"{digest}"{tail}')


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def parse_line(line: str) -> LedgerEntry:
    """Read one stored line (hash not checked here: see verify)."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LedgerFormatError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LedgerFormatError("not a JSON object")
    try:
        entry = LedgerEntry(
            int(data["seq"]),
            str(data["time"]),
            str(data["kind"]),
            str(data["prev"]),
            dict(data["body"]),
            str(data["hash"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerFormatError(f"missing or malformed field: {exc}") from exc
    if data.get("v") != VERSION or set(data) != {"v", "seq", "time", "kind", "prev", "body", "hash"}:
        raise LedgerFormatError("unknown version or fields")
    return entry

"""Verify a ledger: every entry's hash, every link to its predecessor, the sequence, and agreement
with its replica copies, the catalog's mirror and a witnessed head digest. Streams: one pass."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from archive.ledger.format import GENESIS, LedgerEntry, LedgerFormatError, parse_line

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    where: str  # "primary", a replica's name, "catalog", "witness"
    seq: int | None
    message: str
    severity: str = ERROR

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "seq": self.seq, "message": self.message, "severity": self.severity}

    def __str__(self) -> str:
        at = f" entry {self.seq}" if self.seq is not None else ""
        return f"{self.severity}: {self.where}{at}: {self.message}"


@dataclass
class LedgerReport:
    entries: int = 0
    head: LedgerEntry | None = None
    problems: list[Problem] = field(default_factory=list)
    copies: dict[str, str] = field(default_factory=dict)  # replica name -> status
    witnessed_seq: int | None = None
    checked: dict[str, int] = field(default_factory=dict)  # extra counts (catalog events compared, ...)

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)

    def add(self, where: str, seq: int | None, message: str, severity: str = ERROR) -> None:
        self.problems.append(Problem(where, seq, message, severity))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": ({"seq": self.head.seq, "hash": self.head.hash, "time": self.head.time} if self.head else None),
            "copies": self.copies,
            "witnessed_seq": self.witnessed_seq,
            "checked": self.checked,
            "problems": [p.as_dict() for p in self.problems],
        }


def _chain(lines: Iterable[tuple[int, str]], report: LedgerReport) -> Iterator[tuple[str, LedgerEntry | None]]:
    """Check the primary chain; yield ``(raw line, entry or None)`` in order."""
    prev, expected_seq = GENESIS, 1
    for number, raw in lines:
        report.entries += 1
        try:
            entry = parse_line(raw)
        except LedgerFormatError as exc:
            report.add("primary", None, f"line {number} is not a ledger entry ({exc})")
            yield raw, None
            continue
        if entry.computed_hash() != entry.hash:
            report.add("primary", entry.seq, "edited: its content no longer matches its hash")
        if entry.prev != prev:
            report.add(
                "primary",
                entry.seq,
                "does not follow the entry before it: an entry was removed, inserted or reordered here",
            )
        if entry.seq != expected_seq:
            report.add("primary", entry.seq, f"out of sequence: expected entry {expected_seq}")
        prev, expected_seq = entry.hash, entry.seq + 1
        report.head = entry
        yield raw, entry


def verify(
    primary: Iterable[tuple[int, str]],
    copies: dict[str, Iterable[tuple[int, str]] | None] | None = None,
    mirror: Iterable[tuple[int, str]] | None = None,
    witnessed: str | None = None,
) -> LedgerReport:
    """Verify the primary chain and compare, in the same pass, replica copies and the mirror's ``(seq, hash)``."""
    report = LedgerReport()
    copy_iters = {name: iter(it) for name, it in (copies or {}).items() if it is not None}
    for name, it in (copies or {}).items():
        if it is None:
            report.copies[name] = "unreachable"
    copy_state = dict.fromkeys(copy_iters, "in step")
    mirror_iter = iter(mirror) if mirror is not None else None
    mirror_missing = 0
    witnessed = (witnessed or "").removeprefix("sha256:").lower() or None
    for raw, entry in _chain(primary, report):
        seq = entry.seq if entry else None
        for name, it in copy_iters.items():
            if copy_state[name] != "in step":
                continue
            other = next(it, None)
            if other is None:
                copy_state[name] = "behind"
            elif other[1] != raw:
                copy_state[name] = "differs"
                report.add(name, seq, f"the copy differs from the primary ledger at line {other[0]}")
        if mirror_iter is not None:
            row = next(mirror_iter, None)
            if row is None:
                mirror_missing += 1
            elif entry is not None and (row[0] != entry.seq or row[1] != entry.hash):
                report.add(
                    "catalog",
                    seq,
                    f"the catalog mirror holds entry {row[0]} with hash {row[1][:16]}…, storage holds a different one",
                )
        if witnessed and entry is not None and entry.hash == witnessed:
            report.witnessed_seq = entry.seq
    for name, it in copy_iters.items():
        if copy_state[name] == "in step" and next(it, None) is not None:
            copy_state[name] = "differs"
            report.add(name, None, "the copy holds entries the primary ledger lacks: the primary was truncated")
        if copy_state[name] == "behind":
            report.add(name, None, "the copy is behind the primary (it catches up at the next append)", WARNING)
        report.copies[name] = copy_state[name]
    if mirror_iter is not None:
        extra = sum(1 for _ in mirror_iter)
        if extra:
            report.add(
                "catalog",
                None,
                f"the catalog mirror holds {extra} entries after the last one in storage: "
                "entries were removed from the end of the ledger",
            )
    if mirror_missing:
        report.add(
            "catalog",
            None,
            f"the last {mirror_missing} entries are not yet mirrored in the catalog "
            "(a crash between the two writes; mirrored at the next append)",
            WARNING,
        )
    if witnessed and report.witnessed_seq is None:
        report.add(
            "witness",
            None,
            f"the witnessed head {witnessed[:16]}… is not in the ledger: "
            "the ledger was rewritten or cut after it was witnessed",
        )
    return report

"""The ledger file: append-only JSON Lines in ``<storage root>/ledger/ledger.jsonl``.

Appenders hold an exclusive ``flock`` on ``ledger.lock`` beside it (several ingest and audit
processes may append at once), write whole entries with one ``O_APPEND`` write and ``fsync``.
Each replica root keeps an identical copy, brought up to date on every append. A write torn by a
crash (a last line without its newline that is not a whole entry) is cut off by the next appender.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

from archive.batches import batched
from archive.durable import fsync_dir
from archive.errors import StorageError
from archive.faults import fault_point, register
from archive.ledger.format import GENESIS, LedgerEntry, LedgerFormatError, make_entry, parse_line

register("ledger.after-write")

#: the ledger's folder in a storage root: under ``extensions/``, so the root stays a valid OCFL
#: storage root (the folder was ``ledger/`` before packages became OCFL objects; see ledger_dir)
LEDGER_DIR = "extensions/archive-ledger"
LEGACY_LEDGER_DIR = "ledger"


def ledger_dir(storage_root: Path) -> Path:
    """Where the ledger of ``storage_root`` is: the legacy ``ledger/`` while a root still has it (until
    ``archive migrate-storage`` moves it), else ``extensions/archive-ledger/``."""
    legacy = storage_root / LEGACY_LEDGER_DIR
    current = storage_root / LEDGER_DIR
    return legacy if legacy.is_dir() and not current.exists() else current


LEDGER_FILE = "ledger.jsonl"
LOCK_FILE = "ledger.lock"
_BLOCK = 64 * 1024
#: entries written (and fsynced, copied, mirrored) at a time by :meth:`Ledger.append`
CHUNK = 2000


class Mirror(Protocol):
    """Where appended entries are mirrored (the catalog), called under the ledger's lock."""

    def last_seq(self) -> int: ...

    def add(self, entries: list[LedgerEntry]) -> None: ...


def _write_all(path: Path, data: bytes) -> int:
    """Append ``data`` durably; return the file's size before."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        before = os.fstat(fd).st_size
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
    return before


def _tail(path: Path) -> tuple[bytes, int]:
    """The bytes after the last newline but one (at most two lines' worth) and where they start."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = size
        chunk = b""
        while start > 0 and chunk.count(b"\n") < 3:
            step = min(_BLOCK, start)
            start -= step
            fh.seek(start)
            chunk = fh.read(step) + chunk
        return chunk, start


class Ledger:
    """The ledger in ``directory`` (primary) with identical copies in ``copies`` (replica roots' ledger dirs)."""

    def __init__(self, directory: Path, copies: Sequence[Path] = ()) -> None:
        self.dir = Path(directory)
        self.path = self.dir / LEDGER_FILE
        self.copies = [Path(c) / LEDGER_FILE for c in copies]

    def __repr__(self) -> str:
        return f"Ledger({self.path})"

    @contextmanager
    def locked(self) -> Iterator[None]:
        # never ``parents=True``: an unmounted storage root must fail, not grow a new empty ledger
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # -- appending -------------------------------------------------------------
    def append(
        self, items: Iterable[tuple[str, dict[str, Any]]], mirror: Mirror | None = None, when: datetime | None = None
    ) -> LedgerEntry | None:
        """Append ``(kind, body)`` items as chained entries, durably, then mirror them; return the
        last one (the new head; None when there was nothing to append).

        Items are taken :data:`CHUNK` at a time (written, fsynced, copied and mirrored before the
        next are made), so an ingest of a million files ledgers its events in flat memory. A crash
        between chunks leaves whole entries ledgered before the catalog records them: what
        write-ahead allows, and what ``ledger verify`` reports."""
        when = when or datetime.now(UTC)
        chunks = batched(items, CHUNK)
        first = next(chunks, None)
        if first is None:
            return None  # nothing to append: the lock is not taken, the ledger not read
        head: LedgerEntry | None = None
        try:
            with self.locked():
                last = self._mend_tail(self.path)
                if mirror is not None:
                    self._catch_up(mirror, last)
                seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
                for chunk in chain([first], chunks):
                    entries = []
                    for kind, body in chunk:
                        seq += 1
                        entry = make_entry(seq, prev, kind, body, when)
                        entries.append(entry)
                        prev = entry.hash
                    data = "".join(e.line + "\n" for e in entries).encode("utf-8")
                    before = _write_all(self.path, data)
                    fault_point("ledger.after-write")  # in the primary file; not yet in the copies or the mirror
                    for copy in self.copies:
                        self._sync_copy(copy, before, data)
                    if mirror is not None:
                        mirror.add(entries)
                    head = entries[-1]
                return head
        except OSError as exc:
            raise StorageError(f"cannot append to the ledger {self.path}: {exc.strerror or exc}") from exc

    def sync_mirror(self, mirror: Mirror, dry_run: bool = False) -> int:
        """Mend a torn last line and mirror the entries the mirror lacks; return how many it lacked."""
        try:
            with self.locked():
                last = self._mend_tail(self.path) if not dry_run else self.head()
                behind = (last.seq if last else 0) - mirror.last_seq()
                if behind > 0 and not dry_run:
                    self._catch_up(mirror, last)
                return max(behind, 0)
        except OSError as exc:
            raise StorageError(f"cannot read the ledger {self.path}: {exc.strerror or exc}") from exc

    def check_writable(self) -> None:
        """Raise StorageError unless an append could be made now (used before an audit starts)."""
        try:
            with self.locked():
                if self.path.exists() and not os.access(self.path, os.W_OK):
                    raise PermissionError(13, "permission denied")
        except OSError as exc:
            raise StorageError(f"the ledger {self.path} cannot be written: {exc.strerror or exc}") from exc

    def _mend_tail(self, path: Path) -> LedgerEntry | None:
        """The last entry; a torn last write is completed if whole, else cut off."""
        if not path.exists() or path.stat().st_size == 0:
            return None
        chunk, start = _tail(path)
        if not chunk.endswith(b"\n"):
            cut = chunk.rfind(b"\n") + 1
            torn = chunk[cut:]
            try:
                entry = parse_line(torn.decode("utf-8"))
                whole = entry.computed_hash() == entry.hash
            except (LedgerFormatError, UnicodeDecodeError):
                whole = False
            if whole:
                _write_all(path, b"\n")
                chunk += b"\n"
            else:
                os.truncate(path, start + cut)
                chunk = chunk[:cut]
        lines = chunk.rstrip(b"\n").split(b"\n")
        if not lines or not lines[-1]:
            return None
        try:
            return parse_line(lines[-1].decode("utf-8"))
        except (LedgerFormatError, UnicodeDecodeError) as exc:
            raise StorageError(
                f"the last entry of the ledger {path} is damaged ({exc}); nothing can be chained "
                "to it: run `archive ledger verify` and see docs/ledger.md"
            ) from exc

    def _catch_up(self, mirror: Mirror, last: LedgerEntry | None) -> None:
        mirrored = mirror.last_seq()
        have = last.seq if last else 0
        if mirrored > have:
            raise StorageError(
                f"the ledger {self.path} ends at entry {have} but the catalog mirror holds "
                f"{mirrored}: entries were removed from storage; run `archive ledger verify`"
            )
        if mirrored == have:
            return
        batch: list[LedgerEntry] = []
        for _, line in self.lines():
            entry = parse_line(line)
            if entry.seq > mirrored:
                batch.append(entry)
            if len(batch) >= 1000:
                mirror.add(batch)
                batch = []
        if batch:
            mirror.add(batch)

    def _sync_copy(self, copy: Path, before: int, data: bytes) -> None:
        """Bring one replica's copy level with the primary; an unreachable replica catches up later."""
        if not copy.parent.parent.is_dir():
            return
        try:
            copy.parent.mkdir(parents=True, exist_ok=True)
            have = copy.stat().st_size if copy.exists() else 0
            if have > before:
                return  # the copy holds more than the primary: verify reports it, never overwritten here
            missing = b""
            if have < before:
                with open(self.path, "rb") as fh:
                    fh.seek(have)
                    missing = fh.read(before - have)
            _write_all(copy, missing + data)
        except OSError:
            return

    # -- reading ---------------------------------------------------------------
    def lines(self, path: Path | None = None) -> Iterator[tuple[int, str]]:
        """``(line number, text)`` of every line, streamed; nothing if the file does not exist."""
        path = path or self.path
        if not path.exists():
            return
        with open(path, encoding="utf-8", errors="replace", newline="\n") as fh:
            for number, line in enumerate(fh, 1):
                yield number, line.rstrip("\n")

    def head(self) -> LedgerEntry | None:
        """The last entry (read without the lock)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        chunk, _ = _tail(self.path)
        lines = [x for x in chunk.split(b"\n") if x]
        if not chunk.endswith(b"\n") and len(lines) > 1:
            lines = lines[:-1]  # a write in progress
        try:
            return parse_line(lines[-1].decode("utf-8"))
        except (LedgerFormatError, UnicodeDecodeError) as exc:
            raise StorageError(f"the last entry of the ledger {self.path} is damaged: {exc}") from exc

"""Check one stored copy of a package against expected digests, file by file: the one place it is done.

:func:`check_copy` serves every caller that reads a stored bag back: fixity audits and the
re-check after a repair, the read-back after an ingest stores a package, replication and
export (which copy the bytes out while checking them: ``copy_to``), and reading a package
from storage alone (``archive doctor``, ``archive reindex``). It lives here, beside the
findings it produces and below every service, because it needs only the file system and
:mod:`archive.fixity`: each service imports it, it imports none of them.

Every expected file is read once with all of its algorithms computed in that pass
(:func:`archive.fixity.hashing.hash_stream`), in bounded memory; a caller that needs fewer
algorithms lists fewer in its :class:`Expected` entries. Problems come back as
:class:`AuditFinding` data (missing, wrong size, wrong digest, tag file changed, not a regular
file, unreadable, and with ``extras`` unexpected entries); ``on_file`` sees each file's outcome
as it is known, so a caller that wants an exception raises it there. The budget is checked
before each file is started, so a run stops *between* files and ``last_path`` says where to
resume.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from archive.audit.budget import Budget
from archive.audit.findings import AuditFinding, finding
from archive.audit.workers import CheckPool
from archive.batches import batched, ordered_map, ordered_results, small_alone
from archive.fixity.hashing import copy_and_hash, hash_stream
from archive.model import FileRecord

#: 4 MiB reads: large enough for hashlib to release the GIL and for the disk to stream
READ_CHUNK = 4 * 1024 * 1024
#: what one task on a pool checks at most: small files go in batches, so a worker spends its time
#: reading and hashing rather than on one future per file
BATCH_FILES = 64
BATCH_BYTES = 16 * 1024 * 1024
#: a copy of at least this many files has its batches of several files checked in worker processes
#: when the pool has them (:class:`~archive.audit.workers.CheckPool`): below, starting them costs more
PROCESS_MIN_FILES = 500
#: tasks with the worker processes at once, per worker: enough that a worker never waits for
#: the parent to hand it the next (a task of small files takes a few milliseconds)
PROCESS_TASKS_AHEAD = 4
#: an OCFL content path's version prefix (``v3/content/``)
_CONTENT_PREFIX = re.compile(r"^v[1-9][0-9]*/content/")
#: what an OCFL object holds beside its content: declaration, inventories and their sidecars
OCFL_STRUCTURE = re.compile(r"(?:v[1-9][0-9]*/)?inventory\.json(?:\.sha512)?|0=ocfl_object_1\.[01]")


@dataclass(frozen=True)
class Expected:
    """A file the catalog says a copy holds: ``path`` bag-relative, ``size`` None for tag files.

    ``stored`` is where its bytes are inside the copy's folder when that is not ``path`` (an OCFL
    object keeps a version's files under ``vN/content/``); findings and ``copy_to`` use ``path``.
    """

    path: str
    size: int | None
    digests: dict[str, str]
    stored: str = ""

    @property
    def is_tag(self) -> bool:
        return not _CONTENT_PREFIX.sub("", self.path).startswith("data/")

    @property
    def location(self) -> str:
        return self.stored or self.path


@dataclass
class FileOutcome:
    entry: Expected
    read: int
    kind: str | None  # None: verified
    message: str = ""
    found: dict[str, str | int] = field(default_factory=dict)
    error: OSError | None = None  # why a missing or unreadable file could not be read


class Source(Protocol):
    """A copy that is not a folder (an object in object storage): it checks its own files."""

    def check(self, entry: Expected, copy_to: Path | None, on_bytes: Callable[[int], None] | None) -> FileOutcome:
        """:func:`check_file` of one entry."""

    def extras(self, expected: set[str]) -> list[tuple[str, str]]:
        """:func:`find_extras` of the copy."""


@dataclass
class CopyResult:
    findings: list[AuditFinding] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    last_path: str | None = None
    complete: bool = True
    verified: set[str] = field(default_factory=set)  # paths that verified in this pass


def expected_entries(
    files: Iterable[tuple[str, int, dict[str, str]]], tag_digests: dict[str, dict[str, str]]
) -> list[Expected]:
    """Tag files then payload files (``data/`` + path), each sorted: the order of a pass."""
    tags = [Expected(name, None, dict(d)) for name, d in sorted(tag_digests.items())]
    payload = sorted((Expected(f"data/{p}", size, dict(d)) for p, size, d in files), key=lambda e: e.path)
    return tags + payload


def display_path(content: str) -> str:
    """How a finding names a content file: the bag path for what version 1 stored (its content folder
    is the bag as ingested), the content path (``v3/content/data/a.tif``) for what a later one added."""
    return content[len("v1/content/") :] if content.startswith("v1/content/") else content


def version_entries(
    inventory: dict[str, object],
    head: int,
    files: Iterable[tuple[int, int | None, str, int, dict[str, str]]],
    version_tags: dict[int, dict[str, dict[str, str]]],
) -> tuple[list[Expected], list[str]]:
    """Every content file an OCFL object holds for versions 1 to ``head``, with the digests the
    catalog expects of it: ``files`` are ``(since, until, path, size, digests)`` rows (``until``
    None: still in the head), ``version_tags`` each version's tag files. A file the object's
    version does not hold is expected where that version would have stored it (so it is found
    missing). Returns the entries, sorted by where they are stored, and the versions the
    inventory lacks."""
    versions = inventory.get("versions")
    manifest = inventory.get("manifest")
    if not isinstance(versions, dict) or not isinstance(manifest, dict):
        return [], [f"v{n}" for n in range(1, head + 1)]
    rows = list(files)
    found: dict[str, Expected] = {}
    lacking: list[str] = []
    for number in range(1, head + 1):
        block = versions.get(f"v{number}")
        if not isinstance(block, dict) or not isinstance(block.get("state"), dict):
            lacking.append(f"v{number}")
            continue
        state = {logical: digest for digest, paths in block["state"].items() for logical in paths}
        wanted: dict[str, tuple[int | None, dict[str, str]]] = {
            f"data/{path}": (size, digests)
            for since, until, path, size, digests in rows
            if since <= number and (until is None or until > number)
        }
        wanted.update({name: (None, digests) for name, digests in version_tags.get(number, {}).items()})
        for logical, (size, digests) in wanted.items():
            digest = state.get(logical)
            stored = manifest.get(digest) if isinstance(digest, str) else None
            for content in stored if isinstance(stored, list) and stored else [f"v{number}/content/{logical}"]:
                if content not in found:
                    found[content] = Expected(display_path(content), size, dict(digests), content)
    return sorted(found.values(), key=lambda e: e.location), lacking


def bag_files(
    files: Iterable[FileRecord], tag_digests: Mapping[str, Mapping[str, str]]
) -> Iterator[tuple[str, int | None, Mapping[str, str]]]:
    """``(bag path, size, digests)`` of payload files (in the order given) then tag files (size
    None): every file of a freshly stored bag, made as they are taken."""
    for f in files:
        yield f.bag_path, f.size, f.digests
    for name, digests in tag_digests.items():
        yield name, None, digests


def record_entries(files: Iterable[FileRecord], tag_digests: dict[str, dict[str, str]]) -> list[Expected]:
    """The entries of a freshly stored bag (:func:`bag_files`), each with its own digests."""
    return [Expected(path, size, dict(digests)) for path, size, digests in bag_files(files, tag_digests)]


def _open(path: Path) -> int:
    """Open for reading without following a symlink or blocking on a FIFO (a seam for tests)."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))


def check_file(
    bag: Path | Source, entry: Expected, copy_to: Path | None = None, on_bytes: Callable[[int], None] | None = None
) -> FileOutcome:
    """Read one file once, every algorithm in the same pass, and classify what is wrong, if anything.

    With ``copy_to`` the bytes are also written to ``copy_to / entry.path`` as they are read (a
    write failure raises :class:`~archive.errors.StorageError`). ``on_bytes`` is told the size of
    each chunk read (progress).
    """
    if not isinstance(bag, Path):
        return bag.check(entry, copy_to, on_bytes)
    path = bag / entry.location
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            return FileOutcome(entry, 0, "not-regular", f"is {what}")
        fd = _open(path)
        with os.fdopen(fd, "rb", buffering=0) as stream:
            size, found = read_entry(stream, entry, copy_to, on_bytes)
    except FileNotFoundError as exc:
        return FileOutcome(entry, 0, "missing", error=exc)
    except PermissionError as exc:
        return FileOutcome(entry, 0, "unreadable", f"permission denied ({exc.strerror})", error=exc)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return FileOutcome(entry, 0, "not-regular", "is a symbolic link")
        return FileOutcome(entry, 0, "unreadable", f"read error: {exc.strerror or exc}", error=exc)
    return outcome_of(entry, size, found)


def read_entry(
    stream: BinaryIO, entry: Expected, copy_to: Path | None, on_bytes: Callable[[int], None] | None
) -> tuple[int, dict[str, str]]:
    """Size and digests of ``entry``'s bytes read from ``stream``, copied to ``copy_to`` on the way if given."""
    if copy_to is None:
        return hash_stream(stream, list(entry.digests), READ_CHUNK, on_bytes)
    target = copy_to / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    return copy_and_hash(stream, target, list(entry.digests), fsync=False, on_bytes=on_bytes)


def outcome_of(entry: Expected, size: int, found: Mapping[str, str]) -> FileOutcome:
    """What reading ``entry`` found (``size`` bytes, digests ``found``), classified."""
    if found == entry.digests and (entry.size is None or size == entry.size):
        return FileOutcome(entry, size, None)
    got: dict[str, str | int] = {"size": size, **found}
    if entry.is_tag:
        return FileOutcome(entry, size, "tag-changed", "tag file changed", got)
    if entry.size is not None and size < entry.size:
        return FileOutcome(entry, size, "truncated", f"truncated: {size} of {entry.size} bytes", got)
    if entry.size is not None and size != entry.size:
        return FileOutcome(entry, size, "changed", f"content changed: {size} bytes, expected {entry.size}", got)
    return FileOutcome(entry, size, "changed", "content changed (same size)", got)


def check_files(
    bag: Path | Source,
    entries: list[Expected],
    copy_to: Path | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> list[FileOutcome]:
    """:func:`check_file` for each of ``entries``, in order: one task on a pool."""
    return [check_file(bag, entry, copy_to, on_bytes) for entry in entries]


def find_extras(bag: Path | Source, expected: set[str]) -> list[tuple[str, str]]:
    """Files, links and other entries in the copy that the catalog does not list (empty folders are
    fine, and so are an OCFL object's declaration, inventories and sidecars)."""
    if not isinstance(bag, Path):
        return bag.extras(expected)
    extras: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(bag, followlinks=False):
        rel_dir = os.path.relpath(dirpath, bag)
        for name in [*filenames, *(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))]:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if rel not in expected and not OCFL_STRUCTURE.fullmatch(rel):
                kind = "symbolic link" if os.path.islink(os.path.join(dirpath, name)) else "file"
                extras.append((rel, f"unexpected {kind} not in the catalog"))
    return sorted(extras)


def _entry_size(entry: Expected) -> int:
    return entry.size or 0


def _read_bytes(task: Future[list[FileOutcome]], on_bytes: Callable[[int], None]) -> None:
    """Tell ``on_bytes`` what a worker process's task read, once it is done (not if it failed)."""
    if not task.cancelled() and task.exception() is None:
        on_bytes(sum(o.read for o in task.result()))


def _batches(entries: Iterable[Expected]) -> Iterator[list[Expected]]:
    """Tasks of a pool: :data:`BATCH_FILES` files or :data:`BATCH_BYTES`, a big file alone."""
    return batched(entries, BATCH_FILES, _entry_size, BATCH_BYTES)


def check_copy(
    bag: Path | Source,
    entries: list[Expected],
    package_id: str,
    copy: str,
    budget: Budget,
    pool: Executor | None = None,
    start_after: str | None = None,
    on_file: Callable[[FileOutcome], None] = lambda o: None,
    *,
    extras: bool = False,
    copy_to: Path | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> CopyResult:
    """Check ``entries`` in order (after ``start_after``), in parallel on ``pool`` when given.

    ``extras``: a pass that starts at the beginning first reports, as ``extra`` findings, every
    entry of the copy that ``entries`` does not list. ``copy_to``: copy each file there while
    checking it (see :func:`check_file`). ``on_file`` is called with each outcome, in order;
    ``on_bytes`` with the size of each chunk read, from whichever thread reads it (progress).
    """
    result = CopyResult()
    todo = entries
    if start_after is not None:
        names = [e.path for e in entries]
        todo = entries[names.index(start_after) + 1 :] if start_after in names else entries
    elif extras:
        listed = {e.location for e in entries}
        result.findings.extend(
            finding(
                package_id, copy, display_path(p), "extra", why, {}, {"location": p} if display_path(p) != p else {}
            )
            for p, why in find_extras(bag, listed)
        )
    more = () if copy_to is None and on_bytes is None else (copy_to, on_bytes)

    def consume(outcome: FileOutcome) -> None:
        result.files += 1
        result.bytes += outcome.read
        result.last_path = outcome.entry.path
        e = outcome.entry
        if outcome.kind is None:
            result.verified.add(e.path)
        else:
            expected = dict(e.digests) if e.size is None else {"size": e.size, **e.digests}
            result.findings.append(
                finding(package_id, copy, e.path, outcome.kind, outcome.message, expected, dict(outcome.found))
            )
        if e.size is None:
            budget.charge(outcome.read)  # tag files: charged once their size is known
        on_file(outcome)

    def admitted() -> Iterator[Expected]:
        """The entries to check, each charged to the budget as it is started; none once it is spent."""
        for entry in todo:
            if budget.exhausted():
                result.complete = False
                return
            budget.charge(entry.size or 0)
            yield entry

    if pool is None:
        for entry in admitted():
            consume(check_file(bag, entry, *more))
        return result
    workers = getattr(pool, "_max_workers", 1)
    # a copy that is no folder is read by threads (its client does not cross to another process)
    local = isinstance(bag, Path)
    if not (local and isinstance(pool, CheckPool) and (pool.started or len(todo) >= PROCESS_MIN_FILES)):

        def checked(batch: list[Expected]) -> list[FileOutcome]:
            return check_files(bag, batch, *more)

        # small files of a folder one batch at a time (see small_alone); a copy elsewhere waits on its server
        here = small_alone(checked, _entry_size) if local else checked
        results = ordered_map(pool, here, _batches(admitted()), 2 * workers)
    else:
        processes = pool.processes

        def submit(batch: list[Expected]) -> Future[list[FileOutcome]]:
            if len(batch) == 1:  # a big file (or the last): read here, its bytes reported as they are read
                return pool.submit(check_files, bag, batch, *more)
            task = processes.submit(check_files, bag, batch, copy_to)
            if on_bytes is not None:
                task.add_done_callback(lambda t: _read_bytes(t, on_bytes))
            return task

        results = ordered_results(submit, _batches(admitted()), PROCESS_TASKS_AHEAD * workers)
    for outcomes in results:
        for outcome in outcomes:
            consume(outcome)
    return result

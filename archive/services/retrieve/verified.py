"""Serving only bytes that match the catalog, without hashing a huge file on every request.

A stored file is *verified* when all its bytes were hashed (sha256) and matched the catalog's
digest. The proof is remembered against the file's stat signature (device, inode, size,
mtime and ctime, all in nanoseconds): any write, truncation, replacement or rename over it
changes the signature, and ctime cannot be set back by ordinary means. While the signature
is unchanged and the proof younger than ``api_verify_ttl`` seconds, the file is *trusted*
and served at full speed (nginx or large-chunk streaming). Otherwise:

* a whole-file GET is hashed while it streams; the last chunk is held back until the digest
  is known, and on a mismatch the connection is aborted (the client never receives a
  complete body), an incident is recorded, and later requests answer an error;
* a Range request, a file small enough to read in one chunk, or a hand-over to nginx first
  hashes the whole file, then serves it.

Silent media corruption that leaves the stat signature alone is what scheduled fixity audits
catch; the TTL bounds how long a frequently served file goes without being re-hashed. See
``docs/decisions/0003-api-verify-on-serve.md``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

#: preferred digest to verify with: sha256 is the fastest strong one on current CPUs (SHA-NI)
PREFERENCE = ("sha256", "sha512", "sha1", "md5")


def pick(digests: dict[str, str]) -> tuple[str, str]:
    """``(algorithm, expected hex digest)`` to verify a file with."""
    for algorithm in PREFERENCE:
        if digests.get(algorithm):
            return algorithm, digests[algorithm]
    raise ValueError("no supported digest recorded")


@dataclass(frozen=True)
class Signature:
    dev: int = 0
    ino: int = 0
    size: int = -1
    mtime_ns: int = 0
    ctime_ns: int = 0


def signature(st: os.stat_result) -> Signature:
    return Signature(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class VerifiedFiles:
    """Per-process memory of files verified recently (bounded LRU; thread-safe)."""

    def __init__(self, ttl_seconds: int, max_entries: int = 100_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._seen: OrderedDict[str, tuple[Signature, float]] = OrderedDict()
        self._lock = threading.Lock()

    def trusted(self, path: Path, sig: Signature) -> bool:
        if self.ttl <= 0:
            return False
        with self._lock:
            hit = self._seen.get(str(path))
            if hit is None:
                return False
            known, when = hit
            if known != sig or time.monotonic() - when > self.ttl:
                del self._seen[str(path)]
                return False
            self._seen.move_to_end(str(path))
            return True

    def mark(self, path: Path, sig: Signature) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._seen[str(path)] = (sig, time.monotonic())
            self._seen.move_to_end(str(path))
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)

    def forget(self, path: Path) -> None:
        with self._lock:
            self._seen.pop(str(path), None)


class StreamCheck:
    """A digest over the bytes of one file as they stream; compare once the last byte is in."""

    def __init__(self, digests: dict[str, str]) -> None:
        self.algorithm, self.expected = pick(digests)
        self._h = hashlib.new(self.algorithm)

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)

    def found(self) -> str:
        return self._h.hexdigest()

    def ok(self) -> bool:
        return self.found() == self.expected


def hash_whole(location: Path, algorithm: str, chunk_size: int = 4 * 1024 * 1024) -> tuple[str, os.stat_result]:
    """The digest of a stored file (never following a symlink) and its stat taken on the open file."""
    fd = os.open(location, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        h = hashlib.new(algorithm)
        buf = bytearray(chunk_size)
        view = memoryview(buf)
        with os.fdopen(os.dup(fd), "rb", buffering=0) as stream:
            while n := stream.readinto(view):
                h.update(view[:n])
        return h.hexdigest(), st
    finally:
        os.close(fd)

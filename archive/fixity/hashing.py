"""Hash files with several algorithms in one pass, in bounded memory.

``hash_file`` reads a file once and feeds each chunk to every algorithm; ``copy_and_hash``
writes the bytes to a destination while hashing them, so a verified copy costs one read of
the source. Chunks are reused (``readinto`` on one buffer) to keep memory flat.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from archive.errors import StorageError
from archive.faults import fault_point, register

register("copy.midway", "copy.file-written")

CHUNK_SIZE = 1024 * 1024
SUPPORTED_ALGORITHMS = ("md5", "sha1", "sha256", "sha512")


class MultiHasher:
    """Feed bytes once, get a digest per algorithm.

    The algorithms run one after the other on each chunk. Running them side by side in threads
    was measured (bench/ingest.py, bench/audit.py on the 2-vCPU machines this archive is tested
    on) and gained nothing once files are hashed in parallel, so the simple way stays.
    """

    def __init__(self, algorithms: Iterable[str]) -> None:
        algos = list(dict.fromkeys(algorithms))
        for a in algos:
            if a not in SUPPORTED_ALGORITHMS:
                raise ValueError(f"unsupported digest algorithm {a!r}; expected one of {SUPPORTED_ALGORITHMS}")
        self._hashers = {a: hashlib.new(a) for a in algos}
        self._ordered = list(self._hashers.values())
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        for h in self._ordered:
            h.update(data)

    def hexdigests(self) -> dict[str, str]:
        return {a: h.hexdigest() for a, h in self._hashers.items()}


_buffers = threading.local()


def _buffer(chunk_size: int) -> memoryview:
    """One reusable read buffer per thread and size: no allocation per file."""
    cache = getattr(_buffers, "by_size", None)
    if cache is None:
        cache = _buffers.by_size = {}
    if chunk_size not in cache:
        cache[chunk_size] = memoryview(bytearray(chunk_size))
    return cache[chunk_size]


def _read_chunks(stream: BinaryIO, chunk_size: int) -> Iterable[memoryview]:
    view = _buffer(chunk_size)
    while True:
        n = stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            return
        yield view[:n]


def hash_stream(
    stream: BinaryIO,
    algorithms: Iterable[str],
    chunk_size: int = CHUNK_SIZE,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[int, dict[str, str]]:
    """``(size, {algorithm: hexdigest})`` of what ``stream`` holds, read once; ``on_bytes`` is
    told the size of each chunk read (progress)."""
    hasher = MultiHasher(algorithms)
    for chunk in _read_chunks(stream, chunk_size):
        hasher.update(chunk)
        if on_bytes is not None:
            on_bytes(len(chunk))
    return hasher.size, hasher.hexdigests()


def hash_file(
    path: str | os.PathLike[str], algorithms: Iterable[str], chunk_size: int = CHUNK_SIZE
) -> tuple[int, dict[str, str]]:
    """Return ``(size, {algorithm: hexdigest})`` reading ``path`` once, never following a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb", buffering=0) as stream:
        try:
            return hash_stream(stream, algorithms, chunk_size)
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc


def copy_and_hash(
    source: BinaryIO,
    destination: str | os.PathLike[str],
    algorithms: Iterable[str],
    chunk_size: int = CHUNK_SIZE,
    fsync: bool = True,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[int, dict[str, str]]:
    """Copy ``source`` to a new file ``destination`` (must not exist), hashing on the way;
    ``on_bytes`` is told the size of each chunk copied (progress)."""
    hasher = MultiHasher(algorithms)
    dest = Path(destination)
    try:
        with open(dest, "xb", buffering=0) as out:
            for chunk in _read_chunks(source, chunk_size):
                hasher.update(chunk)
                out.write(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
                fault_point("copy.midway")
            if fsync:
                os.fsync(out.fileno())
        fault_point("copy.file-written")
    except OSError as exc:
        raise StorageError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    return hasher.size, hasher.hexdigests()

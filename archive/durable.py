"""Durable writes: a folder's entries (a rename, a new file) made to survive a power cut, and a new file fsync'd."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path, *, best_effort: bool = False) -> None:
    """Flush ``path``'s directory entries to disk; with ``best_effort``, a folder that cannot be
    opened (gone, unreadable) is left alone instead of raising ``OSError``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        if best_effort:
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes) -> None:
    """A new file (never an existing one) holding ``data``, on disk when this returns."""
    with open(path, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def copy_new(source: Path, path: Path) -> None:
    """A new file (never an existing one) holding ``source``'s bytes, copied a block at a time, on
    disk when this returns."""
    with open(source, "rb") as src, open(path, "xb") as out:
        while block := src.read(1 << 20):
            out.write(block)
        out.flush()
        os.fsync(out.fileno())


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: written aside (``.tmp-<name>``), fsync'd, renamed over,
    its folder fsync'd. A reader sees the old file or the new one, never part of one."""
    tmp = path.with_name(f".tmp-{path.name}")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    write_new(tmp, data)
    os.rename(tmp, path)
    fsync_dir(path.parent)

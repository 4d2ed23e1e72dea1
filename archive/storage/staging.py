"""Staging folders with an owner lock, so a cleaner never removes work that is still running.

A staging folder ``<root>/.staging/<uuid>[-label]/`` holds a ``.lock`` file that its creator
keeps locked (``flock``, exclusive) for as long as it works there. The folder is made under a
temporary name ``.tmp-<name>``, its lock taken, and only then renamed to its real name: a
cleaner that sees a real name whose lock it can take knows the owner has died (the kernel
drops a dead process's locks), and removes it while holding that lock. ``.tmp-`` folders are
left alone until they are an hour old (the window between mkdir and rename is microseconds).

The lock file also carries the owner's *claim*: ``{"pid", "label", "package"}``, where
``package`` is the package id an ingest is about to rename into storage. ``archive doctor``
never touches a stored package that a live staging folder claims: that ingest is still
between storage and catalog.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from archive.tree_removal import remove_tree

LOCK_NAME = ".lock"
TMP_PREFIX = ".tmp-"
#: a ``.tmp-`` folder older than this is a crash leftover of ``create`` itself
TMP_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class Leftover:
    """One entry of a staging area, as a cleaner sees it."""

    path: Path
    live: bool  # its owner still holds the lock
    claim: dict[str, object]

    @property
    def package(self) -> str | None:
        value = self.claim.get("package")
        return value if isinstance(value, str) else None


def create(staging_root: Path, name: str, label: str) -> tuple[Path, int]:
    """Make ``staging_root/name`` with its lock held; return the folder and the lock's descriptor."""
    tmp = staging_root / f"{TMP_PREFIX}{name}"
    tmp.mkdir()
    fd = os.open(tmp / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else knows this file yet
        write_claim(fd, {"pid": os.getpid(), "label": label})
        path = staging_root / name
        os.rename(tmp, path)
    except BaseException:
        os.close(fd)
        try:
            remove_tree(tmp)
        except OSError:
            pass  # a .tmp- leftover: cleaned an hour later
        raise
    return path, fd


def write_claim(fd: int, claim: dict[str, object]) -> None:
    data = json.dumps(claim, sort_keys=True).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)  # the claim must be on disk before the package it names is


def _read_claim(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 64 * 1024, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _inspect(path: Path) -> tuple[Leftover, int | None]:
    """The entry at ``path``; if its owner is dead, also our descriptor holding its lock."""
    try:
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENXIO):
            return Leftover(path, False, {}), None  # no lock an owner could hold: a leftover or a stray file
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device where a lock file should be
        os.close(fd)
        return Leftover(path, False, {}), None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        claim = _read_claim(fd)
        os.close(fd)
        return Leftover(path, True, claim), None
    return Leftover(path, False, _read_claim(fd)), fd


def entries(staging_root: Path) -> list[Path]:
    """What a cleaner may look at: everything but young ``.tmp-`` folders."""
    if not staging_root.is_dir():
        return []
    out = []
    now = time.time()
    for path in sorted(staging_root.iterdir()):
        if path.name.startswith(TMP_PREFIX):
            try:
                if now - path.lstat().st_mtime < TMP_GRACE_SECONDS:
                    continue
            except FileNotFoundError:
                continue
        out.append(path)
    return out


def survey(staging_root: Path) -> list[Leftover]:
    """Every entry with whether it is live and what it claims (changes nothing)."""
    out = []
    for path in entries(staging_root):
        try:
            item, fd = _inspect(path)
        except OSError:
            continue  # removed while we looked
        if fd is not None:
            os.close(fd)
        out.append(item)
    return out


def remove_dead(staging_root: Path, dry_run: bool = False) -> list[Leftover]:
    """Remove every entry whose owner is dead (holding its lock while removing); return them.

    Never raises for one entry: whatever a crash left (a tree of any depth, a file, a link, a
    folder that cannot be read), the cleaner removes what it can and moves on, so no leftover
    can stop the next command. An entry that could not be removed is returned with
    ``claim["error"]`` saying why.
    """
    removed = []
    for path in entries(staging_root):
        try:
            item, fd = _inspect(path)
        except OSError:
            continue
        if item.live:
            continue
        try:
            if not dry_run:
                remove_tree(path)
        except OSError as exc:
            item = Leftover(item.path, False, {**item.claim, "error": exc.strerror or str(exc)})
        finally:
            if fd is not None:
                os.close(fd)
        removed.append(item)
    return removed

"""Unpack a .zip, .tar or .tar.gz submission into a work folder, safely.

Every member is checked before anything is written: no absolute paths, no ``..``, no links,
no devices; the declared and the actual expanded size are both bounded (zip bombs), and so
is the number of members. All bad members are reported at once.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

from archive.errors import Finding, error
from archive.fixity.hashing import CHUNK_SIZE

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def is_archive_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


@dataclass
class Limits:
    max_bytes: int
    max_files: int


@dataclass
class _Member:
    name: str
    kind: str  # file, dir, symlink, hardlink, device, other
    size: int
    opener: Callable[[], BinaryIO] | None


def member_path_problem(name: str) -> str | None:
    """Why an archive member name is unsafe, or None."""
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "climbs out of the submission with '..'"
    return None


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        mode = (info.external_attr >> 16) & 0xFFFF
        if stat.S_ISLNK(mode):
            kind = "symlink"
        elif info.is_dir():
            kind = "dir"
        elif mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
            kind = "device" if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else "other"
        else:
            kind = "file"
        yield _Member(info.filename, kind, info.file_size, (lambda i=info: zf.open(i)))  # type: ignore[misc]


def _tar_members(tf: tarfile.TarFile) -> Iterator[_Member]:
    for info in tf:
        if info.issym():
            kind = "symlink"
        elif info.islnk():
            kind = "hardlink"
        elif info.isdir():
            kind = "dir"
        elif info.isreg():
            kind = "file"
        elif info.ischr() or info.isblk():
            kind = "device"
        elif info.isfifo():
            kind = "fifo"
        else:
            kind = "other"
        yield _Member(info.name, kind, info.size, (lambda i=info: tf.extractfile(i)))  # type: ignore[misc,return-value]


def _copy_bounded(src: BinaryIO, dest: Path, budget: list[int], name: str) -> str | None:
    with open(dest, "xb") as out:
        while True:
            chunk = src.read(CHUNK_SIZE)
            if not chunk:
                return None
            budget[0] -= len(chunk)
            if budget[0] < 0:
                return f"{name}: expands beyond the limit on a submission's size"
            out.write(chunk)


def extract_archive(archive: Path, dest: Path, limits: Limits) -> list[Finding]:
    """Extract ``archive`` into the empty folder ``dest``; return findings (errors stop extraction)."""
    findings: list[Finding] = []
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                return _extract(list(_zip_members(zf)), dest, limits, archive.name)
        with tarfile.open(archive, mode="r:*") as tf:
            return _extract(list(_tar_members(tf)), dest, limits, archive.name)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, NotImplementedError) as exc:
        findings.append(error("E120", archive.name, f"cannot read the archive: {exc}"))
        return findings


def _extract(members: list[_Member], dest: Path, limits: Limits, label: str) -> list[Finding]:
    findings: list[Finding] = []
    declared = 0
    files = 0
    for m in members:
        problem = member_path_problem(m.name)
        if problem:
            findings.append(error("E121", m.name, f"archive member {problem}"))
        if m.kind in ("symlink", "hardlink"):
            findings.append(error("E122", m.name, f"archive member is a {m.kind.replace('hard', 'hard ')}; links are not accepted"))
        elif m.kind in ("device", "fifo", "other"):
            findings.append(error("E123", m.name, f"archive member is a {m.kind}, not a regular file"))
        if m.kind == "file":
            files += 1
            declared += max(m.size, 0)
    if files > limits.max_files:
        findings.append(error("E124", label, f"holds {files} files; the limit is {limits.max_files}"))
    if declared > limits.max_bytes:
        findings.append(error("E125", label, f"expands to {declared} bytes; the limit is {limits.max_bytes}"))
    if findings:
        return findings
    budget = [limits.max_bytes]
    root = dest.resolve()
    for m in members:
        rel = m.name.replace("\\", "/").strip("/")
        if not rel or rel == ".":
            continue
        target = (root / rel)
        if not str(target.resolve()).startswith(str(root) + os.sep):
            findings.append(error("E121", m.name, "archive member resolves outside the submission"))
            return findings
        if m.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            findings.append(error("E126", m.name, "archive member appears twice"))
            return findings
        assert m.opener is not None
        try:
            with m.opener() as src:
                problem = _copy_bounded(src, target, budget, m.name)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError) as exc:
            findings.append(error("E120", m.name, f"cannot extract: {exc}"))
            return findings
        if problem:
            findings.append(error("E125", m.name, problem))
            return findings
    return findings

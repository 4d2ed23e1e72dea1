"""Unpack a .zip, .tar or .tar.gz submission into a work folder, safely.

Every member is checked before anything is written: no absolute paths, no ``..``, no links,
no devices; the declared and the actual expanded size are both bounded (zip bombs), and so
is the number of members. All bad members are reported at once, except that listing stops at
the member that takes the declared size or the count over its limit: a .tar.gz is listed by
inflating it, and a bomb's gigabytes are never inflated just to be refused.
"""

from __future__ import annotations

import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from archive.errors import Finding, error
from archive.fixity.hashing import CHUNK_SIZE
from archive.submission.scan import printable

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
    encrypted: bool = False


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


def _open_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    return cast(BinaryIO, zf.open(info))


def _open_tar_member(tf: tarfile.TarFile, info: tarfile.TarInfo) -> BinaryIO:
    stream = tf.extractfile(info)
    if stream is None:
        raise tarfile.TarError(f"{info.name!r} has no content to read")
    return cast(BinaryIO, stream)


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        mode = (info.external_attr >> 16) & 0xFFFF
        if stat.S_ISLNK(mode):
            kind = "symlink"
        elif info.filename.endswith("/"):  # not info.is_dir(): an empty name would raise IndexError
            kind = "dir"
        elif mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
            kind = "device" if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else "other"
        else:
            kind = "file"
        yield _Member(info.filename, kind, info.file_size, partial(_open_zip_member, zf, info),
                      encrypted=bool(info.flag_bits & 0x1))


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
        yield _Member(info.name, kind, info.size, partial(_open_tar_member, tf, info))


def _listed(members: Iterator[_Member], limits: Limits) -> list[_Member]:
    """The members, up to and including the one that takes the total size or count over the limits."""
    listed: list[_Member] = []
    declared = files = 0
    for m in members:
        listed.append(m)
        if m.kind == "file":
            files += 1
            declared += max(m.size, 0)
            if declared > limits.max_bytes or files > limits.max_files:
                break
    return listed


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
                return _extract(_listed(_zip_members(zf), limits), dest, limits, archive.name)
        with tarfile.open(archive, mode="r:*") as tf:
            return _extract(_listed(_tar_members(tf), limits), dest, limits, archive.name)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, NotImplementedError,
            zlib.error, lzma.LZMAError) as exc:
        findings.append(error("E120", printable(archive.name), f"cannot read the archive: {exc}"))
        return findings


def _extract(members: list[_Member], dest: Path, limits: Limits, label: str) -> list[Finding]:
    findings: list[Finding] = []
    declared = 0
    files = 0
    for m in members:
        shown = printable(m.name)
        problem = member_path_problem(m.name)
        if problem is None and m.kind == "file" and m.name.replace("\\", "/").strip("/") in ("", "."):
            problem = "is a file with no name"
        if problem:
            findings.append(error("E121", shown, f"archive member {problem}"))
        if m.kind in ("symlink", "hardlink"):
            findings.append(error("E122", shown, f"archive member is a {m.kind.replace('hard', 'hard ')}; links are not accepted"))
        elif m.kind in ("device", "fifo", "other"):
            findings.append(error("E123", shown, f"archive member is a {m.kind}, not a regular file"))
        if m.encrypted:
            findings.append(error("E120", shown, "archive member is encrypted; the archive takes no passwords, "
                                                 "submit it unencrypted"))
        if m.kind == "file":
            files += 1
            declared += max(m.size, 0)
    if files > limits.max_files:
        findings.append(error("E124", printable(label), f"holds more than {limits.max_files} files, the limit"))
    if declared > limits.max_bytes:
        findings.append(error("E125", printable(label), f"expands to at least {declared} bytes, as its members declare; "
                                             f"the limit is {limits.max_bytes}"))
    if findings:
        return findings
    budget = [limits.max_bytes]
    root = dest.resolve()
    for m in members:
        shown = printable(m.name)
        rel = m.name.replace("\\", "/").strip("/")
        if not rel or rel == ".":
            continue
        target = (root / rel)
        if not str(target.resolve()).startswith(str(root) + os.sep):
            findings.append(error("E121", shown, "archive member resolves outside the submission"))
            return findings
        try:
            if m.kind == "dir":
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file where a folder must be, or the other way round
            findings.append(error("E126", shown, "archive member's path is both a file and a folder in the archive"))
            return findings
        except OSError as exc:
            findings.append(error("E120", shown, f"cannot extract: {exc.strerror}"))
            return findings
        if target.exists():
            findings.append(error("E126", shown, "archive member appears twice"))
            return findings
        assert m.opener is not None
        try:
            with m.opener() as src:
                problem = _copy_bounded(src, target, budget, shown)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError, zlib.error,
                lzma.LZMAError) as exc:  # a corrupt compressed stream is zlib's or lzma's error, not zipfile's
            findings.append(error("E120", shown, f"cannot extract: {exc}"))
            return findings
        if problem:
            findings.append(error("E125", shown, problem))
            return findings
    return findings

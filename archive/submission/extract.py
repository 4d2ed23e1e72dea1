"""Unpack a .zip, .tar (.tar.gz, .tgz, bzip2, xz) or .7z submission into a work folder, safely.

Nothing is extracted until the whole listing has been checked, and every bad member is
reported at once:

1. **Structure.** A zip's end record, central directory and local headers are parsed here
   (:mod:`~archive.submission.zipcheck`): entries must lie inside the file and not overlap
   (the "zip bomb by overlap"), local and central names must agree, sizes must be possible,
   and Python's ``zipfile`` must read the directory the same way (E127). A tar's headers are
   checked as they are listed (:mod:`~archive.submission.tarlist`): a negative or non-numeric
   size, a folder with data, or anything but zero blocks after the last readable header is
   refused (E120), never coerced. A 7z is listed by py7zr (:mod:`~archive.submission.sevenzip`).
2. **Members** (:mod:`~archive.submission.members`): names as the archive holds them, kinds,
   duplicates and file/folder clashes after normalisation, depth and path length, counts,
   declared bytes and expansion ratios (E120-E131).
3. **Extraction** (:mod:`~archive.submission.writing`): only then, counting the bytes actually
   written against each member's declared size, the total and the ratio; no recursion, no
   link followed, nothing overwritten. Any problem removes everything written: a refused
   archive leaves its destination as empty as it was given.

Listing stops at the member that takes a count, the declared size or the whole archive's
ratio over its limit: a .tar.gz is listed by inflating it, and a bomb's gigabytes are never
inflated just to be refused.
"""

from __future__ import annotations

import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

from archive.errors import Finding, error
from archive.fixity.hashing import CHUNK_SIZE
from archive.submission import tarlist, zipcheck
from archive.submission.members import Limits, Member, check_members, listed, member_key, member_path_problem
from archive.submission.scan import printable
from archive.submission.writing import Budget, Tree

__all__ = ["ARCHIVE_SUFFIXES", "Limits", "extract_archive", "is_archive_file", "member_path_problem"]

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z")

#: what a corrupt stream raises inside the standard library's readers (zlib's and lzma's errors are not zipfile's)
_READ_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    lzma.LZMAError,
    tarlist.HeaderTooLarge,
)


def is_archive_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def extract_archive(archive: Path, dest: Path, limits: Limits) -> list[Finding]:
    """Extract ``archive`` into the empty folder ``dest``; return findings (any error: ``dest`` is left empty)."""
    label = printable(archive.name)
    name = archive.name.lower()
    try:
        with open(archive, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if name.endswith(".zip"):
                return _extract_zip(fh, size, dest, limits, label)
            if name.endswith(".7z"):
                return _extract_7z(fh, size, dest, limits, label)
            return _extract_tar(fh, size, dest, limits, label)
    except zipcheck.ZipUnreadable as exc:
        return [error("E120", label, f"cannot read the archive: {exc}")]
    except tarlist.StreamTooLong as exc:
        return [error(exc.code, label, str(exc))]
    except _READ_ERRORS as exc:
        return [error("E120", label, f"cannot read the archive: {exc}")]


def _extract_zip(fh: BinaryIO, size: int, dest: Path, limits: Limits, label: str) -> list[Finding]:
    found = zipcheck.read_zip(fh, size, limits.max_members)
    findings = [error(code, label, message) for code, message in found.problems]
    if found.count > limits.max_members or len(found.entries) > limits.max_members:
        return [
            *findings,
            error(
                "E124",
                label,
                f"lists {found.count} members; the limit is {limits.max_members} "
                f"(folders, links and files) for {limits.max_files} files",
            ),
        ]
    members = [_zip_member(e) for e in found.entries]
    findings += check_members(members, limits, label, size)
    if any(f.is_error for f in findings):
        return findings
    with zipfile.ZipFile(fh) as zf:
        infos = zf.infolist()
        differs = zipcheck.same_as_zipfile(found.entries, infos)
        if differs:
            return [error("E127", label, f"the zip's directory can be read two ways: {differs}")]
        for m, info in zip(members, infos, strict=False):
            m.opener = partial(_open_zip_member, zf, info)
        return _write(members, dest, limits, size)


def _zip_member(e: zipcheck.ZipEntry) -> Member:
    mode = (e.external_attr >> 16) & 0xFFFF
    if stat.S_ISLNK(mode):
        kind = "symlink"
    elif e.raw_name.endswith(b"/") or (stat.S_ISDIR(mode) and not e.size):
        kind = "dir"
    elif mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        kind = "device" if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else "fifo" if stat.S_ISFIFO(mode) else "other"
    else:
        kind = "file"
    return Member(
        e.name,
        kind,
        e.size,
        packed=e.packed if kind == "file" else None,
        encrypted=e.encrypted,
        problems=list(e.problems),
    )


def _open_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    return cast(BinaryIO, zf.open(info))


def _extract_tar(fh: BinaryIO, size: int, dest: Path, limits: Limits, label: str) -> list[Finding]:
    tf, stream = tarlist.open_tar(fh, size, limits)
    with tf:
        try:
            members = listed(tarlist.tar_members(tf), limits, size)
        except tarlist.StreamTooLong as exc:
            return [error(exc.code, label, str(exc))]
        findings = check_members(members, limits, label, size)
        if any(f.is_error for f in findings):
            return findings
        ended = tarlist.check_end(tf, stream)
        if ended:
            return [error("E120", label, f"cannot read the archive: it {ended}")]
        return _write(members, dest, limits, size)


def _extract_7z(fh: BinaryIO, size: int, dest: Path, limits: Limits, label: str) -> list[Finding]:
    from archive.submission import sevenzip  # py7zr is imported only when a .7z comes

    bomb = sevenzip.header_bomb(fh, size, limits.max_expansion_ratio)
    if bomb:
        return [error("E128", label, bomb)]
    try:
        szf = sevenzip.open_7z(fh, limits.max_bytes)
    except sevenzip.SevenZipUnreadable as exc:
        return [error("E120", label, str(exc))]
    with szf:
        members, problems = sevenzip.list_7z(szf)
        findings = [error(code, label, message) for code, message in problems]
        findings += check_members(members, limits, label, size)
        if any(f.is_error for f in findings):
            return findings
        tree = Tree(dest)
        try:
            findings = sevenzip.extract_7z(szf, members, tree, Budget(limits, size))
        except BaseException:
            tree.discard()
            raise
        if findings:
            tree.discard()
        return findings


def _copy_bounded(src: BinaryIO, out: BinaryIO, budget: Budget, m: Member) -> tuple[str, str] | None:
    """Copy one member in chunks; (code, message) as soon as it passes its declared size or a budget."""
    left = m.size
    while True:
        chunk = src.read(CHUNK_SIZE)
        if not chunk:
            break
        left -= len(chunk)
        if left < 0:
            return "E120", f"archive member holds more than the {m.size} bytes it declares"
        problem = budget.take(len(chunk))
        if problem:
            return problem
        out.write(chunk)
    if left:
        return "E120", f"archive member holds {m.size - left} bytes, not the {m.size} it declares"
    return None


def _write(members: list[Member], dest: Path, limits: Limits, archive_size: int) -> list[Finding]:
    """Write the checked members; on any problem remove all that was written."""
    tree = Tree(dest)
    budget = Budget(limits, archive_size)
    try:
        for m in members:
            problem = _write_one(m, tree, budget)
            if problem:
                tree.discard()
                return [error(problem[0], printable(m.name), problem[1])]
    except BaseException:
        tree.discard()
        raise
    return []


def _write_one(m: Member, tree: Tree, budget: Budget) -> tuple[str, str] | None:
    key = member_key(m.name)
    if not key:
        return None  # the archive's own root folder ("./")
    parts = key.split("/")
    try:
        if m.kind == "dir":
            tree.make_dirs(parts)
            return None
        out = tree.new_file(parts)
    except (FileExistsError, NotADirectoryError):  # a file where a folder must be, or a name this file system merges
        return "E126", "archive member's path is both a file and a folder, or collides with another on this file system"
    except OSError as exc:
        return "E120", f"cannot extract: {exc.strerror or exc}"
    assert m.opener is not None
    try:
        with out, m.opener() as src:
            return _copy_bounded(src, out, budget, m)
    except (*_READ_ERRORS, tarlist.StreamTooLong) as exc:
        code = exc.code if isinstance(exc, tarlist.StreamTooLong) else "E120"
        return code, f"cannot extract: {exc}"

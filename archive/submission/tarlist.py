"""List a .tar (plain, gzip, bzip2 or xz) without trusting ``tarfile``'s leniency.

``tarfile`` reads what it can and quietly makes up the rest: a size field in base-256 may be
negative (the member then reads as empty and its data is parsed as headers), a pax ``size``
that is not a number becomes 0, and a damaged header after the first ends the listing as if
the archive ended there, dropping every member behind it. Here each header is checked as it is
listed (a negative or non-numeric size, a folder with data, a sparse member are refused,
``E120``), and after the last member everything up to the end of the stream must be the
zero blocks that end a tar: any other byte there is a header ``tarfile`` could not read.

The decompressed stream is wrapped so that no single read is larger than
:data:`MAX_HEADER_READ` (a pax or GNU long-name header declaring gigabytes is refused instead of
being read into memory) and so that the stream cannot be inflated past a bound (the expansion
ratio or, without one, the expanded-size limit plus header room): listing a bomb stops early.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
from collections.abc import Iterator
from functools import partial
from typing import BinaryIO, cast

from archive.submission.members import Limits, Member

#: the largest single read the tar reader may make: a pax or long-name header larger than this is refused
MAX_HEADER_READ = 16 << 20
#: header room per member when there is no ratio limit (a header, a pax header, padding)
_HEADER_ROOM = 4096
_ZERO_BLOCK = 512


class StreamTooLong(Exception):
    """The decompressed tar stream went past its bound (``code`` E125 or E128)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class HeaderTooLarge(Exception):
    """A header asked to read more than :data:`MAX_HEADER_READ` bytes at once (E120)."""


class _Bounded:
    """A read-only seekable view of ``inner`` that refuses huge reads and positions past ``limit``."""

    def __init__(self, inner: BinaryIO, limit: int, code: str, why: str) -> None:
        self.inner, self.limit, self.code, self.why = inner, limit, code, why
        self.pos = inner.tell()

    def _past(self, position: int) -> None:
        if position > self.limit:
            raise StreamTooLong(self.code, f"{self.why} ({position} bytes inflated so far)")

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # tarfile reads with a size, always; a negative one comes from a header
            raise HeaderTooLarge(f"a header declares a negative size ({size})")
        if size > MAX_HEADER_READ:
            raise HeaderTooLarge(f"a header declares {size} bytes of extended data (at most {MAX_HEADER_READ})")
        data = self.inner.read(size)
        self.pos += len(data)
        self._past(self.pos)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = offset if whence == io.SEEK_SET else self.pos + offset if whence == io.SEEK_CUR else None
        if target is None:
            raise io.UnsupportedOperation("seek from the end")
        self._past(target)
        self.inner.seek(target)
        self.pos = self.inner.tell()
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


def _decompressed(raw: BinaryIO) -> tuple[BinaryIO, bool]:
    """The tar stream inside ``raw`` and whether it was compressed (by its first bytes, not its name)."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")), True
    if magic.startswith(b"BZh"):
        return cast(BinaryIO, bz2.BZ2File(raw)), True
    if magic.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(raw)), True
    return raw, False


def open_tar(raw: BinaryIO, archive_size: int, limits: Limits) -> tuple[tarfile.TarFile, _Bounded]:
    stream, compressed = _decompressed(raw)
    bound = limits.ratio_bound(archive_size)
    if bound is not None:
        code, why = (
            "E128",
            (
                f"inflates past {limits.max_expansion_ratio}:1 of its {archive_size} bytes "
                "(setting max_expansion_ratio): a compression bomb"
            ),
        )
    else:
        bound = limits.max_bytes + _HEADER_ROOM * (limits.max_members + 2)
        code, why = "E125", f"inflates past the limit of {limits.max_bytes} bytes and the room for its headers"
    if not compressed:
        bound = max(bound, archive_size)  # a plain tar cannot inflate: its own size is no bomb
    bounded = _Bounded(stream, bound, code, why)
    tf = tarfile.open(  # noqa: SIM115 (closed by the caller, with the listing)
        fileobj=cast(BinaryIO, bounded),
        mode="r:",
        encoding="utf-8",
        errors="surrogateescape",
    )
    return tf, bounded


def _kind(info: tarfile.TarInfo) -> str:
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isdir():
        return "dir"
    if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
        return "file"
    if info.ischr() or info.isblk():
        return "device"
    if info.isfifo():
        return "fifo"
    return "other"  # sparse files, volume labels, multi-volume continuations, vendor types


def _open_member(tf: tarfile.TarFile, info: tarfile.TarInfo) -> BinaryIO:
    stream = tf.extractfile(info)
    if stream is None:
        raise tarfile.TarError(f"{info.name!r} has no content to read")
    return cast(BinaryIO, stream)


_DIGITS = re.compile(r"[0-9]+")


def tar_members(tf: tarfile.TarFile) -> Iterator[Member]:
    """Each member as listed; a header that cannot be trusted ends the listing with its problem."""
    while True:
        info = tf.next()
        if info is None:
            return
        kind = _kind(info)
        m = Member(info.name, kind, info.size, opener=partial(_open_member, tf, info))
        pax_size = info.pax_headers.get("size")
        if pax_size is not None and not _DIGITS.fullmatch(pax_size):
            m.problems.append(
                (
                    "E120",
                    (
                        f"archive member's header declares a size that is not a number "
                        f"(pax size={pax_size[:40]!r}); its data cannot be located"
                    ),
                )
            )
        elif info.size < 0:
            m.problems.append(
                (
                    "E120",
                    (f"archive member's header declares a negative size ({info.size}); its data cannot be located"),
                )
            )
        elif kind == "dir" and info.size:
            m.problems.append(("E120", f"archive member is a folder whose header declares {info.size} bytes of data"))
        if info.sparse is not None or info.type == tarfile.GNUTYPE_SPARSE:
            m.kind = "sparse"
        yield m
        if m.problems and m.problems[0][0] == "E120":
            return  # nothing after a header that cannot be trusted can be located


def check_end(tf: tarfile.TarFile, stream: _Bounded) -> str | None:
    """After the last member: why the rest of the stream is not the end of a tar, or None.

    Reading to the end also checks a gzip, bzip2 or xz stream's own checksum and length.
    """
    end = tf.offset
    stream.seek(end)
    zeros = 0
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        if chunk.count(0) != len(chunk):
            at = end + zeros + next(i for i, b in enumerate(chunk) if b)
            return (
                f"holds data after its last readable header, at byte {at} of the tar stream: a damaged or "
                "invalid header there would silently drop every member behind it"
            )
        zeros += len(chunk)
    if zeros < _ZERO_BLOCK:
        return "ends without the zero blocks that end a tar: it was cut short"
    return None

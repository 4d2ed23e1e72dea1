"""Read a zip's structure ourselves and refuse what could be read two ways, before extracting.

``zipfile`` trusts the central directory: many entries may point at the same local data (the
"better zip bomb" of David Fifield, where a few kilobytes list gigabytes), a local header may
name another file than the directory does, a declared size may be impossible. Whether the
interpreter catches overlaps depends on its patch level, so nothing here relies on it. This
module parses the end record (zip64 too), every central-directory entry and every local header
with bounded reads, and checks:

* every entry's local header and data lie inside the file, before the central directory;
* no two entries' ranges (local header, data, data descriptor) overlap;
* the local header's name, method and encryption flag are those of the central directory;
* sizes are possible: a stored entry stores what it expands to, deflate expands at most
  1032:1, a folder entry holds no data; the entry count and directory size add up;
* no bytes before the first entry the directory does not account for, nothing after the end.

Names are decoded from the bytes the directory holds (``ZipInfo.filename`` is cut at a NUL,
``orig_filename`` is not; here nothing is cut): UTF-8 when flag bit 11 says so (refused when it
is not, E130), the Info-ZIP Unicode Path field when its checksum matches the raw name, else
UTF-8 when the bytes are valid UTF-8, else code page 437 as the zip specification says.
Structural problems are ``E127``; a file that is not a zip at all is ``E120``.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

_EOCD = struct.Struct("<4s4H2LH")  # signature, disk, cd disk, entries on disk, entries, cd size, cd offset, comment
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5HLL")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_MAX_COMMENT = 0xFFFF
#: deflate's most extreme expansion is about 1032:1 (258 bytes from each 2-bit code)
_DEFLATE_MAX_RATIO = 1032
_METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma"}


class ZipUnreadable(Exception):
    """Not a zip at all, or one whose directory cannot be parsed (E120)."""


@dataclass
class ZipEntry:
    index: int
    raw_name: bytes
    name: str
    flags: int
    method: int
    crc: int
    packed: int
    size: int
    offset: int
    external_attr: int
    create_system: int
    start: int = 0  # first byte of the local header (== offset)
    end: int = 0  # one past the last byte (data and descriptor); 0 until the local header is read
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 0x41) or self.method == 99  # traditional, strong, or AES


@dataclass
class ZipListing:
    entries: list[ZipEntry]
    problems: list[tuple[str, str]]  # (code, message) about the whole archive
    count: int = 0  # entries the end record declares


def _read_at(fh: BinaryIO, offset: int, size: int) -> bytes:
    fh.seek(offset)
    return fh.read(size)


def _decode_name(raw: bytes, flags: int, extra: bytes) -> tuple[str, tuple[str, str] | None]:
    if flags & 0x800:
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError:
            return (
                raw.decode("utf-8", "surrogateescape"),
                ("E130", "name is flagged as UTF-8 (general purpose bit 11) but is not valid UTF-8"),
            )
    unicode_path = _unicode_path(raw, extra)
    if unicode_path is not None:
        try:
            return unicode_path.decode("utf-8"), None
        except UnicodeDecodeError:
            return (
                unicode_path.decode("utf-8", "surrogateescape"),
                ("E130", "name in the Info-ZIP Unicode Path field is not valid UTF-8"),
            )
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("cp437"), None


def _extra_fields(extra: bytes) -> list[tuple[int, bytes]] | None:
    fields, i = [], 0
    while i + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, i)
        if i + 4 + size > len(extra):
            return None
        fields.append((kind, extra[i + 4 : i + 4 + size]))
        i += 4 + size
    return fields


def _unicode_path(raw: bytes, extra: bytes) -> bytes | None:
    for kind, data in _extra_fields(extra) or []:
        if (
            kind == 0x7075
            and len(data) >= 5
            and data[0] == 1
            and struct.unpack_from("<L", data, 1)[0] == zlib.crc32(raw)
        ):
            return data[5:]
    return None


def _zip64(entry: ZipEntry, extra: bytes) -> str | None:
    """Apply the zip64 extra field as ``zipfile`` does; why it is corrupt, or None."""
    fields = _extra_fields(extra)
    if fields is None:
        return "its extra field is cut short"
    for kind, data in fields:
        if kind != 0x0001:
            continue
        try:
            at = 0
            if entry.size in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                entry.size = struct.unpack_from("<Q", data, at)[0]
                at += 8
            if entry.packed == 0xFFFFFFFF:
                entry.packed = struct.unpack_from("<Q", data, at)[0]
                at += 8
            if entry.offset == 0xFFFFFFFF:
                entry.offset = struct.unpack_from("<Q", data, at)[0]
        except struct.error:
            return "its zip64 extra field is cut short"
        break
    return None


def _end_record(fh: BinaryIO, size: int) -> tuple[int, int, int, int, list[tuple[str, str]]]:
    """(end record position, entries, directory size, directory offset, problems)."""
    problems: list[tuple[str, str]] = []
    tail_start = max(0, size - _EOCD.size - _MAX_COMMENT)
    tail = _read_at(fh, tail_start, size - tail_start)
    at = tail.rfind(b"PK\x05\x06")  # the last one, as zipfile takes it
    if at < 0 or at + _EOCD.size > len(tail):
        raise ZipUnreadable("no end of central directory record: not a zip, or cut short")
    _, disk, cd_disk, _, entries, cd_size, cd_offset, comment = _EOCD.unpack_from(tail, at)
    eocd = tail_start + at
    if disk or cd_disk:
        raise ZipUnreadable("the zip spans several disks (a split archive); submit it whole")
    if eocd + _EOCD.size + comment != size:
        problems.append(
            ("E127", (f"{size - eocd - _EOCD.size - comment} bytes after the end record that no entry accounts for"))
        )
    start = eocd
    locator = eocd - _EOCD64_LOCATOR.size
    if locator >= 0:
        sig, _, where, disks = _EOCD64_LOCATOR.unpack(_read_at(fh, locator, _EOCD64_LOCATOR.size))
        if sig == b"PK\x06\x07":
            record = locator - _EOCD64.size
            raw = _read_at(fh, record, _EOCD64.size) if record >= 0 else b""
            if disks != 1 or len(raw) != _EOCD64.size or raw[:4] != b"PK\x06\x06":
                raise ZipUnreadable("its zip64 end record is missing or spans several disks")
            values = _EOCD64.unpack(raw)
            entries, cd_size, cd_offset = values[7], values[8], values[9]
            if where != record:
                problems.append(("E127", "its zip64 locator points elsewhere than its zip64 end record"))
            start = record
    concat = start - cd_size - cd_offset
    if concat < 0:
        raise ZipUnreadable("its central directory lies outside the file")
    if concat:
        problems.append(
            (
                "E127",
                (
                    f"{concat} bytes before the first entry that its directory does not account "
                    "for (a self-extractor, or two zips joined)"
                ),
            )
        )
    return start, entries, cd_size, cd_offset, problems


def read_zip(fh: BinaryIO, size: int, max_entries: int) -> ZipListing:
    """The zip's entries and structural problems; raises :class:`ZipUnreadable` (E120)."""
    start, count, cd_size, cd_offset, problems = _end_record(fh, size)
    listing = ZipListing([], problems, count)
    if count > max_entries:
        return listing  # refused from its count (E124) before a byte of the directory is parsed
    if start != cd_offset + cd_size:
        return listing  # offsets that do not add up (refused above): nothing below would be where it says
    fh.seek(cd_offset)
    used = 0
    while used < cd_size:
        head = fh.read(_CENTRAL.size)
        if len(head) != _CENTRAL.size or head[:4] != b"PK\x01\x02":
            raise ZipUnreadable(f"its central directory is damaged at entry {len(listing.entries) + 1}")
        (
            _,
            _,
            create_system,
            _,
            _,
            flags,
            method,
            _,
            _,
            crc,
            packed,
            expanded,
            name_len,
            extra_len,
            comment_len,
            _,
            _,
            external_attr,
            offset,
        ) = _CENTRAL.unpack(head)
        raw = fh.read(name_len)
        extra = fh.read(extra_len)
        fh.read(comment_len)
        used += _CENTRAL.size + name_len + extra_len + comment_len
        name, name_issue = _decode_name(raw, flags, extra)
        entry = ZipEntry(
            len(listing.entries), raw, name, flags, method, crc, packed, expanded, offset, external_attr, create_system
        )
        if name_issue:
            entry.problems.append(name_issue)
        corrupt = _zip64(entry, extra)
        if corrupt:
            entry.problems.append(("E127", f"archive member's directory entry is corrupt: {corrupt}"))
        listing.entries.append(entry)
        if len(listing.entries) > max_entries:
            return listing
    if used != cd_size or len(listing.entries) != count:
        problems.append(
            (
                "E127",
                (
                    f"its end record declares {count} entries in {cd_size} bytes; the directory "
                    f"holds {len(listing.entries)} entries in {used} bytes"
                ),
            )
        )
    for entry in listing.entries:
        _check_local(fh, entry, cd_offset)
    _check_overlaps(listing.entries)
    return listing


def _check_local(fh: BinaryIO, e: ZipEntry, data_end: int) -> None:
    """Read ``e``'s local header; place its range; compare it with the directory."""
    e.start = e.offset
    if e.offset + _LOCAL.size > data_end:
        e.problems.append(
            ("E127", (f"archive member's local header (at byte {e.offset}) lies outside the archive's data"))
        )
        return
    head = _read_at(fh, e.offset, _LOCAL.size)
    sig, _, _, flags, method, _, _, _, _, local_size, name_len, extra_len = _LOCAL.unpack(head)
    if sig != b"PK\x03\x04":
        e.problems.append(
            ("E127", (f"archive member has no local header at byte {e.offset}, where its directory entry points"))
        )
        return
    local_name = fh.read(name_len)
    local_extra = fh.read(extra_len)
    data = e.offset + _LOCAL.size + name_len + extra_len
    e.end = data + e.packed
    if flags & 0x8:  # a data descriptor follows the data: at least CRC and two sizes
        zip64 = any(kind == 1 for kind, _ in _extra_fields(local_extra) or []) or local_size == 0xFFFFFFFF
        signed = _read_at(fh, e.end, 4) == b"PK\x07\x08" if e.end + 4 <= data_end else False
        e.end += (4 if signed else 0) + 4 + (16 if zip64 else 8)
    if local_name != e.raw_name:
        e.problems.append(
            (
                "E127",
                (
                    f"archive member's local header names {local_name!r}, its directory entry "
                    f"{e.raw_name!r}: the two would extract different files"
                ),
            )
        )
    if method != e.method or (flags & 0x41) != (e.flags & 0x41):
        e.problems.append(
            ("E127", ("archive member's local header and directory entry disagree on its compression or encryption"))
        )
    if e.end > data_end:
        e.problems.append(
            (
                "E127",
                (
                    f"archive member's data (bytes {e.offset}-{e.end}) runs past the archive's data "
                    f"(which ends at byte {data_end}): its compressed size is a lie"
                ),
            )
        )
    if e.raw_name.endswith(b"/") and e.size:
        e.problems.append(("E120", f"archive member is a folder entry holding {e.size} bytes of data"))
    if e.encrypted:
        return  # refused as encrypted (E120); its sizes include the encryption header
    if e.method not in _METHODS:
        e.problems.append(
            (
                "E120",
                (
                    f"archive member uses compression method {e.method}, which the archive cannot "
                    "read (stored, deflate, bzip2 and lzma can be)"
                ),
            )
        )
    elif e.method == 0 and e.packed != e.size:
        e.problems.append(
            (
                "E127",
                (
                    f"archive member is stored uncompressed, yet declares {e.packed} bytes stored "
                    f"and {e.size} bytes expanded"
                ),
            )
        )
    elif e.method == 8 and e.size > _DEFLATE_MAX_RATIO * e.packed + 1024:
        e.problems.append(
            (
                "E127",
                (
                    f"archive member declares {e.size} bytes from {e.packed} deflated bytes, more "
                    "than deflate can expand to"
                ),
            )
        )


def _check_overlaps(entries: list[ZipEntry]) -> None:
    placed = sorted((e for e in entries if e.end), key=lambda e: (e.start, e.index))
    reach, holder = -1, None
    for e in placed:
        if holder is not None and e.start < reach:
            e.problems.append(
                (
                    "E127",
                    (
                        f"archive member's bytes {e.start}-{e.end} overlap those of "
                        f"{holder.name!r} ({holder.start}-{holder.end}): entries sharing their data "
                        "are a zip bomb by overlap"
                    ),
                )
            )
        if e.end > reach:
            reach, holder = e.end, e


def same_as_zipfile(entries: list[ZipEntry], infos: list[zipfile.ZipInfo]) -> str | None:
    """Why ``zipfile`` reads the directory otherwise than :func:`read_zip` did, or None."""
    if len(entries) != len(infos):
        return f"Python's zipfile lists {len(infos)} entries, the directory {len(entries)}"
    for e, info in zip(entries, infos, strict=False):
        ours = (e.offset, e.packed, e.size, e.crc, e.flags, e.method)
        theirs = (info.header_offset, info.compress_size, info.file_size, info.CRC, info.flag_bits, info.compress_type)
        if ours != theirs:
            return f"entry {e.index + 1} ({e.name!r}) is read two ways: {ours} and {theirs}"
    return None

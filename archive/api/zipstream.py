"""A streaming zip writer: stored entries (no compression), CRC-32 in data descriptors, ZIP64.

The archive's files are already compressed or are preservation masters; deflating them costs
CPU for little gain, and *stored* entries let a zip be produced at disk speed. Each entry is
written as: local header (CRC and sizes zero, flag bit 3) -> the bytes, as they are read ->
data descriptor (CRC-32 computed while streaming, sizes). The central directory follows the
last entry. Entries of 2 GiB or more, offsets past 2 GiB and more than 65,534 entries use
ZIP64 records (APPNOTE 6.3.10 §4.3.9, §4.4, §4.5.3), as Python's zipfile does.

Because the catalog knows every size in advance, :func:`zip_size` predicts the exact length
of the zip, so a download carries ``Content-Length`` and shows progress. Memory: one central
directory record (about 100 bytes) per entry, and none of the data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

#: Python's zipfile switches to ZIP64 here too (some readers take 32-bit fields as signed)
ZIP64_LIMIT = (1 << 31) - 1
_MAX16 = 0xFFFF
_MAX32 = 0xFFFFFFFF
_FLAGS = 0x08 | 0x800  # data descriptor follows; names are UTF-8
_UNIX = 3 << 8
_MODE = 0o100644 << 16  # regular file, rw-r--r--


def dos_datetime(when: datetime) -> tuple[int, int]:
    year = min(max(when.year, 1980), 2107)
    date = ((year - 1980) << 9) | (when.month << 5) | when.day
    time = (when.hour << 11) | (when.minute << 5) | (when.second // 2)
    return time, date


@dataclass
class _Entry:
    name: bytes
    size: int
    offset: int
    zip64: bool
    crc: int = 0


class ZipWriter:
    """Produces the bytes around each entry's data; the caller sends the data in between."""

    def __init__(self, when: datetime, zip64_limit: int = ZIP64_LIMIT) -> None:
        self.time, self.date = dos_datetime(when)
        self.limit = zip64_limit
        self.offset = 0
        self._entries: list[_Entry] = []
        self._current: _Entry | None = None

    def begin(self, name: str, size: int) -> bytes:
        """The local header of the next entry, which must be followed by exactly ``size`` bytes."""
        if self._current is not None:
            raise RuntimeError("the previous zip entry was not ended")
        encoded = name.encode("utf-8")
        zip64 = size > self.limit
        extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0) if zip64 else b""
        version = 45 if zip64 else 20
        size_field = _MAX32 if zip64 else 0
        header = (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                version,
                _FLAGS,
                0,
                self.time,
                self.date,
                0,
                size_field,
                size_field,
                len(encoded),
                len(extra),
            )
            + encoded
            + extra
        )
        self._current = _Entry(encoded, size, self.offset, zip64)
        self.offset += len(header)
        return header

    def end(self, crc: int) -> bytes:
        """The data descriptor of the current entry, once its bytes were sent and their CRC known."""
        entry = self._current
        if entry is None:
            raise RuntimeError("no zip entry was begun")
        entry.crc = crc
        self.offset += entry.size
        if entry.zip64:
            descriptor = struct.pack("<IIQQ", 0x08074B50, crc, entry.size, entry.size)
        else:
            descriptor = struct.pack("<IIII", 0x08074B50, crc, entry.size, entry.size)
        self.offset += len(descriptor)
        self._entries.append(entry)
        self._current = None
        return descriptor

    def _central_record(self, e: _Entry) -> bytes:
        fields: list[int] = []
        size_field = offset_field = 0
        if e.zip64:
            fields += [e.size, e.size]
            size_field = _MAX32
        else:
            size_field = e.size
        if e.offset > self.limit:
            fields.append(e.offset)
            offset_field = _MAX32
        else:
            offset_field = e.offset
        extra = (
            struct.pack("<HH", 0x0001, 8 * len(fields)) + struct.pack(f"<{len(fields)}Q", *fields) if fields else b""
        )
        version = 45 if fields else 20
        return (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _UNIX | version,
                version,
                _FLAGS,
                0,
                self.time,
                self.date,
                e.crc,
                size_field,
                size_field,
                len(e.name),
                len(extra),
                0,
                0,
                0,
                _MODE,
                offset_field,
            )
            + e.name
            + extra
        )

    def finish(self) -> bytes:
        """The central directory and end records."""
        if self._current is not None:
            raise RuntimeError("the last zip entry was not ended")
        start = self.offset
        central = b"".join(self._central_record(e) for e in self._entries)
        count = len(self._entries)
        out = [central]
        end_offset = start + len(central)
        if count >= _MAX16 or len(central) > self.limit or start > self.limit:
            out.append(
                struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _UNIX | 45, 45, 0, 0, count, count, len(central), start)
            )
            out.append(struct.pack("<IIQI", 0x07064B50, 0, end_offset, 1))
            out.append(
                struct.pack(
                    "<IHHHHIIH",
                    0x06054B50,
                    0,
                    0,
                    min(count, _MAX16),
                    min(count, _MAX16),
                    min(len(central), _MAX32),
                    _MAX32,
                    0,
                )
            )
        else:
            out.append(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), start, 0))
        data = b"".join(out)
        self.offset += len(data)
        return data


def zip_size(entries: Iterable[tuple[str, int]], when: datetime, zip64_limit: int = ZIP64_LIMIT) -> int:
    """The exact length of the zip :class:`ZipWriter` makes of ``(name, size)`` entries."""
    writer = ZipWriter(when, zip64_limit)
    for name, size in entries:
        writer.begin(name, size)
        writer.end(0)
    writer.finish()
    return writer.offset

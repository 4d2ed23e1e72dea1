import struct
import zlib
from pathlib import Path

from tests.support.hostile_cases import STRICT_FORMATS, own_profile_submission


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def build(dest: Path) -> Path:
    root = own_profile_submission(dest, "strict-formats", STRICT_FORMATS)
    (root / "report.pdf").write_bytes(b"")
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _chunk(b"IEND", b"")
    )
    (root / "pixel.png").write_bytes(png)
    return root

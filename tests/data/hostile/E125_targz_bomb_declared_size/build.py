import struct
import tarfile
import zlib
from pathlib import Path

from tests.support.hostile_cases import crc32_append_zeros, deflate_zeros

SIZE = 4 << 30


def build(dest: Path) -> Path:
    info = tarfile.TarInfo("bomb/zeros.bin")
    info.size, info.mtime, info.mode = SIZE, 0, 0o644
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    tail = bytes(1024)  # two zero blocks end a tar
    stream = deflate_zeros(SIZE >> 20, prefix=header, suffix=tail)
    crc = zlib.crc32(tail, crc32_append_zeros(zlib.crc32(header), SIZE))
    length = (len(header) + SIZE + len(tail)) & 0xFFFFFFFF
    path = dest / "bomb.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream + struct.pack("<II", crc, length))
    return path

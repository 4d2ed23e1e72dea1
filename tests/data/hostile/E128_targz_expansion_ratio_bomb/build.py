import io
import struct
import tarfile
import zlib
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, crc32_append_zeros, deflate_zeros

SIZE = 40 << 20


def build(dest: Path) -> Path:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("metadata.yaml")
        info.size = len(METADATA_YAML.encode())
        tf.addfile(info, io.BytesIO(METADATA_YAML.encode()))
    head = out.getvalue().rstrip(b"\0")
    head += b"\0" * (-len(head) % 512)
    info = tarfile.TarInfo("zeros.bin")
    info.size, info.mtime, info.mode = SIZE, 0, 0o644
    head += info.tobuf(format=tarfile.USTAR_FORMAT)
    tail = bytes(1024)
    stream = deflate_zeros(SIZE >> 20, prefix=head, suffix=tail)
    crc = zlib.crc32(tail, crc32_append_zeros(zlib.crc32(head), SIZE))
    length = (len(head) + SIZE + len(tail)) & 0xFFFFFFFF
    path = dest / "ratio.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream + struct.pack("<II", crc, length))
    return path

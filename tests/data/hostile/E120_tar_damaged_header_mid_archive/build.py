import io
import tarfile
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML


def build(dest: Path) -> Path:
    out = io.BytesIO()
    offsets = []
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in (
            ("metadata.yaml", METADATA_YAML.encode()),
            ("a.txt", b"a\n"),
            ("b.txt", b"b\n"),
            ("c.txt", b"c\n"),
            ("d.txt", b"d\n"),
        ):
            offsets.append(out.tell())
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    data = bytearray(out.getvalue())
    data[offsets[2] + 148] ^= 0x01  # one bit of b.txt's header checksum
    path = dest / "damaged.tar"
    path.write_bytes(bytes(data))
    return path

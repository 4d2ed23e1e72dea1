import io
import tarfile
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML


def header_with(info: tarfile.TarInfo, size_field: bytes) -> bytes:
    """A ustar header for ``info`` whose 12-byte size field is ``size_field``, with a correct checksum."""
    block = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    block[124:136] = size_field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def build(dest: Path) -> Path:
    hidden = tarfile.TarInfo("hidden.txt")
    hidden.size = 7
    payload = hidden.tobuf(format=tarfile.USTAR_FORMAT) + b"hidden\n".ljust(512, b"\0")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in (("metadata.yaml", METADATA_YAML.encode()), ("ok.txt", b"fine\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    body = out.getvalue().rstrip(b"\0")
    body += b"\0" * (-len(body) % 512)
    lost = tarfile.TarInfo("lost.txt")
    negative = b"\xff" * 11 + b"\xfe"  # base-256: -2
    path = dest / "negative.tar"
    path.write_bytes(body + header_with(lost, negative) + payload + b"\0" * 1024)
    return path

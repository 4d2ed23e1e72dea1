import struct
import zlib
from pathlib import Path

import py7zr

from tests.support.hostile_cases import METADATA_YAML

PLACEHOLDER = "xx/xx/hostile-corpus-escape.txt"
EVIL = "../../hostile-corpus-escape.txt"


def build(dest: Path) -> Path:
    path = dest / "slip.7z"
    with py7zr.SevenZipFile(path, "w") as szf:
        szf.set_encoded_header_mode(False)  # a plain header, so the name can be patched in place
        szf.writestr(METADATA_YAML, "metadata.yaml")
        szf.writestr(b"escaped\n", PLACEHOLDER)
    data = bytearray(path.read_bytes())
    at = data.index(PLACEHOLDER.encode("utf-16-le"))
    data[at : at + 2 * len(EVIL)] = EVIL.encode("utf-16-le")
    offset, size = struct.unpack_from("<QQ", data, 12)
    header = bytes(data[32 + offset : 32 + offset + size])
    struct.pack_into("<L", data, 28, zlib.crc32(header))
    struct.pack_into("<L", data, 8, zlib.crc32(bytes(data[12:32])))
    path.write_bytes(bytes(data))
    return path

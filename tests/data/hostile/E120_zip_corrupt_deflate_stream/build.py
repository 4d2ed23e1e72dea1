import zlib
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, write_zip

GARBAGE = b"\xff" * 64  # BTYPE 11: a reserved deflate block type


def build(dest: Path) -> Path:
    return write_zip(
        dest / "corrupt.zip",
        [
            ZipEntry.of("metadata.yaml", METADATA_YAML.encode()),
            ZipEntry("photo.txt", GARBAGE, 100, zlib.crc32(bytes(100))),
        ],
    )

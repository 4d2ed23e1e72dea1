from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, crc32_append_zeros, deflate_zeros, write_zip

SIZE = 40 << 20


def build(dest: Path) -> Path:
    return write_zip(
        dest / "ratio.zip",
        [
            ZipEntry.of("metadata.yaml", METADATA_YAML.encode()),
            ZipEntry("zeros.bin", deflate_zeros(SIZE >> 20), SIZE, crc32_append_zeros(0, SIZE)),
        ],
    )

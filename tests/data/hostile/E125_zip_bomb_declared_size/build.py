from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, crc32_append_zeros, deflate_zeros, write_zip

SIZE = 4 << 30


def build(dest: Path) -> Path:
    zeros = deflate_zeros(SIZE >> 20)  # 4 GiB of zeros in about 4 MB, honestly declared (zip64)
    return write_zip(
        dest / "bomb.zip",
        [
            ZipEntry.of("metadata.yaml", METADATA_YAML.encode()),
            ZipEntry("zeros.bin", zeros, SIZE, crc32_append_zeros(0, SIZE)),
        ],
    )

from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, crc32_append_zeros, deflate_zeros, write_zip

GIB = 1 << 30


def build(dest: Path) -> Path:
    zeros = deflate_zeros(GIB >> 20)  # 1 GiB of zeros in about 1 MB, declared as 1,000 bytes
    return write_zip(
        dest / "liar.zip",
        [
            ZipEntry.of("metadata.yaml", METADATA_YAML.encode()),
            ZipEntry("zeros.bin", zeros, 1000, crc32_append_zeros(0, GIB)),
        ],
    )

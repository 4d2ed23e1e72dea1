from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, write_zip


def build(dest: Path) -> Path:
    return write_zip(
        dest / "encrypted.zip",
        [
            ZipEntry.of("metadata.yaml", METADATA_YAML.encode()),
            ZipEntry.of("secret.txt", b"flagged, not really encrypted\n", flags=0x1),
        ],
    )

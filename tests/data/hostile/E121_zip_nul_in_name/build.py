from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, write_zip


def build(dest: Path) -> Path:
    return write_zip(
        dest / "nul.zip",
        [
            ZipEntry.of("metadata.yaml", METADATA_YAML.encode()),
            ZipEntry.of("photo.jpg", b"the real photo\n"),
            ZipEntry.of("photo.jpg\x00../../../escape.sh", b"hidden behind a NUL\n"),
        ],
    )

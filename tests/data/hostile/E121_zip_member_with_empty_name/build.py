from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, write_zip


def build(dest: Path) -> Path:
    return write_zip(
        dest / "nameless.zip",
        [ZipEntry.of("metadata.yaml", METADATA_YAML.encode()), ZipEntry.of("", b"a member without a name\n")],
    )

from pathlib import Path

import py7zr

from tests.support.hostile_cases import METADATA_YAML


def build(dest: Path) -> Path:
    path = dest / "encrypted.7z"
    with py7zr.SevenZipFile(path, "w", password="secret") as szf:
        szf.writestr(METADATA_YAML, "metadata.yaml")
        szf.writestr(b"confidential\n", "secret.txt")
    return path

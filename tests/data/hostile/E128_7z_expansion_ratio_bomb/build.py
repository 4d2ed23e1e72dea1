from pathlib import Path

import py7zr

from tests.support.hostile_cases import METADATA_YAML


def build(dest: Path) -> Path:
    path = dest / "ratio.7z"
    with py7zr.SevenZipFile(path, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 1}]) as szf:
        szf.writestr(METADATA_YAML, "metadata.yaml")
        szf.writestr(bytes(4 << 20), "zeros.bin")
    return path

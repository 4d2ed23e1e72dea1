import zipfile
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML


def build(dest: Path) -> Path:
    path = dest / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.yaml", METADATA_YAML)
        for i in range(2000):
            zf.writestr(f"files/{i:04}.txt", b"")
    return path

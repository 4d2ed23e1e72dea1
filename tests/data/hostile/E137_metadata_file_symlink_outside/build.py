import os
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    outside = dest / "outside"
    outside.mkdir()
    write_metadata(outside)
    root = dest / "submission"
    root.mkdir()
    (root / "ok.txt").write_text("fine\n")
    os.symlink(outside / "metadata.yaml", root / "metadata.yaml")
    return root

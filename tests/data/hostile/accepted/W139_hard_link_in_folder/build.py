import os
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "original.txt").write_text("one file, two names\n")
    os.link(root / "original.txt", root / "copy.txt")
    return root

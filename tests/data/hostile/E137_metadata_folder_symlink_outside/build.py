import os
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    outside = dest / "outside"
    outside.mkdir()
    (outside / "files.csv").write_text("path,caption\nok.txt,read from outside the submission\n")
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    os.symlink(outside, root / "metadata")
    return root

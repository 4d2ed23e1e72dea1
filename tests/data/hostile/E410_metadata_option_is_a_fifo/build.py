import os
from pathlib import Path


def build(dest: Path) -> Path:
    os.mkfifo(dest / "metadata.yaml")
    root = dest / "submission"
    root.mkdir()
    (root / "ok.txt").write_text("fine\n")
    return root

import os
import shutil
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    root = write_bag(dest / "bag", {"secret.txt": b"outside the bag\n"})
    shutil.move(root / "data", dest / "outside")
    os.symlink(dest / "outside", root / "data")
    return root

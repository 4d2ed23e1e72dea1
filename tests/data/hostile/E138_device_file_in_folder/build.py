import os
import stat
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    os.mknod(root / "zero", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero's numbers
    return root

import os
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    real = dest / "real"
    real.mkdir()
    write_metadata(real)
    (real / "ok.txt").write_text("fine\n")
    os.symlink(real, dest / "link")
    return dest / "link"

import os
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    bag = write_bag(dest / "bag", {"ok.txt": b"fine\n"})
    (bag / "bag-info.txt").unlink()
    os.mkfifo(bag / "bag-info.txt")
    return bag

import os
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    bag = write_bag(dest / "bag", {"ok.txt": b"fine\n"})
    (bag / "logs").mkdir()
    (bag / "logs" / "transfer.log").write_text("transfer complete\n")
    os.mkfifo(bag / "logs" / "pipe")
    return bag

from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    bag = write_bag(dest / "bag", {"ok.txt": b"fine\n"})
    with open(bag / "bag-info.txt", "a") as fh:
        fh.write("Internal-Sender-Description: " + "x" * 900_000 + "\n")
    return bag

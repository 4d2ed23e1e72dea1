from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    (dest / "outside.txt").write_text("outside the bag\n")
    return write_bag(dest / "bag", {"ok.txt": b"fine\n"}, extra_paths=["../outside.txt", "data/../../outside.txt"])

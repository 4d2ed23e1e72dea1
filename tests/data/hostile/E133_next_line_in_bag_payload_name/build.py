from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    return write_bag(dest / "bag", {"ok.txt": b"fine\n", "next\u0085line.txt": b"split\n"})

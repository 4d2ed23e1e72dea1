import random
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "photo.jpg").write_bytes(random.Random(212).randbytes(4096))
    return root

import random
from pathlib import Path

from tests.support.hostile_cases import STRICT_FORMATS, own_profile_submission


def build(dest: Path) -> Path:
    root = own_profile_submission(dest, "strict-formats", STRICT_FORMATS)
    rng = random.Random(211)  # the same bytes on every run
    for name in ("table.csv", "photo.jpg"):
        (root / name).write_bytes(bytes(b | 0x80 for b in rng.randbytes(4096)))  # never text
    return root

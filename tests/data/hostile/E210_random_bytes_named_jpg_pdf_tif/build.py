import random
from pathlib import Path

from tests.support.hostile_cases import STRICT_FORMATS, own_profile_submission


def build(dest: Path) -> Path:
    root = own_profile_submission(dest, "strict-formats", STRICT_FORMATS)
    rng = random.Random(210)  # the same bytes on every run
    for name in ("photo.jpg", "report.pdf", "scan.tif"):
        (root / name).write_bytes(rng.randbytes(4096))
    return root

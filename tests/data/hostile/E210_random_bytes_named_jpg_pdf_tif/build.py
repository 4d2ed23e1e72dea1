import random
from pathlib import Path

from tests.hostile_cases import write_metadata

STRICT = "id: strict-formats\nversion: '1'\nextends: heritage\nformats:\n  unidentified: reject\n"


def build(dest: Path) -> Path:
    (dest / "profiles").mkdir()
    (dest / "profiles" / "strict-formats.yaml").write_text(STRICT)
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    rng = random.Random(210)  # the same bytes on every run
    for name in ("photo.jpg", "report.pdf", "scan.tif"):
        (root / name).write_bytes(rng.randbytes(4096))
    return root

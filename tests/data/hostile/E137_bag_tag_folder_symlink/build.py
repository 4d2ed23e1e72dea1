import hashlib
import os
import secrets
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    outside = dest / "outside"
    outside.mkdir()
    (outside / "rights.csv").write_text(f"CANARY-{secrets.token_hex(16)}\n")
    bag = write_bag(dest / "bag", {"ok.txt": b"fine\n"})
    os.symlink(outside, bag / "metadata")
    lines = [
        f"{hashlib.sha256((bag / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("bagit.txt", "bag-info.txt", "metadata/rights.csv")
    ]
    (bag / "tagmanifest-sha256.txt").write_text("".join(lines))
    return bag

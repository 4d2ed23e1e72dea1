import os
import secrets
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    canary = dest / "canary.txt"
    canary.write_text(f"Payload-Oxum: 5.1\nCanary-Secret: CANARY-{secrets.token_hex(16)}\n")
    bag = write_bag(dest / "bag", {"ok.txt": b"fine\n"})
    (bag / "bag-info.txt").unlink()
    os.symlink(canary, bag / "bag-info.txt")
    return bag

import os
import secrets
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    canary = dest / "canary.txt"
    canary.write_text(f"CANARY-{secrets.token_hex(16)} is not a manifest line\n")
    bag = write_bag(dest / "bag", {"ok.txt": b"fine\n"})
    target = Path("/proc/self/environ")
    os.symlink(target if target.exists() else canary, bag / "tagmanifest-sha256.txt")
    return bag

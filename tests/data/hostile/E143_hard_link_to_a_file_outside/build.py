import os
import secrets
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    canary = dest / "canary.txt"
    canary.write_text(f"CANARY-{secrets.token_hex(16)}\n")
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "letter.txt").write_text("an ordinary file\n")
    os.link(canary, root / "looks-ordinary.txt")  # the same bytes as a file outside the submission
    return root

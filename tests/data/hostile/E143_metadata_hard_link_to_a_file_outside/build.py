import os
import secrets
from pathlib import Path


def build(dest: Path) -> Path:
    canary = dest / "canary.txt"  # not a mapping: read as metadata, its text would be quoted back
    canary.write_text(f"CANARY-{secrets.token_hex(16)} root:x:0:0:root:/root:/bin/bash\n")
    root = dest / "submission"
    root.mkdir()
    (root / "letter.txt").write_text("an ordinary file\n")
    os.link(canary, root / "metadata.yaml")  # the descriptive metadata is another file's bytes
    return root

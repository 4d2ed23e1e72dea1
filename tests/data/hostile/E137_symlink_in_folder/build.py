import os
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    secret = dest / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("must never be archived\n")
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    os.symlink(secret, root / "secret.txt")
    os.symlink("../outside", root / "outside-folder")
    os.symlink("/etc/passwd", root / "passwd")
    return root

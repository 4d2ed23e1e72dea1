import os
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    with open(os.fsencode(root) + b"/caf\xe9-latin1.txt", "wb") as fh:
        fh.write(b"named in Latin-1\n")
    return root

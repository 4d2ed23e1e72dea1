import os
from pathlib import Path

import py7zr

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    source = dest / "source"
    source.mkdir()
    write_metadata(source)
    (source / "ok.txt").write_text("fine\n")
    os.symlink("/etc/passwd", source / "passwd")
    path = dest / "symlink.7z"
    with py7zr.SevenZipFile(path, "w") as szf:  # py7zr stores the link as a link (dereference=False)
        for name in ("metadata.yaml", "ok.txt", "passwd"):
            szf.write(source / name, name)
    return path

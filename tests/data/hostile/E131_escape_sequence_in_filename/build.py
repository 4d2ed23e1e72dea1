from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    (root / "\x1b[2J\x1b[31mrm -rf.txt").write_text("escape sequences in the name\n")
    return root

from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "Readme.txt").write_text("one\n")
    (root / "README.txt").write_text("two\n")
    return root

from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "caf\u00e9.txt").write_text("precomposed\n")
    (root / "cafe\u0301.txt").write_text("decomposed\n")
    return root

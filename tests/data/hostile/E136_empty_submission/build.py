from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    (root / "empty" / "still-empty").mkdir(parents=True)
    write_metadata(root)
    return root

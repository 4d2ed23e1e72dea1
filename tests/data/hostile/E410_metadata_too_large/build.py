from pathlib import Path

from tests.support.hostile_cases import sparse_file

LIMIT = 300_000_000


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    (root / "ok.txt").write_text("fine\n")
    sparse_file(root / "metadata.yaml", b"title: huge\n", LIMIT + 1)
    return root

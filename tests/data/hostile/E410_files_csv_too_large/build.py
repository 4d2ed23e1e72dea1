from pathlib import Path

from tests.support.hostile_cases import sparse_file, write_metadata

LIMIT = 200_000_000


def build(dest: Path) -> Path:
    root = dest / "submission"
    (root / "metadata").mkdir(parents=True)
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    sparse_file(root / "metadata" / "files.csv", b"path,caption\n", LIMIT + 1)
    return root

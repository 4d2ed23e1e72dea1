from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "top.txt").write_text("top\n")
    deep = root.joinpath(*["d"] * 120)
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("120 levels down\n")
    return root

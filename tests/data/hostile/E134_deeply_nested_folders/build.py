from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    deep = root.joinpath(*["d"] * 80)
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("80 levels down\n")
    return root

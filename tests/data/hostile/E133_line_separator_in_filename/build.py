from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    (root / "minutes\u2028draft.txt").write_text("split\n")
    (root / "para\u2029graph.txt").write_text("split\n")
    return root

from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    (root / "report.txt ").write_text("a trailing space\n")
    (root / "no-break space\u00a0").write_text("a trailing U+00A0\n")
    return root

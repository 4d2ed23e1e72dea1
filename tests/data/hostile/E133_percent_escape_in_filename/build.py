from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    # a literal "%0A": RFC 8493 readers would decode it as a line break, bagit-python would not
    (root / "literal %0A not a line break.txt").write_text("ambiguous in a manifest\n")
    return root

from pathlib import Path

from tests.support.hostile_cases import write_metadata

NAMES = ["line\nbreak.txt", "carriage\rreturn.txt", "both\r\nat once.txt"]


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    for name in NAMES:
        (root / name).write_text(f"the file called {name!r}\n")
    return root

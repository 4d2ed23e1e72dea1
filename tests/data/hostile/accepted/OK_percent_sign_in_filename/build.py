from pathlib import Path

from tests.support.hostile_cases import write_metadata

NAMES = ["50% off.txt", "My%20File.txt", "100%.txt"]


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    for name in NAMES:
        (root / name).write_text(f"the file called {name!r}\n")
    return root

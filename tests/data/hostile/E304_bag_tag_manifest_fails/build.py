import hashlib
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    bag = write_bag(dest / "bag", {"ok.txt": b"fine\n"})
    lines = [
        f"{hashlib.sha256((bag / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
    ]
    (bag / "tagmanifest-sha256.txt").write_text("".join(lines))
    with open(bag / "bag-info.txt", "a") as fh:
        fh.write("Contact-Email: changed.after@bagging.example\n")
    return bag

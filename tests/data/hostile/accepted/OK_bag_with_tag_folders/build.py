import hashlib
from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    bag = write_bag(
        dest / "bag",
        {"readme.txt": b"read me\n", "images/photo.txt": b"a photo\n"},
        tag_files={"mets.xml": b'<?xml version="1.0"?>\n<mets xmlns="http://www.loc.gov/METS/"/>\n'},
    )
    (bag / "metadata" / "submissionDocumentation").mkdir(parents=True)
    (bag / "metadata" / "rights.csv").write_text("file,basis\nobjects/readme.txt,copyright\n")
    (bag / "metadata" / "submissionDocumentation" / "transfer.txt").write_text("transferred\n")
    (bag / "logs").mkdir()
    (bag / "logs" / "transfer.log").write_text("ok\n")
    tags = [
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "mets.xml",
        "logs/transfer.log",
        "metadata/rights.csv",
        "metadata/submissionDocumentation/transfer.txt",
    ]
    for algo in ("sha256", "sha512"):
        lines = [f"{hashlib.new(algo, (bag / n).read_bytes()).hexdigest()}  {n}\n" for n in tags]
        (bag / f"tagmanifest-{algo}.txt").write_text("".join(lines))
    return bag

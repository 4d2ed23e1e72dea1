from pathlib import Path

METADATA_JSON = r"""{
  "title": "Ring the bell \u0007",
  "accession_number": "HHM.2024.900",
  "collection": "Test collection",
  "provenance": "Made for the hostile submissions corpus.",
  "rights_statement": "https://rightsstatements.org/vocab/NoC-US/1.0/",
  "\ud800": "a field whose name is half a surrogate pair"
}
"""


def build(dest: Path) -> Path:
    root = dest / "submission"
    (root / "metadata").mkdir(parents=True)
    (root / "metadata.json").write_text(METADATA_JSON, encoding="ascii")
    (root / "ok.txt").write_text("fine\n")
    (root / "metadata" / "files.csv").write_bytes(b"path,caption\nok.txt,a NUL \x00 in a caption\n")
    return root

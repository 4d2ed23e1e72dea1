from pathlib import Path

PROFILE = """id: closed
version: "1.0.0"
extends: base
title: A closed collection
access:
  default: embargoed
  embargo_until: 2040-01-01
"""


def build(dest: Path) -> Path:
    (dest / "profiles").mkdir(parents=True)
    (dest / "profiles" / "closed.yaml").write_text(PROFILE, encoding="utf-8")
    root = dest / "submission"
    root.mkdir()
    (root / "metadata.yaml").write_text("title: Papers, closed by deed of gift\nembargo_until: 2027-01-01\n",
                                        encoding="utf-8")
    (root / "letter.txt").write_text("Dear archivist,\n", encoding="utf-8")
    return root

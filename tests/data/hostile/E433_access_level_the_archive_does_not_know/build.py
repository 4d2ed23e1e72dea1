from pathlib import Path

PROFILE = """id: widened
version: "1.0.0"
extends: base
title: A profile with an access level the archive does not know
fields:
  access_level:
    vocabulary: [open, restricted, embargoed, confidential, legal-hold, secret]
"""


def build(dest: Path) -> Path:
    (dest / "profiles").mkdir(parents=True)
    (dest / "profiles" / "widened.yaml").write_text(PROFILE, encoding="utf-8")
    root = dest / "submission"
    root.mkdir()
    (root / "metadata.yaml").write_text("title: Something secret\naccess_level: secret\n", encoding="utf-8")
    (root / "note.txt").write_text("nothing to see\n", encoding="utf-8")
    return root

from pathlib import Path

from tests.support.hostile_cases import own_profile_submission

PROFILE = """id: widened
version: "1.0.0"
extends: base
title: A profile with an access level the archive does not know
fields:
  access_level:
    vocabulary: [open, restricted, embargoed, confidential, legal-hold, secret]
"""


def build(dest: Path) -> Path:
    root = own_profile_submission(dest, "widened", PROFILE, "title: Something secret\naccess_level: secret\n")
    (root / "note.txt").write_text("nothing to see\n", encoding="utf-8")
    return root

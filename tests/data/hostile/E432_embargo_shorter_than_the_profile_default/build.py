from pathlib import Path

from tests.support.hostile_cases import own_profile_submission

PROFILE = """id: closed
version: "1.0.0"
extends: base
title: A closed collection
access:
  default: embargoed
  embargo_until: 2040-01-01
"""


def build(dest: Path) -> Path:
    root = own_profile_submission(
        dest, "closed", PROFILE, "title: Papers, closed by deed of gift\nembargo_until: 2027-01-01\n"
    )
    (root / "letter.txt").write_text("Dear archivist,\n", encoding="utf-8")
    return root

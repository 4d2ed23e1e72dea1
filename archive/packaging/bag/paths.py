"""How payload paths are written in BagIt manifests (RFC 8493 §2.1.3), and which cannot be.

Pure functions, shared by the submission scanner (which refuses unwritable names up front)
and the bag writer and validator.
"""

from __future__ import annotations

import re

#: sequences a BagIt reader decodes in manifest paths (RFC 8493 §2.1.3)
ESCAPES = re.compile(r"%(25|0A|0D)", re.IGNORECASE)
#: bagit-python 1.9 decodes at most this many %0A/%0D per path (it passes re.IGNORECASE as the count)
MAX_LINE_BREAKS = 2
#: what Python's ``str.splitlines`` (so bagit-python's manifest reader, ``codecs`` line by line)
#: takes for a line break besides CR and LF; RFC 8493 has no escape for them
OTHER_LINE_BREAKS = frozenset("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_OTHER_BREAK = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def manifest_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be written so that RFC 8493 readers and bagit-python agree on it."""
    escape = ESCAPES.search(path)
    if escape:
        return f"contains {escape.group(0)!r}, which BagIt readers would decode as an escape; rename the file"
    if ("\n" in path or "\r" in path) and path.count("\n") + path.count("\r") > MAX_LINE_BREAKS:
        return f"contains more than {MAX_LINE_BREAKS} line breaks, more than bagit-python can decode; rename the file"
    if _OTHER_BREAK.search(path):
        other = OTHER_LINE_BREAKS.intersection(path)
        listed = ", ".join(f"U+{ord(c):04X}" for c in sorted(other))
        return (
            f"contains {listed}, which bagit-python reads as a line break and RFC 8493 cannot escape, so no "
            "manifest line could carry the name; rename the file"
        )
    return None


def tag_path_problem(path: str) -> str | None:
    """Why a tag file's path (relative to the bag root, not under ``data/``) cannot be listed in a
    tag manifest so that every reader reads it back: :func:`manifest_path_problem`, or a start
    that bagit-python strips or expands (white space, ``*``, ``~``)."""
    problem = manifest_path_problem(path)
    if problem:
        return problem
    if path[:1].isspace() or path.startswith(("*", "~")):
        return (
            f"starts with {path[:1]!r}, which BagIt manifest readers strip or expand (white space, md5sum's "
            "'*' marker, a home folder '~'); rename the file"
        )
    return None


def encode_path(path: str) -> str:
    """Manifest form of a payload path: CR and LF percent-encoded (RFC 8493 §2.1.3).

    A lone ``%`` is written as it is: bagit-python 1.9 never decodes ``%25`` (so an encoded
    ``50% off.pdf`` would fail its validation), and an RFC 8493 reader leaves a ``%`` that
    starts no escape alone. Paths holding a literal ``%25``/``%0A``/``%0D`` are refused at
    ingest (:func:`manifest_path_problem`), so both kinds of reader read every manifest alike.
    """
    return path.replace("\r", "%0D").replace("\n", "%0A")


def decode_path(path: str) -> str:
    """RFC 8493 decoding of a manifest path (%0A, %0D and %25, in any case)."""
    return ESCAPES.sub(lambda m: {"25": "%", "0A": "\n", "0D": "\r"}[m.group(1).upper()], path)

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


def manifest_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be written so that RFC 8493 readers and bagit-python agree on it."""
    escape = ESCAPES.search(path)
    if escape:
        return f"contains {escape.group(0)!r}, which BagIt readers would decode as an escape; rename the file"
    if sum(path.count(c) for c in "\r\n") > MAX_LINE_BREAKS:
        return f"contains more than {MAX_LINE_BREAKS} line breaks, more than bagit-python can decode; rename the file"
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

"""File format identification (PRONOM PUIDs) with opf-fido or, optionally, siegfried.

::

    with Identifier("fido", workers=2) as ident:      # worker processes start on first use
        infos = ident.identify_many([(path, sha256_hex), ...])
        content_type = infos[0].mime or mime_for(infos[0].puid)

Every answer carries its basis: ``signature`` or ``container`` when the file's bytes matched,
``extension`` when the PUID is a guess from the file's name (warning :data:`GUESSED`), ``none``
when nothing matched (and for an empty file, warning :data:`EMPTY_FILE`). Only :func:`by_content`
answers count as identified for a profile's format policy (docs/formats.md).
"""

from archive.formats.base import (
    BASES,
    BASIS_CONTAINER,
    BASIS_EXTENSION,
    BASIS_NONE,
    BASIS_SIGNATURE,
    EMPTY_FILE,
    ENGINE_FIDO,
    ENGINE_SIEGFRIED,
    ENGINES,
    GUESSED,
    also_matched,
    by_content,
    describe,
    guessed,
    is_empty,
)
from archive.formats.identify import Identifier, load_engine, mime_for

__all__ = [
    "BASES",
    "BASIS_CONTAINER",
    "BASIS_EXTENSION",
    "BASIS_NONE",
    "BASIS_SIGNATURE",
    "EMPTY_FILE",
    "ENGINES",
    "ENGINE_FIDO",
    "ENGINE_SIEGFRIED",
    "GUESSED",
    "Identifier",
    "also_matched",
    "by_content",
    "describe",
    "guessed",
    "is_empty",
    "load_engine",
    "mime_for",
]

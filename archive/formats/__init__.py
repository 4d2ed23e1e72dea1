"""File format identification (PRONOM PUIDs) with opf-fido or, optionally, siegfried.

::

    with Identifier("fido", workers=2) as ident:      # worker processes start on first use
        infos = ident.identify_many([(path, sha256_hex), ...])
        content_type = infos[0].mime or mime_for(infos[0].puid)
"""

from archive.formats.base import (
    BASIS_CONTAINER,
    BASIS_EXTENSION,
    BASIS_NONE,
    BASIS_SIGNATURE,
    ENGINE_FIDO,
    ENGINE_SIEGFRIED,
    ENGINES,
    also_matched,
)
from archive.formats.identify import Identifier, load_engine, mime_for

__all__ = [
    "BASIS_CONTAINER",
    "BASIS_EXTENSION",
    "BASIS_NONE",
    "BASIS_SIGNATURE",
    "ENGINES",
    "ENGINE_FIDO",
    "ENGINE_SIEGFRIED",
    "Identifier",
    "also_matched",
    "load_engine",
    "mime_for",
]

"""A package's content token: one digest over everything the catalog records about its bytes.

Written to the ledger at ingest (ACE's "integrity token" idea): an audit recomputes it from the
catalog, so digests rewritten in the catalog, together with the files and the bag's manifests,
are still caught as long as the ledger is intact (and the ledger's head is witnessed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from archive.ledger.format import canonical


def package_token(files: Iterable[tuple[str, int, dict[str, str]]], tag_digests: dict[str, dict[str, str]]) -> str:
    """``sha256:`` + SHA-256 of canonical JSON ``{"files": [[path, size, digests], ...], "tags": {...}}``.

    Payload paths are relative to ``data/``, sorted; digests are every algorithm recorded.
    """
    listing = sorted([path, size, dict(sorted(d.items()))] for path, size, d in files)
    tags = {name: dict(sorted(d.items())) for name, d in sorted(tag_digests.items())}
    return "sha256:" + hashlib.sha256(canonical({"files": listing, "tags": tags})).hexdigest()

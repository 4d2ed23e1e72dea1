"""Package identifiers: the one check of what a package id looks like (a lower-case UUID). Pure.

Every layer validates an id with :func:`check_package_id`, which raises
:class:`~archive.errors.InvalidRequest` (the API answers it 400). Two adapters restate it in
their own terms: storage as :class:`~archive.errors.StorageError` (nothing else leaves the
storage adapter) and the commands as :class:`~archive.errors.NotFound` (a malformed id names no
package: ``archive show``, ``export``, ``audit`` and ``repair`` exit 1 for it, as for an unknown one).
"""

from __future__ import annotations

import re

from archive.errors import InvalidRequest

#: a package id: a UUID written in lower case with hyphens (what ingest mints: ``str(uuid.uuid4())``)
PACKAGE_ID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PACKAGE_ID_RE = re.compile(PACKAGE_ID_PATTERN)


def is_package_id(value: object) -> bool:
    return isinstance(value, str) and PACKAGE_ID_RE.fullmatch(value) is not None


def check_package_id(value: object) -> str:
    """``value`` if it is a package id, else InvalidRequest (the value shown, cut to 80 characters)."""
    if not is_package_id(value):
        shown = value[:80] if isinstance(value, str) else value
        raise InvalidRequest(f"{shown!r} is not a package identifier (a lower-case UUID)")
    assert isinstance(value, str)
    return value

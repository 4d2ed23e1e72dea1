"""A package id a command names: a malformed one is reported as no such package (NotFound)."""

from __future__ import annotations

from archive.errors import InvalidRequest, NotFound
from archive.ids import check_package_id


def named_package_id(package_id: str) -> str:
    """:func:`archive.ids.check_package_id`, said as the commands say it: NotFound, exit status 1."""
    try:
        return check_package_id(package_id)
    except InvalidRequest as exc:
        raise NotFound(f"{package_id!r} is not a package identifier (a UUID)") from exc

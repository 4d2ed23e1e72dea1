"""When each profile's packages are due for a fixity audit: recorded in the catalog, never guessed.

Ingest records each package's fixity interval (its profile's ``fixity_interval_days``) in the
catalog (``packages.fixity_interval_days``), so ``archive audit --due`` and ``archive audit report``
need no profile file: a custom profile whose folder is not configured in the shell, cron job or
service running the audit changes nothing. A profile's packages are due by the shortest interval
they recorded.

A package catalogued without an interval (before catalog migration 0005, or rebuilt by
``archive reindex`` where neither the ledger nor its profile gave one) takes its profile's interval
from the profile file, and an audit run records it in the catalog. When no package of the profile
recorded one and the profile cannot be found, the audit refuses with :class:`UnknownInterval`
naming the profile and the folders searched: it never assumes a default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.errors import ConfigError, ProfileError

if TYPE_CHECKING:
    from archive.catalog.audits import Audits
    from archive.services.context import ArchiveContext


class UnknownInterval(ConfigError):
    """Packages of a profile have no fixity interval recorded and the profile cannot be found."""

    code = "E009"


def profile_interval(ctx: ArchiveContext, profile_id: str) -> int | None:
    """The fixity interval of profile ``profile_id`` as its file says now; None when it is not found."""
    try:
        return ctx.profiles.get(profile_id).fixity_interval_days
    except ProfileError:
        return None


def intervals(ctx: ArchiveContext, audits: Audits, record: bool = False) -> dict[str, int]:
    """Days between audits for every profile in the catalog; ``record``: write what had to be read
    from a profile file into the catalog, so that later audits no longer need the file."""
    out: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    for name, (days, missing) in audits.profile_intervals().items():
        if missing:
            found = profile_interval(ctx, name)
            if found is not None:
                if record:
                    audits.record_interval(name, found)
                days = found if days is None else min(days, found)
            elif days is None:
                unknown.append((name, missing))
                continue
        assert days is not None
        out[name] = days
    if unknown:
        which = ", ".join(f"{name!r} ({n} package(s))" for name, n in unknown)
        raise UnknownInterval(
            f"cannot tell when the packages of profile(s) {which} are due for a fixity audit: the catalog "
            "records no fixity interval for them (catalogued before intervals were recorded, or rebuilt by "
            f"`archive reindex` without the profile) and the profile is not found (looked in "
            f"{ctx.profiles.searched()}). Add the folder holding the profile to the setting profiles_dirs "
            "(ARCHIVE_PROFILES_DIRS) and run the audit again: the interval is then recorded in the catalog. "
            "`archive audit --all` and `archive audit PACKAGE_ID...` do not need it."
        )
    return out

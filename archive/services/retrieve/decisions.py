"""Decisions made over the API: an access decision, a legal hold placed or released.

Each is a new version of the package, made by :mod:`archive.services.lifecycle.changes` exactly as
the command line makes it, with the caller's token as the actor (its name and role). Only the
deciding roles may ask (archivists and admins: anonymous callers are refused with
AuthenticationRequired, other roles with AccessDenied, before any package is looked up), and only
about a package they may see (an unknown or hidden one is NotFound, exactly as on every read).
"""

from __future__ import annotations

from datetime import date

from archive.errors import AccessDenied, AuthenticationRequired, InvalidRequest
from archive.model import ACCESS_EMBARGOED
from archive.services.context import ArchiveContext
from archive.services.lifecycle import changes
from archive.services.lifecycle.versions import Actor, VersionResult
from archive.services.retrieve.packages import METADATA, authorise
from archive.services.retrieve.usage import Caller

#: the roles that may make decisions (the lifecycle's own list)
DECIDERS = changes.DECIDERS


def _actor(ctx: ArchiveContext, caller: Caller, package_id: str, what: str) -> Actor:
    """The actor of a decision about ``package_id``, once the caller may make it and see the package."""
    if caller.role not in DECIDERS:
        if caller.token_id is None:
            raise AuthenticationRequired(f"{what} needs an API token of the archivist or admin role")
        raise AccessDenied(f"{what} needs the archivist or admin role; this token's role is {caller.role}")
    authorise(ctx, caller, package_id, METADATA)  # NotFound for an unknown (or hidden) package
    return Actor(caller.name, caller.role)


def set_access(
    ctx: ArchiveContext, caller: Caller, package_id: str, level: str, reason: str, embargo_until: date | None
) -> VersionResult:
    actor = _actor(ctx, caller, package_id, "an access decision")
    if (level == ACCESS_EMBARGOED) != (embargo_until is not None):
        raise InvalidRequest(
            f"the level {ACCESS_EMBARGOED} needs embargo_until (a day, YYYY-MM-DD), and only it takes one"
        )
    return changes.set_access(ctx, package_id, level, reason, actor, embargo_until)


def place_hold(ctx: ArchiveContext, caller: Caller, package_id: str, reason: str) -> VersionResult:
    actor = _actor(ctx, caller, package_id, "a legal hold")
    return changes.place_hold(ctx, package_id, reason, actor)


def release_hold(ctx: ArchiveContext, caller: Caller, package_id: str, reason: str) -> VersionResult:
    actor = _actor(ctx, caller, package_id, "releasing a legal hold")
    return changes.release_hold(ctx, package_id, reason, actor)

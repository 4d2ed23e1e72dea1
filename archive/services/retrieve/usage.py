"""Callers, and what they did: views and downloads as data, incidents, usage statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from archive.access import policy
from archive.catalog import callers
from archive.catalog import usage as usage_catalog
from archive.catalog.callers import ACTION_FILE, ACTION_PACKAGE, ACTION_VIEW
from archive.catalog.records import PackageInfo
from archive.catalog.usage import PERIODS
from archive.errors import InvalidRequest
from archive.services.context import ArchiveContext

__all__ = [
    "ACTION_FILE",
    "ACTION_PACKAGE",
    "ACTION_VIEW",
    "ANONYMOUS",
    "Caller",
    "finish_download",
    "incident",
    "record_view",
    "start_download",
    "stats",
]


@dataclass(frozen=True)
class Caller:
    """Who is asking: a role, and the token that proved it (None for anonymous callers)."""

    role: str
    name: str = policy.ANONYMOUS
    token_id: str | None = None


ANONYMOUS = Caller(policy.ANONYMOUS)


def incident(ctx: ArchiveContext, caller: Caller, package_id: str, path: str, kind: str, detail: str) -> int:
    return callers.record_incident(ctx.catalog, package_id, path, kind, detail, caller.token_id, caller.name)


def record_view(ctx: ArchiveContext, caller: Caller, info: PackageInfo, path: str = "") -> None:
    callers.log_access(
        ctx.catalog,
        token_id=caller.token_id,
        caller=caller.name,
        role=caller.role,
        action=ACTION_VIEW,
        package_id=info.id,
        profile_id=info.profile_id,
        path=path,
        outcome="complete",
    )


def start_download(
    ctx: ArchiveContext,
    caller: Caller,
    info: PackageInfo,
    action: str,
    path: str,
    byte_range: str,
    planned: int,
    delegated: bool = False,
) -> int:
    """Record a download before its first byte leaves; :func:`finish_download` completes the entry."""
    return callers.log_access(
        ctx.catalog,
        token_id=caller.token_id,
        caller=caller.name,
        role=caller.role,
        action=action,
        package_id=info.id,
        profile_id=info.profile_id,
        path=path,
        byte_range=byte_range,
        bytes_planned=planned,
        outcome="delegated" if delegated else "started",
    )


def finish_download(ctx: ArchiveContext, entry_id: int, sent: int, outcome: str) -> None:
    callers.finish_access(ctx.catalog, entry_id, sent, outcome)


def stats(
    ctx: ArchiveContext, since: date | None, until: date | None, period: str, profile: str | None, top: int
) -> dict[str, Any]:
    if period not in PERIODS:
        raise InvalidRequest(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if since and until and until < since:
        raise InvalidRequest(f"'to' ({until}) is before 'from' ({since})")
    data = usage_catalog.usage(ctx.catalog, since, until, period, profile, top)
    return {
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
        "period": period,
        "profile": profile,
        **data,
    }

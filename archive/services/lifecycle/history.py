"""A package's history: every version (who, when, why) and every change and decision event."""

from __future__ import annotations

from typing import Any

from archive.model import (
    EVENT_DEACCESSION,
    EVENT_DELETION,
    EVENT_METADATA_MODIFICATION,
    EVENT_MODIFICATION,
    EVENT_POLICY_ASSIGNMENT,
)
from archive.services.context import ArchiveContext
from archive.services.ids import named_package_id

#: the PREMIS event types that record a change or a decision (not ingest's or audits' events)
DECISION_EVENTS = frozenset(
    {EVENT_METADATA_MODIFICATION, EVENT_MODIFICATION, EVENT_POLICY_ASSIGNMENT, EVENT_DEACCESSION, EVENT_DELETION}
)


def versions(ctx: ArchiveContext, package_id: str) -> list[dict[str, Any]]:
    """Every version of the package, oldest first (``archive show --versions``, ``GET /packages/{id}/versions``)."""
    named_package_id(package_id)
    return [v.as_dict() for v in ctx.catalog.versions(package_id)]


def history(ctx: ArchiveContext, package_id: str) -> dict[str, Any]:
    """The versions, and the change and decision events with their agents, oldest first."""
    found = versions(ctx, package_id)
    pkg = ctx.catalog.get_package(package_id)
    names = {a.identifier: a.name for a in pkg.agents}
    decisions = [
        {
            "id": e.identifier,
            "type": e.type,
            "datetime": e.datetime.isoformat(),
            "detail": e.detail,
            "outcome_detail": e.outcome_detail,
            "agents": [{"agent": names.get(a.agent, a.agent), "role": a.role} for a in e.agents],
        }
        for e in pkg.events
        if e.type in DECISION_EVENTS
    ]
    return {"id": package_id, "version": pkg.version, "held": pkg.held, "versions": found, "decisions": decisions}

"""GET /stats: views and downloads per package, profile and period (archivists and admins)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from archive.access import policy
from archive.api import errors
from archive.api.deps import CallerDep, Ctx, Day, require
from archive.api.schemas import Stats
from archive.services.retrieve import usage

router = APIRouter(tags=["stats"])


@router.get(
    "/stats",
    summary="Usage: views, downloads and bytes per package, profile and period",
    response_model=None,
    responses={
        200: {"model": Stats, "description": "Usage statistics"},
        **errors.responses(400, 401, 403, 422),
    },
)
def stats(
    ctx: Ctx,
    caller: CallerDep,
    since: Annotated[Day | None, Query(alias="from", description="First day counted (UTC).")] = None,
    until: Annotated[Day | None, Query(alias="to", description="Last day counted (UTC).")] = None,
    period: Annotated[Literal["day", "month", "year"], Query(description="Length of each period.")] = "month",
    profile: Annotated[str | None, Query(max_length=64, description="Only this profile's packages.")] = None,
    top: Annotated[int, Query(ge=1, le=1000, description="Most packages listed (most used first).")] = 100,
) -> dict[str, Any]:
    require(policy.may_read_stats(caller.role), caller, "usage statistics")
    return usage.stats(ctx, since, until, period, profile, top)

"""POST /packages/{id}/access, /hold and /hold/release: decisions, each one new version of the package.

Archivist and admin tokens only (anonymous: 401; other roles: 403). The body is JSON, validated
(unknown keys, a missing or blank reason: 422); the answer is the version the decision made.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from archive.api import errors
from archive.api.deps import CallerDep, Ctx, PackageId
from archive.api.schemas import AccessDecision, HoldDecision, VersionMade
from archive.services.retrieve import decisions

router = APIRouter(tags=["decisions"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": VersionMade, "description": "The decision was recorded: the new version it made"},
    **errors.responses(400, 401, 403, 404, 409, 422),
}


@router.post(
    "/packages/{package_id}/access",
    summary="An access decision: set the package's access level (a new version)",
    response_model=None,
    responses=_RESPONSES,
)
def set_access(ctx: Ctx, caller: CallerDep, package_id: PackageId, body: AccessDecision) -> JSONResponse:
    made = decisions.set_access(ctx, caller, package_id, body.level, body.reason, body.embargo_until)
    return JSONResponse(made.as_dict())


@router.post(
    "/packages/{package_id}/hold",
    summary="Place a legal hold: no change and no disposal until it is released (a new version)",
    response_model=None,
    responses=_RESPONSES,
)
def place_hold(ctx: Ctx, caller: CallerDep, package_id: PackageId, body: HoldDecision) -> JSONResponse:
    return JSONResponse(decisions.place_hold(ctx, caller, package_id, body.reason).as_dict())


@router.post(
    "/packages/{package_id}/hold/release",
    summary="Release the package's legal hold (a new version)",
    response_model=None,
    responses=_RESPONSES,
)
def release_hold(ctx: Ctx, caller: CallerDep, package_id: PackageId, body: HoldDecision) -> JSONResponse:
    return JSONResponse(decisions.release_hold(ctx, caller, package_id, body.reason).as_dict())

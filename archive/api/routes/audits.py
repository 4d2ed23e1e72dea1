"""/audits for auditors, archivists and admins; and the "last audit" of a package.

A small adapter stands between the routes and where audit results live: the fixity audits'
read service (:mod:`archive.services.audit_read`, over ``archive.catalog.audits``). Audit
results name packages by id only, for every package (auditors check the whole archive), and
carry no descriptive metadata; see docs/access.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from archive.access import policy
from archive.api.deps import CallerDep, Ctx, require
from archive.errors import InvalidRequest
from archive.services import audit_read
from archive.services.context import ArchiveContext

router = APIRouter(tags=["audits"])

_RUN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


# -- adapter ------------------------------------------------------------------------------
def list_runs(ctx: ArchiveContext, limit: int, offset: int) -> dict[str, Any]:
    return audit_read.list_audit_runs(ctx, limit, offset)


def get_run(ctx: ArchiveContext, run_id: str, limit: int, offset: int) -> dict[str, Any]:
    return audit_read.get_audit_run(ctx, run_id, limit, offset)


def last_audit(ctx: ArchiveContext, package_id: str) -> dict[str, Any] | None:
    """The package's fixity state: last outcome (None if never audited), when checked and verified."""
    state = audit_read.last_fixity_outcomes(ctx, [package_id]).get(package_id)
    if state is None:
        return None
    return {k: v for k, v in state.items() if k != "package"}


# -- routes -------------------------------------------------------------------------------
@router.get("/audits", summary="Audit runs, newest first (auditors, archivists, admins)")
def audits(
    ctx: Ctx,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    require(policy.may_read_audits(caller.role), caller, "audit results")
    return list_runs(ctx, limit, offset)


@router.get("/audits/{run_id}", summary="One audit run and its findings")
def audit(
    ctx: Ctx,
    caller: CallerDep,
    run_id: Annotated[str, Path(max_length=128)],
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most findings returned.")] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    require(policy.may_read_audits(caller.role), caller, "audit results")
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidRequest(f"{run_id[:80]!r} is not an audit run identifier")
    return get_run(ctx, run_id, limit, offset)

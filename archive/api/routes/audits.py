"""/audits for auditors, archivists and admins.

The reads, and what each caller may see of each finding, are the fixity audits' read service
(:mod:`archive.services.audit.report`): audit results name packages by id only, and a finding in
a package the caller may not see has its path, message and digests withheld; see docs/access.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from archive.access import policy
from archive.api import errors
from archive.api.deps import CallerDep, Ctx, require
from archive.api.schemas import AuditRunDetail, AuditRuns
from archive.errors import InvalidRequest
from archive.services.audit import report as audit_report

router = APIRouter(tags=["audits"])

_RUN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: an offset past this is refused (422): the database's OFFSET is a 64-bit integer
MAX_OFFSET = 10_000_000


# -- routes -------------------------------------------------------------------------------
@router.get(
    "/audits",
    summary="Audit runs, newest first (auditors, archivists, admins)",
    response_model=None,
    responses={
        200: {"model": AuditRuns, "description": "One page of audit runs"},
        **errors.responses(401, 403, 422),
    },
)
def audits(
    ctx: Ctx,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Most runs returned (at most 500).")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Runs skipped.")] = 0,
) -> dict[str, Any]:
    require(policy.may_read_audits(caller.role), caller, "audit results")
    return audit_report.list_audit_runs(ctx, limit, offset)


@router.get(
    "/audits/{run_id}",
    summary="One audit run and its findings",
    response_model=None,
    responses={
        200: {"model": AuditRunDetail, "description": "The run and one page of its findings"},
        **errors.responses(400, 401, 403, 404, 422),
    },
)
def audit(
    ctx: Ctx,
    caller: CallerDep,
    run_id: Annotated[
        str,
        Path(
            max_length=128,
            description="A run id (`GET /audits`).",
            json_schema_extra={"pattern": _RUN_ID.pattern},
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most findings returned (at most 10,000).")] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Findings skipped.")] = 0,
) -> dict[str, Any]:
    require(policy.may_read_audits(caller.role), caller, "audit results")
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidRequest(f"{run_id[:80]!r} is not an audit run identifier")
    return audit_report.audit_run_for(ctx, caller, run_id, limit, offset)

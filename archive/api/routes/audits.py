"""/audits for auditors, archivists and admins; and the "last audit" of a package.

A small adapter stands between the routes and where audit results live: the fixity audits'
read service (:mod:`archive.services.audit.report`, over ``archive.catalog.audits``). Audit
results name packages by id only, for every package (auditors check the whole archive), and
carry no descriptive metadata: a finding in a package the caller may not see has its path,
message and digests withheld (a file's name, or its digest, can tell what a confidential
package holds); see docs/access.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from archive.access import policy
from archive.api import errors
from archive.api.deps import CallerDep, Ctx, require
from archive.api.schemas import AuditRunDetail, AuditRuns
from archive.catalog import retrieval
from archive.errors import InvalidRequest
from archive.services.audit import report as audit_report
from archive.services.context import ArchiveContext
from archive.services.retrieve import packages as retrieve
from archive.services.retrieve.usage import Caller

router = APIRouter(tags=["audits"])

_RUN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: an offset past this is refused (422): the database's OFFSET is a 64-bit integer
MAX_OFFSET = 10_000_000


# -- adapter ------------------------------------------------------------------------------
def list_runs(ctx: ArchiveContext, limit: int, offset: int) -> dict[str, Any]:
    return audit_report.list_audit_runs(ctx, limit, offset)


WITHHELD = "withheld: the package is hidden from this role"


def get_run(ctx: ArchiveContext, run_id: str, limit: int, offset: int, caller: Caller) -> dict[str, Any]:
    run = audit_report.get_audit_run(ctx, run_id, limit, offset)
    if caller.role in policy.SEE_ALL:  # archivists and admins see every package
        return run
    findings = run["findings"]
    access = retrieval.access_of(ctx.catalog, [f["package"] for f in findings if f["package"]])

    def visible(package_id: str) -> bool:
        if package_id not in access:
            return False  # no longer catalogued: nothing to show of it
        profile_id, level = access[package_id]
        visible_to = retrieve.profile_visibility(ctx, profile_id)
        return policy.sees_metadata(caller.role, level, ctx.settings.api_anonymous, visible_to)

    run["findings"] = [
        f
        if not f["package"] or visible(f["package"])
        else {**f, "path": "", "message": WITHHELD, "expected": None, "found": None}
        for f in findings
    ]
    return run


def last_audit(ctx: ArchiveContext, package_id: str) -> dict[str, Any] | None:
    """The package's fixity state: last outcome (None if never audited), when checked and verified."""
    state = audit_report.last_fixity_outcomes(ctx, [package_id]).get(package_id)
    if state is None:
        return None
    return {k: v for k, v in state.items() if k != "package"}


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
    return list_runs(ctx, limit, offset)


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
    return get_run(ctx, run_id, limit, offset, caller)

"""/packages: search and list, one package's metadata, METS, events, file list, versions, and zip
download. Each route of one package's content takes ``?version=N`` (default: the head)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from archive.access import policy
from archive.api import errors, serving
from archive.api.deps import OPTIONAL_TOKEN, CallerDep, Ctx, CursorsDep, Day, PackageId, Verified, VersionDep
from archive.api.schemas import EventsPage, FilesPage, PackageDetail, PackageList, VersionsPage
from archive.api.stored import conditional_headers, stored_bytes
from archive.errors import InvalidRequest
from archive.services.retrieve import listing
from archive.services.retrieve import packages as retrieve

router = APIRouter(tags=["packages"])

Limit = Annotated[int, Query(ge=1, le=500, description="Most items in one page (at most 500).")]
PageLimit = Annotated[int, Query(ge=1, le=10_000, description="Most items in one page (at most 10,000).")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")]
_FIELD = re.compile(r"[A-Za-z0-9_:.-]{1,128}")
#: at most this many ``field`` and ``puid`` filters in one search
MAX_FIELDS, MAX_PUIDS = 20, 50
# the NAME=VALUE shape is documented here and checked by _fields (400, with a message)
FieldFilter = Annotated[str, Field(max_length=1200, json_schema_extra={"pattern": "^[A-Za-z0-9_:.-]{1,128}="})]
Puid = Annotated[str, Field(max_length=32)]


def _json(model: type, what: str, *errors_: int) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": what}, **errors.responses(*errors_)}


def _access(level: str, embargo: date | None, statement: str, decision: policy.Decision) -> dict[str, Any]:
    return {
        "level": level,
        "embargo_until": embargo.isoformat() if embargo else None,
        "statement": statement,
        "files_available": decision.files,
        "files_withheld_because": decision.reason or None,
        "files_available_from": decision.files_from.isoformat() if decision.files_from else None,
    }


def _at(version: int | None) -> str:
    """The query string naming ``version`` in a link ("" for the head)."""
    return "" if version is None else f"?version={version}"


def _fields(values: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not _FIELD.fullmatch(name):
            raise InvalidRequest(f"field filter {item[:80]!r} must be NAME=VALUE (NAME: letters, digits, _ : . -)")
        out.append((name, value))
    return tuple(out)


@router.get(
    "/packages",
    summary="Search and list the packages the caller may see",
    response_model=None,
    responses=_json(PackageList, "One page of the packages the caller may see", 400, 401, 422),
    openapi_extra=OPTIONAL_TOKEN,
)
async def list_packages(
    request: Request,
    ctx: Ctx,
    caller: CallerDep,
    cursors: CursorsDep,
    q: Annotated[
        str,
        Query(
            max_length=500,
            description="Free text over descriptive metadata; every word must "
            "match the start of a word (case and accents ignored).",
        ),
    ] = "",
    profile: Annotated[str | None, Query(max_length=64, description="Only packages made under this profile.")] = None,
    collection: Annotated[
        str | None, Query(max_length=1000, description="Shorthand for field=collection=VALUE.")
    ] = None,
    field: Annotated[
        list[FieldFilter],
        Query(
            max_length=MAX_FIELDS,
            description="NAME=VALUE: a descriptive field with exactly this value "
            f"(repeatable, at most {MAX_FIELDS}; all must match).",
        ),
    ] = [],  # noqa: B006
    puid: Annotated[
        list[Puid],
        Query(
            max_length=MAX_PUIDS,
            description=f"A PRONOM format id among the package's files (repeatable, at most {MAX_PUIDS}: any).",
        ),
    ] = [],  # noqa: B006
    created_from: Annotated[Day | None, Query(description="Stored on or after this day (UTC).")] = None,
    created_to: Annotated[Day | None, Query(description="Stored on or before this day (UTC).")] = None,
    date_from: Annotated[Day | None, Query(description="The `date` field overlaps days from this one.")] = None,
    date_to: Annotated[Day | None, Query(description="The `date` field overlaps days up to this one.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JSONResponse:
    fields = _fields(field)
    if collection:
        fields += (("collection", collection),)
    filters = listing.Filters(q, profile, fields, tuple(puid), created_from, created_to, date_from, date_to)
    page = listing.search_packages(ctx, caller, filters, limit, lambda: cursors.packages_after(cursor))
    items = []
    for p, decision in page.items:
        item = p.as_dict()
        item["access"] = _access(p.access_level, p.embargo_until, "", decision)
        item["href"] = f"/packages/{p.id}"
        items.append(item)
    return JSONResponse(
        {
            "total": page.total,
            "count": len(items),
            "limit": limit,
            "next_cursor": cursors.packages_next(page.next_after),
            "query": page.query,
            "packages": items,
        }
    )


@router.get(
    "/packages/{package_id}",
    summary="One package: metadata, access, files summary, last audit",
    response_model=None,
    responses=_json(PackageDetail, "The package (its head, or the version asked for)", 400, 401, 404, 422),
    openapi_extra=OPTIONAL_TOKEN,
)
async def get_package(ctx: Ctx, caller: CallerDep, package_id: PackageId, version: VersionDep) -> JSONResponse:
    view = listing.view_package(ctx, caller, package_id, version)
    info, decision, meta = view.info, view.decision, view.metadata
    at = _at(version)
    return JSONResponse(
        {
            "id": info.id,
            "title": info.title,
            "profile": info.profile_id,
            "profile_version": info.profile_version,
            "created": info.created_at.isoformat(),
            "version": info.version,
            "head_version": view.head,
            "held": info.held,
            "access": _access(info.access_level, info.embargo_until, info.access_statement, decision),
            "metadata": meta["metadata"],
            "dublin_core": meta["dublin_core"],
            "files": {
                "count": info.file_count,
                "bytes": info.total_bytes,
                "formats": meta["formats"],
                "href": f"/packages/{info.id}/files{at}",
            },
            "last_audit": view.last_audit,
            "links": {
                "mets": f"/packages/{info.id}/mets{at}",
                "events": f"/packages/{info.id}/events",
                "files": f"/packages/{info.id}/files{at}",
                "download": f"/packages/{info.id}/download{at}",
                "versions": f"/packages/{info.id}/versions",
            },
        }
    )


@router.get(
    "/packages/{package_id}/mets",
    summary="The stored METS document of the head or a version (XML; Range, ETag, Repr-Digest like a file)",
    response_class=Response,
    dependencies=[Depends(conditional_headers)],
    responses={
        **stored_bytes("application/xml", "The METS document"),
        **errors.responses(400, 401, 404, 416, 422),
    },
    openapi_extra=OPTIONAL_TOKEN,
)
def get_mets(
    request: Request, ctx: Ctx, caller: CallerDep, verified: Verified, package_id: PackageId, version: VersionDep
) -> Response:
    entry = retrieve.open_mets(ctx, verified, caller, package_id, version)
    return serving.serve_file(request, ctx, verified, caller, entry, "view")


@router.get(
    "/packages/{package_id}/mets/{part}",
    summary="A part of a big package's METS (``files-<hex>.xml``, as mets.xml's mptr names it under mets/)",
    response_class=Response,
    dependencies=[Depends(conditional_headers)],
    responses={
        **stored_bytes("application/xml", "The METS part"),
        **errors.responses(400, 401, 404, 416, 422),
    },
    openapi_extra=OPTIONAL_TOKEN,
)
def get_mets_part(
    request: Request,
    ctx: Ctx,
    caller: CallerDep,
    verified: Verified,
    package_id: PackageId,
    part: str,
    version: VersionDep,
) -> Response:
    entry = retrieve.open_mets(ctx, verified, caller, package_id, version, part=part)
    return serving.serve_file(request, ctx, verified, caller, entry, "view")


@router.get(
    "/packages/{package_id}/events",
    summary="The package's PREMIS events (JSON), oldest first",
    response_model=None,
    responses=_json(EventsPage, "One page of events", 400, 401, 404, 422),
    openapi_extra=OPTIONAL_TOKEN,
)
async def get_events(
    ctx: Ctx,
    caller: CallerDep,
    cursors: CursorsDep,
    package_id: PackageId,
    limit: PageLimit = 1000,
    cursor: Cursor = None,
    type: Annotated[str | None, Query(max_length=64, description="Only events of this PREMIS type.")] = None,
) -> JSONResponse:
    after = lambda: cursors.events_after(package_id, cursor)  # noqa: E731 - read once authorised
    events, more = listing.events_page(ctx, caller, package_id, after, limit, type)
    nxt = cursors.events_next(package_id, events[-1]["datetime"], events[-1]["id"]) if more else None
    return JSONResponse({"package_id": package_id, "count": len(events), "next_cursor": nxt, "events": events})


@router.get(
    "/packages/{package_id}/files",
    summary="The package's files (of its head, or of a version): path, size, digests, format",
    response_model=None,
    responses=_json(FilesPage, "One page of the package's files, by path", 400, 401, 404, 422),
    openapi_extra=OPTIONAL_TOKEN,
)
async def get_files(
    ctx: Ctx,
    caller: CallerDep,
    cursors: CursorsDep,
    package_id: PackageId,
    version: VersionDep,
    limit: PageLimit = 1000,
    cursor: Cursor = None,
) -> JSONResponse:
    page = listing.files_page(
        ctx, caller, package_id, lambda path_of: cursors.files_after(package_id, cursor, path_of), limit, version
    )
    files = page.files
    at = _at(version)
    return JSONResponse(
        {
            "package_id": package_id,
            "version": page.info.version,
            "total": page.info.file_count,
            "count": len(files),
            "files_available": page.decision.files,
            "next_cursor": cursors.files_next(package_id, files[-1].key) if page.more else None,
            "files": [
                {
                    "path": f.path,
                    "size": f.size,
                    "digests": f.digests,
                    "format": {"puid": f.puid, "name": f.format_name, "mime": f.mime or None, "basis": f.basis or None},
                    "href": f"/packages/{package_id}/files/{quote(f.path)}{at}",
                }
                for f in files
            ],
        }
    )


@router.get(
    "/packages/{package_id}/download",
    summary="The whole bag (of the head, or of a version) as a zip, streamed",
    response_class=Response,
    responses={
        200: {
            "description": "The bag as a zip (stored entries, ZIP64 when needed), `<id>/...`",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **errors.responses(400, 401, 403, 404, 422),
    },
    openapi_extra=OPTIONAL_TOKEN,
)
def download(ctx: Ctx, caller: CallerDep, verified: Verified, package_id: PackageId, version: VersionDep) -> Response:
    return serving.serve_zip(ctx, verified, caller, package_id, version)


@router.get(
    "/packages/{package_id}/versions",
    summary="Every version of the package: when, what kind of change, why, by whom, its access",
    response_model=None,
    responses=_json(VersionsPage, "Every version, oldest first", 400, 401, 404, 422),
    openapi_extra=OPTIONAL_TOKEN,
)
async def get_versions(ctx: Ctx, caller: CallerDep, package_id: PackageId) -> JSONResponse:
    head, found = listing.versions(ctx, caller, package_id)
    versions = []
    for v in found:
        entry = v.record.as_dict()
        if v.decision.hidden:
            entry["title"] = None  # the metadata of a version the caller may not see is not shown
        entry["available"] = not v.decision.hidden
        entry["files_available"] = v.decision.files
        entry["href"] = f"/packages/{head.id}?version={v.record.number}"
        versions.append(entry)
    return JSONResponse(
        {"package_id": head.id, "head_version": head.version, "count": len(versions), "versions": versions}
    )

"""GET and HEAD /packages/{id}/files/{path}: one stored payload file, with Range and digests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from archive.api import serving
from archive.api.deps import CallerDep, Ctx, Verified
from archive.errors import InvalidRequest
from archive.services import retrieve
from archive.services.usage import ACTION_FILE

router = APIRouter(tags=["files"])

_ENCODED = (b"%2f", b"%5c", b"%00")


def reject_encoded_separators(request: Request) -> None:
    """``%2F``, ``%5C`` and ``%00`` in the raw path would smuggle separators past routing: refuse them."""
    raw = request.scope.get("raw_path") or b""
    lowered = raw.lower()
    if any(token in lowered for token in _ENCODED):
        raise InvalidRequest(
            "the file path contains an encoded '/', '\\' or NUL; name the file with plain '/'"
        )


_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "the file"},
    206: {"description": "the requested range"},
    304: {"description": "not modified"},
    416: {"description": "range not satisfiable"},
}


def get_file(
    request: Request,
    ctx: Ctx,
    caller: CallerDep,
    verified: Verified,
    package_id: Annotated[str, Path(max_length=64)],
    path: str,
) -> Response:
    reject_encoded_separators(request)
    entry = retrieve.open_file(ctx, verified, caller, package_id, path)
    return serving.serve_file(request, ctx, verified, caller, entry, ACTION_FILE)


ROUTE = "/packages/{package_id}/files/{path:path}"
router.add_api_route(
    ROUTE,
    get_file,
    methods=["GET"],
    operation_id="get_file",
    response_class=Response,
    summary="One stored file (Range, ETag, Repr-Digest)",
    responses=_RESPONSES,
)
router.add_api_route(
    ROUTE,
    get_file,
    methods=["HEAD"],
    operation_id="head_file",
    response_class=Response,
    summary="Headers of one stored file (size, ETag, Repr-Digest)",
    responses=_RESPONSES,
)

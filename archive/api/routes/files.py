"""GET and HEAD /packages/{id}/files/{path}: one stored payload file (of the head, or of
``?version=N``), with Range and digests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from archive.api import errors, serving
from archive.api.deps import OPTIONAL_TOKEN, CallerDep, Ctx, PackageId, Verified, VersionDep
from archive.api.stored import conditional_headers, stored_bytes
from archive.errors import InvalidRequest
from archive.services.retrieve import packages as retrieve
from archive.services.retrieve.usage import ACTION_FILE

router = APIRouter(tags=["files"])

_ENCODED = (b"%2f", b"%00")


class StoredPathConvertor(Convertor[str]):
    """Any file path the catalog may list, line breaks included.

    Starlette's ``path`` convertor matches ``.*``, and ``.`` stops at a line feed: a stored file
    whose name holds one (legal, and kept byte for byte: RFC 8493 percent-encodes it in the
    manifests) could never be fetched. This one matches every character; what the path may hold
    is :func:`archive.services.retrieve.packages.check_path`'s to say, and only catalogued paths are served.
    """

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("stored_path", StoredPathConvertor())


def reject_encoded_separators(request: Request) -> None:
    """``%2F`` and ``%00`` in the raw path would smuggle a separator or a NUL past routing: refuse them.

    (No stored name holds either; ``%5C``, a backslash, is a character of some names, and is
    looked up like any other.)"""
    raw = request.scope.get("raw_path") or b""
    lowered = raw.lower()
    if any(token in lowered for token in _ENCODED):
        raise InvalidRequest("the file path contains an encoded '/' or NUL; name the file with plain '/'")


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **stored_bytes(
        "*/*",
        "The stored file; `Content-Type` from its identified format (PRONOM), else `application/octet-stream`",
    ),
    **errors.responses(400, 401, 403, 404, 416, 422),
}


def get_file(
    request: Request,
    ctx: Ctx,
    caller: CallerDep,
    verified: Verified,
    package_id: PackageId,
    path: Annotated[
        str,
        Path(
            description="The file's path under the bag's `data/` folder, as `/files` lists it, "
            "percent-encoded (`%0A` for a line feed, `%25` for `%`; `/` between folders)."
        ),
    ],
    version: VersionDep,
) -> Response:
    reject_encoded_separators(request)
    entry = retrieve.open_file(ctx, verified, caller, package_id, path, version)
    return serving.serve_file(request, ctx, verified, caller, entry, ACTION_FILE)


ROUTE = "/packages/{package_id}/files/{path:stored_path}"
router.add_api_route(
    ROUTE,
    get_file,
    methods=["GET"],
    operation_id="get_file",
    response_class=Response,
    summary="One stored file (Range, ETag, Repr-Digest)",
    dependencies=[Depends(conditional_headers)],
    responses=_RESPONSES,
    openapi_extra=OPTIONAL_TOKEN,
)
router.add_api_route(
    ROUTE,
    get_file,
    methods=["HEAD"],
    operation_id="head_file",
    response_class=Response,
    summary="Headers of one stored file (size, ETag, Repr-Digest)",
    dependencies=[Depends(conditional_headers)],
    responses=_RESPONSES,
    openapi_extra=OPTIONAL_TOKEN,
)

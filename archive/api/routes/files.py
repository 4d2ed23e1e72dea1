"""GET and HEAD /packages/{id}/files/{path}: one stored payload file, with Range and digests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from archive.api import errors, serving
from archive.api.deps import OPTIONAL_TOKEN, CallerDep, Ctx, PackageId, Verified
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


async def conditional_headers(
    range: Annotated[
        str | None,
        Header(
            description="`bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`: one range (206). "
            "Several ranges or another unit: ignored (200). A range naming no byte, or a malformed "
            "`bytes=` value (or one longer than 1,024 characters): 416."
        ),
    ] = None,
    if_range: Annotated[
        str | None, Header(description="An entity tag: the Range is honoured only if it is the file's.")
    ] = None,
    if_none_match: Annotated[str | None, Header(description="Entity tags, or `*`: 304 when one is the file's.")] = None,
) -> None:
    """Declares the request headers stored-byte routes read, for the OpenAPI description
    (:mod:`archive.api.serving` reads them from the request itself)."""


_BYTE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"description": '`"<sha-256 hex>"`, the catalog\'s digest', "schema": {"type": "string"}},
    "Repr-Digest": {
        "description": "RFC 9530: the catalog's sha-256 and sha-512 of the whole file",
        "schema": {"type": "string"},
    },
}


def stored_bytes(media: str, what: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the answers that carry stored bytes: 200, 206 and 304."""
    body = {media: {"schema": {"type": "string", "format": "binary"}}}
    return {
        200: {"description": what, "content": body, "headers": _BYTE_HEADERS},
        206: {
            "description": f"{what}: the one range asked for",
            "content": body,
            "headers": {
                **_BYTE_HEADERS,
                "Content-Range": {"description": "`bytes FIRST-LAST/SIZE`", "schema": {"type": "string"}},
            },
        },
        304: {"description": "Not modified: `If-None-Match` named the file's ETag (no body)"},
    }


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
) -> Response:
    reject_encoded_separators(request)
    entry = retrieve.open_file(ctx, verified, caller, package_id, path)
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

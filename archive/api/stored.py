"""OpenAPI declarations shared by the routes that serve stored bytes: request headers, 200/206/304."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header


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

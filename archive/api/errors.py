"""Errors over HTTP: each ArchiveError answered with its status and the one JSON error shape.

The status table (:data:`STATUS`, that is :data:`archive.errors.HTTP_STATUS`, next to the CLI's
exit statuses) and the shape (:func:`archive.errors.error_document`) live in ``archive/errors.py``,
so ``archive ... --json`` prints the same document::

    {"error": {"code": "E002", "type": "NotFound", "status": 404, "message": "no package …"}}

Validation problems (422) add ``details`` (one entry per bad parameter); rejected input adds
``findings``. Unknown routes (404) and wrong methods (405) use the same shape, and so does
anything unexpected (500, with no internals in the message).

A failure of the archive itself (a 5xx other than a fixity incident) tells the caller what is
unavailable, never the internal message: that can name database hosts, files in storage or a
driver's error. The full message is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.api.schemas import ErrorDocument
from archive.errors import (
    HTTP_STATUS,
    ArchiveError,
    AuthenticationRequired,
    CatalogError,
    FixityError,
    InvalidRequest,
    NotFound,
    RangeNotSatisfiable,
    RejectedError,
    StorageError,
    error_body,
    error_document,
    http_status,
)

log = logging.getLogger("archive.api")


#: the one table from archive errors to HTTP statuses (kept in archive/errors.py beside the CLI's)
STATUS = HTTP_STATUS


#: what each error status means, for the OpenAPI description (docs/api.md has the same table)
MEANING: dict[int, str] = {
    400: "Malformed request: a package id, file path, cursor or field filter, contradicting "
    "parameters, or a NUL character in the query string",
    401: "No token where one is needed, or a malformed, unknown, expired or revoked token",
    403: "Files withheld (restricted, embargoed), or a role that may not read this resource or make this decision",
    404: "Unknown or hidden package (the same answer for both), unknown file, audit run or route",
    409: "The change is refused: a legal hold, a decision the package has already, or another change came first",
    413: "A request body where none is taken (GET, HEAD), or a body over 16 KiB",
    414: "The URL's path or query string is longer than the API accepts",
    416: "The Range names no byte of the file, or is malformed (`Content-Range: bytes */SIZE`)",
    422: "A parameter or body field of the wrong type or out of bounds (each one named under `details`), "
    "or a change rejected (its problems under `findings`)",
    431: "Too many request headers, or headers too large",
    500: "Stored bytes missing or not matching the catalog (E600, an incident was recorded), "
    "or an unexpected failure (E000, logged)",
    503: "The catalog or the storage cannot be reached",
}
#: statuses any route may answer (request checks and limits, the archive's own failures)
ALWAYS = (400, 413, 414, 431, 500, 503)
_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": '`Bearer realm="archive"`', "schema": {"type": "string"}}},
    416: {"Content-Range": {"description": "`bytes */SIZE`", "schema": {"type": "string"}}},
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error answers a route gives: ``statuses`` and :data:`ALWAYS`."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, *ALWAYS}):
        out[status] = {"model": ErrorDocument, "description": MEANING[status]}
        if status in _ERROR_HEADERS:
            out[status]["headers"] = _ERROR_HEADERS[status]
    return out


#: what a caller is told of the archive's own failures (the full message is logged); the nearest
#: class in an error's MRO wins. A FixityError keeps its message: it names the file and the
#: incident recorded, which the caller needs, and nothing internal.
PUBLIC_MESSAGE: dict[type[ArchiveError], str] = {
    ArchiveError: "the archive failed; the error was logged",
    CatalogError: "the catalog cannot be reached now; try again later (the error was logged)",
    StorageError: "storage cannot be reached now; try again later (the error was logged)",
}


def public_message(exc: ArchiveError, status: int) -> str:
    """The message a caller gets for ``exc`` answered with ``status``."""
    if isinstance(exc, RejectedError):
        return exc.summary
    if status < 500 or isinstance(exc, FixityError):
        return exc.message
    for cls in type(exc).__mro__:
        if cls in PUBLIC_MESSAGE:
            return PUBLIC_MESSAGE[cls]
    return PUBLIC_MESSAGE[ArchiveError]  # pragma: no cover - ArchiveError is in the table


def status_for(exc: ArchiveError) -> int:
    return http_status(exc)


def error_response(
    status: int, code: str, kind: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, kind, status, message, **extra), status_code=status, headers=headers)


def _headers(exc: ArchiveError) -> dict[str, str]:
    if isinstance(exc, AuthenticationRequired):
        return {"WWW-Authenticate": 'Bearer realm="archive"'}
    if isinstance(exc, RangeNotSatisfiable):
        return {"Content-Range": f"bytes */{exc.size}"}
    return {}


async def archive_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ArchiveError)
    status = status_for(exc)
    if status >= 500:
        log.warning("%s %s: %s %s", request.method, request.url.path, exc.code, exc.message)
    body = error_document(exc, public_message(exc, status))
    return JSONResponse(body, status_code=status, headers=_headers(exc))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(404, NotFound.code, "NotFound", f"no route {request.url.path[:200]!r}; see /docs")
    if exc.status_code == 405:
        return error_response(
            405,
            InvalidRequest.code,
            "MethodNotAllowed",
            f"{request.method} is not allowed on {request.url.path[:200]!r}",
            dict(exc.headers or {}),
        )
    return error_response(
        exc.status_code,
        InvalidRequest.code if exc.status_code < 500 else ArchiveError.code,
        "HTTPError",
        str(exc.detail),
        dict(exc.headers or {}),
    )


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "cookie"):
        return f"{parts[0]} parameter {'.'.join(parts[1:])!r}" if len(parts) > 1 else parts[0]
    return ".".join(parts)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"where": _where(tuple(e.get("loc", ()))), "message": e.get("msg", "")} for e in exc.errors()]
    message = "; ".join(f"{d['where']}: {d['message']}" for d in details[:3]) or "invalid request"
    return error_response(422, InvalidRequest.code, "InvalidRequest", message, details=details)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(
        500, ArchiveError.code, "InternalError", "the archive failed unexpectedly; the error was logged"
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ArchiveError, archive_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)

"""What one request may carry, checked before any route runs (a small pure-ASGI middleware).

uvicorn accepts very long URLs and headers (h11 takes a 100 kB header, and any number of
them), so the app sets its own bounds and answers them in the one JSON error shape:

* the URL's path (as sent, percent-encoded) longer than :data:`MAX_PATH_BYTES`: **414**;
* its query string longer than :data:`MAX_QUERY_BYTES`: **414**;
* more than :data:`MAX_HEADERS` headers, or more than :data:`MAX_HEADER_BYTES` of them: **431**;
* a ``GET`` or ``HEAD`` with a body (``Content-Length`` above 0, or any ``Transfer-Encoding``):
  **413**, without reading it. No such route takes a body;
* any other request (the decisions' ``POST``) with a body over :data:`MAX_BODY_BYTES`, or sent
  without a ``Content-Length`` (``Transfer-Encoding``): **413**, without reading it;
* a NUL character in the query string (``%00``): **400**. No parameter has a use for one, and
  PostgreSQL refuses NUL in strings (it would be a 503 from the catalog otherwise).

Page sizes and parameter lengths are bounded by each route's parameters (422).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from archive.api.errors import error_response
from archive.errors import InvalidRequest

MAX_PATH_BYTES = 16 * 1024
MAX_QUERY_BYTES = 8 * 1024
MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024
#: the largest request body (a decision's JSON: a level, a day and a reason of 2,000 characters)
MAX_BODY_BYTES = 16 * 1024


def problem(scope: Scope) -> tuple[int, str, str] | None:
    """``(status, type, message)`` when the request is over a limit, else None."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    if len(raw_path) > MAX_PATH_BYTES:
        return (
            414,
            "URITooLong",
            f"the URL path is {len(raw_path)} bytes long; at most {MAX_PATH_BYTES} are accepted",
        )
    query = scope.get("query_string") or b""
    if len(query) > MAX_QUERY_BYTES:
        return (
            414,
            "URITooLong",
            f"the query string is {len(query)} bytes long; at most {MAX_QUERY_BYTES} are accepted",
        )
    if b"%00" in query.lower() or b"\x00" in query:
        return 400, "InvalidRequest", "a query parameter contains a NUL character (%00)"
    headers = scope.get("headers") or []
    if len(headers) > MAX_HEADERS:
        return 431, "HeadersTooLarge", f"{len(headers)} request headers; at most {MAX_HEADERS} are accepted"
    size = sum(len(k) + len(v) for k, v in headers)
    if size > MAX_HEADER_BYTES:
        return (
            431,
            "HeadersTooLarge",
            f"request headers of {size} bytes; at most {MAX_HEADER_BYTES} are accepted",
        )
    if scope.get("method") in ("GET", "HEAD"):
        for key, value in headers:
            name = key.lower()
            if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
                return 413, "BodyNotAccepted", f"{scope['method']} requests take no body; send none"
        return None
    for key, value in headers:
        name = key.lower()
        if name == b"transfer-encoding":
            return 413, "BodyNotAccepted", "send a request body with a Content-Length, not in chunks"
        if name == b"content-length":
            length = value.strip()
            if not length.isdigit() or len(length) > 12 or int(length) > MAX_BODY_BYTES:
                return 413, "BodyTooLarge", f"a request body is at most {MAX_BODY_BYTES} bytes"
    return None


class RequestLimits:
    """Refuses requests over the limits above with a JSON error, before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = problem(scope)
            if found is not None:
                status, kind, message = found
                response = error_response(status, InvalidRequest.code, kind, message, {"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

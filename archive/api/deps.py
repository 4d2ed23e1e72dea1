"""Typed dependencies: the running archive, the verified-files memory, the cursor signer, and the caller."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator, WithJsonSchema

from archive.api.cursors import Cursors
from archive.errors import AccessDenied, AuthenticationRequired
from archive.ids import PACKAGE_ID_PATTERN
from archive.services.context import ArchiveContext
from archive.services.retrieve import tokens
from archive.services.retrieve.packages import version_number
from archive.services.retrieve.usage import Caller
from archive.services.retrieve.verified import VerifiedFiles

# declared for the OpenAPI document ("Authorize" in /docs); the header itself is read below
_bearer = HTTPBearer(auto_error=False, description="An API token from `archive tokens create`.")
#: ``openapi_extra`` of routes anonymous callers may use: the token is optional there (an empty
#: security requirement is the OpenAPI spelling of "or no credentials at all")
OPTIONAL_TOKEN: dict[str, Any] = {"security": [{}]}


# trivial and non-blocking: async, so they run on the event loop instead of a worker thread
async def get_ctx(request: Request) -> ArchiveContext:
    ctx: ArchiveContext = request.app.state.ctx
    return ctx


async def get_verified(request: Request) -> VerifiedFiles:
    verified: VerifiedFiles = request.app.state.verified
    return verified


async def get_cursors(request: Request) -> Cursors:
    cursors: Cursors = request.app.state.cursors
    return cursors


async def get_caller(
    request: Request,
    ctx: Annotated[ArchiveContext, Depends(get_ctx)],
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Caller:
    # one primary-key read (a fraction of a millisecond): cheaper on the loop than a thread hand-off
    return tokens.authenticate(ctx, request.headers.get("authorization"))


#: documented, not enforced by FastAPI: a malformed id is answered 400 by the service, like any
#: other malformed identifier (docs/api.md)
UUID_PATTERN = f"^{PACKAGE_ID_PATTERN}$"
PackageId = Annotated[
    str,
    Path(
        description="The package identifier (a lower-case UUID).",
        max_length=64,
        json_schema_extra={"pattern": UUID_PATTERN},
    ),
]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object) -> object:
    """A day as ``YYYY-MM-DD`` and nothing else (pydantic alone would also read ``0.0`` or
    ``1700000000`` as a Unix time)."""
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("must be a day, YYYY-MM-DD")
    return value


#: a query parameter naming a day (UTC): ``YYYY-MM-DD``
Day = Annotated[date, BeforeValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]
#: ``?version=N``: documented as a pattern, checked by :func:`get_version` (400 with a message, as
#: a malformed id is), never by FastAPI (which would answer 422)
VERSION_PATTERN = "^0*[1-9][0-9]*$"


async def get_version(
    version: Annotated[
        str | None,
        Query(
            description="A version of the package (1 is the version ingested); without it, the head "
            "(its current state). A positive whole number: anything else is 400, a version the "
            "package does not have 404.",
            json_schema_extra={"pattern": VERSION_PATTERN},
        ),
    ] = None,
) -> int | None:
    return version_number(version)


Ctx = Annotated[ArchiveContext, Depends(get_ctx)]
Verified = Annotated[VerifiedFiles, Depends(get_verified)]
CursorsDep = Annotated[Cursors, Depends(get_cursors)]
CallerDep = Annotated[Caller, Depends(get_caller)]
VersionDep = Annotated[int | None, Depends(get_version)]


def require(allowed: bool, caller: Caller, what: str) -> None:
    """Role check for archive-wide resources (audits, stats): 401 for anonymous callers, else 403."""
    if allowed:
        return
    if caller.token_id is None:
        raise AuthenticationRequired(f"{what} need an API token")
    raise AccessDenied(f"{what} are not available to the role {caller.role}")

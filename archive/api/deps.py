"""Typed dependencies: the running archive, the verified-files memory, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from archive.errors import AccessDenied, AuthenticationRequired
from archive.services import tokens
from archive.services.context import ArchiveContext
from archive.services.usage import Caller
from archive.services.verification import VerifiedFiles

# declared for the OpenAPI document ("Authorize" in /docs); the header itself is read below
_bearer = HTTPBearer(auto_error=False, description="An API token from `archive tokens create`.")


# trivial and non-blocking: async, so they run on the event loop instead of a worker thread
async def get_ctx(request: Request) -> ArchiveContext:
    ctx: ArchiveContext = request.app.state.ctx
    return ctx


async def get_verified(request: Request) -> VerifiedFiles:
    verified: VerifiedFiles = request.app.state.verified
    return verified


async def get_caller(
    request: Request,
    ctx: Annotated[ArchiveContext, Depends(get_ctx)],
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Caller:
    # one primary-key read (a fraction of a millisecond): cheaper on the loop than a thread hand-off
    return tokens.authenticate(ctx, request.headers.get("authorization"))


Ctx = Annotated[ArchiveContext, Depends(get_ctx)]
Verified = Annotated[VerifiedFiles, Depends(get_verified)]
CallerDep = Annotated[Caller, Depends(get_caller)]


def require(allowed: bool, caller: Caller, what: str) -> None:
    """Role check for archive-wide resources (audits, stats): 401 for anonymous callers, else 403."""
    if allowed:
        return
    if caller.token_id is None:
        raise AuthenticationRequired(f"{what} need an API token")
    raise AccessDenied(f"{what} are not available to the role {caller.role}")

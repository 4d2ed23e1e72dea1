"""API tokens: create (shown once), list, revoke, and authenticate a request's bearer token."""

from __future__ import annotations

from archive.access import policy, tokens
from archive.catalog import access as access_catalog
from archive.catalog.access import TokenInfo
from archive.errors import AuthenticationRequired, InvalidRequest
from archive.services.context import ArchiveContext
from archive.services.usage import ANONYMOUS, Caller


def create(ctx: ArchiveContext, name: str, role: str) -> tuple[TokenInfo, str]:
    """Store a new token's salted digest; return its record and the full token (never stored)."""
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidRequest("a token needs a name of 1 to 128 characters")
    if role not in policy.TOKEN_ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(policy.TOKEN_ROLES)}, got {role!r}")
    new = tokens.new_token()
    info = access_catalog.add_token(ctx.catalog, new.token_id, name, role, new.salt, new.digest)
    return info, new.token


def list_all(ctx: ArchiveContext) -> list[TokenInfo]:
    return access_catalog.list_tokens(ctx.catalog)


def revoke(ctx: ArchiveContext, token_id: str) -> TokenInfo:
    parsed = tokens.parse(token_id)
    return access_catalog.revoke_token(ctx.catalog, parsed[0] if parsed else token_id.strip())


def authenticate(ctx: ArchiveContext, authorization: str | None) -> Caller:
    """The caller an ``Authorization`` header proves, or the anonymous caller when there is none.

    A header that is present but wrong (not Bearer, malformed, unknown, revoked) is an error,
    never a silent fall-back to anonymous access. Without a header, anonymous access must be
    allowed by the setting ``api_anonymous``.
    """
    if not authorization:
        if not ctx.settings.api_anonymous:
            raise AuthenticationRequired(
                "this archive needs an API token: send 'Authorization: Bearer <token>'"
            )
        return ANONYMOUS
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationRequired("the Authorization header must be 'Bearer <token>'")
    parsed = tokens.parse(value)
    if parsed is None:
        raise AuthenticationRequired("the bearer token is not an archive API token")
    token_id, secret = parsed
    info = access_catalog.get_token(ctx.catalog, token_id)
    if info is None or not tokens.check(secret, info.salt, info.digest):
        raise AuthenticationRequired("the bearer token is not valid")
    if info.revoked_at is not None:
        raise AuthenticationRequired("the bearer token has been revoked")
    return Caller(role=info.role, name=info.name, token_id=info.id)

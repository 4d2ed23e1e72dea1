"""API tokens: create (shown once), list, revoke, and authenticate a request's bearer token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from archive.access import policy, tokens
from archive.catalog import callers
from archive.catalog.records import TokenInfo
from archive.errors import AuthenticationRequired, InvalidRequest
from archive.services.context import ArchiveContext
from archive.services.retrieve.usage import ANONYMOUS, Caller

_LIFETIME = re.compile(r"(\d{1,7})\s*([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: the longest lifetime a token may be given
MAX_LIFETIME = timedelta(days=100 * 366)
# compared against when a token id is unknown, so that an unknown id and a wrong secret cost the same
_NO_SALT, _NO_DIGEST = "00" * 16, "0" * 64


def _now() -> datetime:
    return datetime.now(UTC)


def expiry(expires_in: str | None = None, expires: str | None = None, now: datetime | None = None) -> datetime | None:
    """When a new token stops working: ``expires_in`` a lifetime (``30d``, ``12h``, ``90m``, ``2w``)
    or ``expires`` a day (``YYYY-MM-DD``: from 00:00 UTC that day) or an ISO 8601 time; None: never."""
    now = now or _now()
    if expires_in and expires:
        raise InvalidRequest("give a token a lifetime or an expiry date, not both")
    if expires_in:
        m = _LIFETIME.fullmatch(expires_in.strip().lower())
        if not m or int(m.group(1)) == 0:
            raise InvalidRequest(
                f"{expires_in[:40]!r} is not a token lifetime such as 30d, 12h, 90m or 2w (days, hours, minutes, weeks)"
            )
        lifetime = timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
        if lifetime > MAX_LIFETIME:
            raise InvalidRequest(f"a token lifetime of {expires_in!r} is longer than 100 years")
        return now + lifetime
    if expires:
        text = expires.strip()
        try:
            when = datetime.fromisoformat(text)  # a day alone is its 00:00
        except ValueError as exc:
            raise InvalidRequest(
                f"{text[:40]!r} is not an expiry date: YYYY-MM-DD (00:00 UTC) or an ISO 8601 time"
            ) from exc
        when = when if when.tzinfo else when.replace(tzinfo=UTC)  # no zone: UTC
        if when <= now:
            raise InvalidRequest(f"the expiry {when.isoformat()} is not in the future")
        if when - now > MAX_LIFETIME:
            raise InvalidRequest(f"the expiry {when.isoformat()} is more than 100 years away")
        return when.astimezone(UTC)
    return None


def create(ctx: ArchiveContext, name: str, role: str, expires_at: datetime | None = None) -> tuple[TokenInfo, str]:
    """Store a new token's salted digest; return its record and the full token (never stored).

    ``expires_at`` (see :func:`expiry`): from that moment on the token is refused like an
    unknown one; None: it works until revoked.
    """
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidRequest("a token needs a name of 1 to 128 characters")
    if role not in policy.TOKEN_ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(policy.TOKEN_ROLES)}, got {role!r}")
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidRequest("a token's expiry must be an aware datetime (UTC)")
    if expires_at is not None and expires_at <= _now():
        raise InvalidRequest(f"the expiry {expires_at.isoformat()} is not in the future")
    new = tokens.new_token()
    info = callers.add_token(ctx.catalog, new.token_id, name, role, new.salt, new.digest, expires_at)
    return info, new.token


def list_all(ctx: ArchiveContext) -> list[TokenInfo]:
    return callers.list_tokens(ctx.catalog)


def revoke(ctx: ArchiveContext, token_id: str) -> TokenInfo:
    parsed = tokens.parse(token_id)
    return callers.revoke_token(ctx.catalog, parsed[0] if parsed else token_id.strip())


def authenticate(ctx: ArchiveContext, authorization: str | None) -> Caller:
    """The caller an ``Authorization`` header proves, or the anonymous caller when there is none.

    A header that is present but wrong (not Bearer, malformed, unknown, expired, revoked) is an
    error, never a silent fall-back to anonymous access. Without a header, anonymous access must
    be allowed by the setting ``api_anonymous``. An expired token gets exactly the answer an
    unknown one gets. The secret is compared in constant time (:func:`archive.access.tokens.check`),
    also when the id is unknown, so neither answer takes measurably longer than the other.
    """
    if not authorization:
        if not ctx.settings.api_anonymous:
            raise AuthenticationRequired("this archive needs an API token: send 'Authorization: Bearer <token>'")
        return ANONYMOUS
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationRequired("the Authorization header must be 'Bearer <token>'")
    parsed = tokens.parse(value)
    if parsed is None:
        raise AuthenticationRequired("the bearer token is not an archive API token")
    token_id, secret = parsed
    info = callers.get_token(ctx.catalog, token_id)
    matches = tokens.check(secret, info.salt if info else _NO_SALT, info.digest if info else _NO_DIGEST)
    if info is None or not matches or info.expired(_now()):
        raise AuthenticationRequired("the bearer token is not valid")
    if info.revoked_at is not None:
        raise AuthenticationRequired("the bearer token has been revoked")
    return Caller(role=info.role, name=info.name, token_id=info.id)

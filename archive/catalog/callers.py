"""Tokens, the access log and incidents: who called, what they took, what went wrong.

Usage statistics over the access log are in :mod:`archive.catalog.usage`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from archive.catalog.guard import guarded
from archive.catalog.records import TokenInfo, aware
from archive.catalog.repository import Catalog
from archive.catalog.tables import AccessLogRow, IncidentRow, TokenRow
from archive.errors import NotFound
from archive.model import utcnow

ACTION_VIEW, ACTION_FILE, ACTION_PACKAGE = "view", "file", "package"


def _token(r: TokenRow) -> TokenInfo:
    return TokenInfo(r.id, r.name, r.role, r.salt, r.digest, r.created_at, r.revoked_at, r.expires_at)


# -- tokens -----------------------------------------------------------------------------
@guarded("store the token")
def add_token(
    catalog: Catalog,
    token_id: str,
    name: str,
    role: str,
    salt: str,
    digest: str,
    expires_at: datetime | None = None,
) -> TokenInfo:
    row = TokenRow(
        id=token_id,
        name=name,
        role=role,
        salt=salt,
        digest=digest,
        created_at=utcnow(),
        expires_at=expires_at,
    )

    with catalog.session() as s, s.begin():
        s.add(row)
    return _token(row)


_TOKEN_Q = select(
    TokenRow.id,
    TokenRow.name,
    TokenRow.role,
    TokenRow.salt,
    TokenRow.digest,
    TokenRow.created_at,
    TokenRow.revoked_at,
    TokenRow.expires_at,
).where(TokenRow.id == bindparam("tid"))


@guarded("read tokens")
def get_token(catalog: Catalog, token_id: str) -> TokenInfo | None:
    with catalog.connection() as c:
        row = c.execute(_TOKEN_Q, {"tid": token_id}).one_or_none()
    return TokenInfo(*row) if row else None


@guarded("list tokens")
def list_tokens(catalog: Catalog) -> list[TokenInfo]:
    with catalog.session() as s:
        return [_token(r) for r in s.scalars(select(TokenRow).order_by(TokenRow.created_at, TokenRow.id))]


@guarded("revoke the token")
def revoke_token(catalog: Catalog, token_id: str) -> TokenInfo:
    with catalog.session() as s, s.begin():
        row = s.get(TokenRow, token_id)
        if row is None:
            raise NotFound(f"no token {token_id!r}; `archive tokens list` shows the ids")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return _token(row)


# -- access log -------------------------------------------------------------------------
_LOG_INSERT = insert(AccessLogRow)


@guarded("record the access")
def log_access(
    catalog: Catalog,
    *,
    token_id: str | None,
    caller: str,
    role: str,
    action: str,
    package_id: str,
    profile_id: str,
    path: str = "",
    byte_range: str = "",
    bytes_planned: int = 0,
    outcome: str = "started",
) -> int:
    """Record one access (before its bytes are sent); returns the entry's id for :func:`finish_access`."""
    now = utcnow()
    values = {
        "occurred_at": now,
        "finished_at": now if outcome != "started" else None,
        "token_id": token_id,
        "caller": caller[:128],
        "role": role,
        "action": action,
        "package_id": package_id,
        "profile_id": profile_id,
        "path": path,
        "byte_range": byte_range[:64],
        "bytes_planned": bytes_planned,
        "bytes_sent": bytes_planned if outcome == "complete" else 0,
        "outcome": outcome,
    }

    with catalog.transaction() as c:
        key = c.execute(_LOG_INSERT, values).inserted_primary_key
        assert key is not None
        return int(key[0])


@guarded("record the end of an access")
def finish_access(catalog: Catalog, entry_id: int, bytes_sent: int, outcome: str) -> None:
    with catalog.transaction() as c:
        c.execute(
            update(AccessLogRow)
            .where(AccessLogRow.id == entry_id)
            .values(bytes_sent=bytes_sent, outcome=outcome, finished_at=utcnow())
        )


@guarded("read the access log")
def access_entries(catalog: Catalog, package_id: str | None = None) -> list[dict[str, Any]]:
    q = select(AccessLogRow).order_by(AccessLogRow.id)
    if package_id:
        q = q.where(AccessLogRow.package_id == package_id)

    with catalog.session() as s:
        return [
            {
                "id": r.id,
                "occurred": aware(r.occurred_at).isoformat(),
                "token_id": r.token_id,
                "caller": r.caller,
                "role": r.role,
                "action": r.action,
                "package_id": r.package_id,
                "profile": r.profile_id,
                "path": r.path,
                "range": r.byte_range,
                "bytes_planned": r.bytes_planned,
                "bytes_sent": r.bytes_sent,
                "outcome": r.outcome,
            }
            for r in s.scalars(q)
        ]


# -- incidents --------------------------------------------------------------------------
@guarded("record the incident")
def record_incident(
    catalog: Catalog,
    package_id: str,
    path: str,
    kind: str,
    detail: str,
    token_id: str | None = None,
    caller: str = "",
) -> int:
    row = IncidentRow(
        occurred_at=utcnow(),
        package_id=package_id,
        path=path,
        kind=kind,
        detail=detail,
        token_id=token_id,
        caller=caller[:128],
    )

    with catalog.session() as s, s.begin():
        s.add(row)
        s.flush()
        return int(row.id)


@guarded("read incidents")
def incidents(catalog: Catalog, package_id: str | None = None) -> list[dict[str, Any]]:
    q = select(IncidentRow).order_by(IncidentRow.id)
    if package_id:
        q = q.where(IncidentRow.package_id == package_id)

    with catalog.session() as s:
        return [
            {
                "id": r.id,
                "occurred": aware(r.occurred_at).isoformat(),
                "package_id": r.package_id,
                "path": r.path,
                "kind": r.kind,
                "detail": r.detail,
            }
            for r in s.scalars(q)
        ]

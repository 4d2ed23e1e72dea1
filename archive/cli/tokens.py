"""archive tokens create / list / revoke: API tokens for the retrieval API."""

from __future__ import annotations

import click
from rich.table import Table

from archive.access.policy import TOKEN_ROLES
from archive.cli import State, handles_errors, json_option, render
from archive.services.retrieve import tokens as token_service


@click.group()
def tokens() -> None:
    """API tokens for `archive serve` (sent as `Authorization: Bearer <token>`)."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what the token is for (shown in the access log).")
@click.option(
    "--role",
    required=True,
    type=click.Choice(TOKEN_ROLES),
    help="researcher, archivist, auditor or admin (docs/access.md says what each may see).",
)
@click.option(
    "--expires-in",
    "expires_in",
    metavar="DURATION",
    help="Refuse the token after this long: 30d, 12h, 90m, 2w (default: never expires).",
)
@click.option(
    "--expires",
    "expires",
    metavar="DATE",
    help="Refuse the token from this day (YYYY-MM-DD, 00:00 UTC) or ISO 8601 time on.",
)
@json_option
@click.pass_obj
@handles_errors
def create(state: State, name: str, role: str, expires_in: str | None, expires: str | None, as_json: bool) -> None:
    """Create a token and print it once: only a salted hash is kept, so it cannot be shown again."""
    if expires_in and expires:
        raise click.UsageError("give --expires-in or --expires, not both")
    info, token = token_service.create(
        state.ctx, name, role, token_service.expiry(expires_in=expires_in, expires=expires)
    )
    if as_json:
        render.emit_json({"ok": True, "token": token, **info.as_dict()})
        return
    render.out.print(token)
    until = f", expires {info.as_dict()['expires']}" if info.expires_at else ""
    render.err.print(
        f"Token {info.id} for {info.name!r} (role {info.role}{until}) in the archive at {state.ctx.settings.home}. "
        "Store it now: it is not shown again.",
        markup=False,
    )


@tokens.command("list")
@json_option
@click.pass_obj
@handles_errors
def list_(state: State, as_json: bool) -> None:
    """List tokens (ids, names, roles, created, expires, revoked); never the secrets."""
    rows = token_service.list_all(state.ctx)
    if as_json:
        render.emit_json({"ok": True, "count": len(rows), "tokens": [r.as_dict() for r in rows]})
        return
    table = Table("id", "name", "role", "created", "expires", "revoked")
    for r in rows:
        d = r.as_dict()
        table.add_row(
            d["id"],
            d["name"],
            d["role"],
            d["created"][:16],
            (d["expires"] or "")[:16],
            (d["revoked"] or "")[:16],
        )
    render.out.print(table)
    render.out.print(f"{len(rows)} token(s)")


@tokens.command("revoke")
@click.argument("token_id")
@json_option
@click.pass_obj
@handles_errors
def revoke(state: State, token_id: str, as_json: bool) -> None:
    """Revoke TOKEN_ID (the id `tokens list` shows, or the whole token): it stops working at once."""
    info = token_service.revoke(state.ctx, token_id)
    if as_json:
        render.emit_json({"ok": True, **info.as_dict()})
        return
    render.out.print(
        f"Revoked token {info.id} ({info.name}, {info.role}) in the archive at {state.ctx.settings.home}", markup=False
    )

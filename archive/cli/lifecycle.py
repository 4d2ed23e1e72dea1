"""``archive amend | add | withdraw-files | access set | hold place|release | history``: a package's life
after ingest, each change a new version (docs/lifecycle.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from rich.markup import escape

from archive.cli import State, handles_errors, json_option, render
from archive.services.lifecycle import changes
from archive.services.lifecycle.history import history as package_history
from archive.services.lifecycle.versions import Actor, VersionResult

agent_option = click.option(
    "--agent", help="Who makes the change (recorded as a PREMIS agent and in the ledger). Default: setting 'agent'."
)
reason_option = click.option("--reason", help="Why: recorded with the change (required for decisions).")


def _actor(state: State, agent: str | None) -> Actor:
    return Actor(agent or state.ctx.settings.agent)


def _done(result: VersionResult, as_json: bool) -> None:
    if as_json:
        render.emit_json({"ok": True, **result.as_dict()})
        return
    render.out.print(
        f"Package {result.package_id} is now at version {result.version} ({result.kind}): {escape(result.summary)}; "
        f"{render.human_bytes(result.stored_bytes)} of payload stored anew"
    )


@click.command()
@click.argument("package_id")
@click.option(
    "--metadata",
    "metadata",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The corrected descriptive metadata (YAML or JSON), checked against the package's profile.",
)
@reason_option
@agent_option
@json_option
@click.pass_obj
@handles_errors
def amend(state: State, package_id: str, metadata: Path, reason: str | None, agent: str | None, as_json: bool) -> None:
    """Correct PACKAGE_ID's descriptive metadata: a new version, checked like an ingest (every problem at once).

    The payload is not stored again; earlier versions keep their metadata. Exit 1 when the
    metadata is rejected or the package is held or disposed of.
    """
    _done(changes.amend(state.ctx, package_id, metadata, reason, _actor(state, agent)), as_json)


@click.command("add")
@click.argument("package_id")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@reason_option
@agent_option
@json_option
@click.pass_obj
@handles_errors
def add(state: State, package_id: str, submission: Path, reason: str | None, agent: str | None, as_json: bool) -> None:
    """Add the files of SUBMISSION (a folder or archive) to PACKAGE_ID as a new version.

    Every file is checked, hashed and identified as at ingest; a path the package has already is
    refused (withdraw it first).
    """
    _done(changes.add_files(state.ctx, package_id, submission, reason, _actor(state, agent)), as_json)


@click.command("withdraw-files")
@click.argument("package_id")
@click.argument("paths", nargs=-1, required=True)
@reason_option
@agent_option
@json_option
@click.pass_obj
@handles_errors
def withdraw_files(
    state: State, package_id: str, paths: tuple[str, ...], reason: str | None, agent: str | None, as_json: bool
) -> None:
    """Withdraw PATHS (paths in the package, without data/) from PACKAGE_ID's current version.

    Earlier versions keep the files (only a disposal removes content); the current version no
    longer lists or serves them.
    """
    _done(changes.withdraw_files(state.ctx, package_id, list(paths), reason, _actor(state, agent)), as_json)


@click.group()
def access() -> None:
    """Access decisions about a package."""


@access.command("set")
@click.argument("package_id")
@click.argument("level")
@click.option("--reason", required=True, help="Why: recorded with the decision.")
@click.option(
    "--embargo-until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    help="For level embargoed: the end date.",
)
@click.option("--statement", help="A new access statement shown with the package (default: kept).")
@agent_option
@json_option
@click.pass_obj
@handles_errors
def access_set(
    state: State,
    package_id: str,
    level: str,
    reason: str,
    embargo_until: object,
    statement: str | None,
    agent: str | None,
    as_json: bool,
) -> None:
    """Set PACKAGE_ID's access LEVEL (open, restricted, embargoed, confidential, legal-hold) as a decision.

    Recorded with who, when and why (a PREMIS policy assignment in a new version). Refused while
    a legal hold is on the package.
    """
    until = embargo_until.date() if embargo_until is not None else None  # type: ignore[attr-defined]
    result = changes.set_access(
        state.ctx,
        package_id,
        level,
        reason,
        _actor(state, agent),
        until if isinstance(until, date) else None,
        statement,
    )
    _done(result, as_json)


@click.group()
def hold() -> None:
    """Legal holds: while one is on a package, nothing about it changes and it cannot be disposed of."""


@hold.command("place")
@click.argument("package_id")
@click.option("--reason", required=True, help="Why (e.g. the matter or order): recorded with the hold.")
@agent_option
@json_option
@click.pass_obj
@handles_errors
def hold_place(state: State, package_id: str, reason: str, agent: str | None, as_json: bool) -> None:
    """Place a legal hold on PACKAGE_ID."""
    _done(changes.place_hold(state.ctx, package_id, reason, _actor(state, agent)), as_json)


@hold.command("release")
@click.argument("package_id")
@click.option("--reason", required=True, help="Why the hold ends: recorded with the release.")
@agent_option
@json_option
@click.pass_obj
@handles_errors
def hold_release(state: State, package_id: str, reason: str, agent: str | None, as_json: bool) -> None:
    """Release the legal hold on PACKAGE_ID."""
    _done(changes.release_hold(state.ctx, package_id, reason, _actor(state, agent)), as_json)


@click.command()
@click.argument("package_id")
@json_option
@click.pass_obj
@handles_errors
def history(state: State, package_id: str, as_json: bool) -> None:
    """Every version of PACKAGE_ID and every change and decision: who, when, why (oldest first)."""
    data = package_history(state.ctx, package_id)
    if as_json:
        render.emit_json({"ok": True, **data})
        return
    render.out.print(render.versions_table(data["versions"], f"package {package_id}"))
    for e in data["decisions"]:
        render.out.print(f"{e['datetime']}  {e['type']}: {escape(e['detail'])} ({escape(e['outcome_detail'])})")

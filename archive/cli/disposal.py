"""``archive dispose propose | approve | execute | withdraw | list``: disposal with two people (docs/disposal.md)."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from archive.catalog.disposals import Disposals, Proposal
from archive.cli import State, handles_errors, json_option, render
from archive.services.lifecycle import disposal as service
from archive.services.lifecycle.versions import Actor

agent_option = click.option(
    "--agent", help="Who acts (recorded in the ledger and the tombstone). Default: setting 'agent'."
)


def _actor(state: State, agent: str | None) -> Actor:
    return Actor(agent or state.ctx.settings.agent)


def _show(proposal: Proposal, as_json: bool, said: str) -> None:
    if as_json:
        render.emit_json({"ok": True, **proposal.as_dict()})
        return
    render.out.print(f"{said}: proposal {proposal.id} ({proposal.state}), {len(proposal.package_ids)} package(s)")


@click.group()
def dispose() -> None:
    """Disposal with two people: one proposes, a different one approves, then the content goes.

    Nothing is ever deleted without both. A disposed package keeps a tombstone (what was
    disposed of, why, who proposed and approved, the digests) in every storage root and the
    catalog; its content leaves primary storage and every replica. A legal hold blocks it.
    """


@dispose.command("propose")
@click.argument("package_ids", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (e.g. the retention schedule that fell due).")
@agent_option
@json_option
@click.pass_obj
@handles_errors
def propose(state: State, package_ids: tuple[str, ...], reason: str, agent: str | None, as_json: bool) -> None:
    """Propose disposing of PACKAGE_IDS (none may be under a legal hold)."""
    _show(service.propose(state.ctx, list(package_ids), reason, _actor(state, agent)), as_json, "Proposed")


@dispose.command("approve")
@click.argument("proposal")
@click.option("--reason", help="The approver's note, recorded with the approval.")
@agent_option
@json_option
@click.pass_obj
@handles_errors
def approve(state: State, proposal: str, reason: str | None, agent: str | None, as_json: bool) -> None:
    """Approve PROPOSAL (a different person than the proposer) and execute it.

    Exit 1 when the approver is the proposer, the proposal is not awaiting approval, or a package
    is under a legal hold.
    """
    _show(service.approve(state.ctx, proposal, reason, _actor(state, agent)), as_json, "Approved and executed")


@dispose.command("execute")
@click.argument("proposal")
@json_option
@click.pass_obj
@handles_errors
def execute(state: State, proposal: str, as_json: bool) -> None:
    """Finish executing an approved PROPOSAL that a crash interrupted (safe to run again)."""
    _show(service.execute(state.ctx, proposal), as_json, "Executed")


@dispose.command("withdraw")
@click.argument("proposal")
@click.option("--reason", required=True, help="Why the proposal is withdrawn.")
@agent_option
@json_option
@click.pass_obj
@handles_errors
def withdraw(state: State, proposal: str, reason: str, agent: str | None, as_json: bool) -> None:
    """Withdraw PROPOSAL before it is approved."""
    _show(service.withdraw(state.ctx, proposal, reason, _actor(state, agent)), as_json, "Withdrawn")


@dispose.command("list")
@json_option
@click.pass_obj
@handles_errors
def list_(state: State, as_json: bool) -> None:
    """Every disposal proposal and its state (proposed, approved, executed, withdrawn)."""
    found = Disposals(state.ctx.catalog).proposals()
    if as_json:
        render.emit_json({"ok": True, "proposals": [p.as_dict() for p in found]})
        return
    table = Table("proposal", "state", "proposed by", "approved by", "packages", "reason")
    for p in found:
        table.add_row(
            p.id, p.state, escape(p.proposer), escape(p.approver or "-"), str(len(p.package_ids)), escape(p.reason)
        )
    render.out.print(table)

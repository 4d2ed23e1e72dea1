"""archive ledger verify / head: check the tamper-evident event ledger, print its head to witness."""

from __future__ import annotations

import sys

import click

from archive.cli import State, handles_errors, json_option, render
from archive.errors import NotFound
from archive.services.ledgering import verify_ledger


@click.group()
def ledger() -> None:
    """The hash-chained ledger of every event the archive records (docs/ledger.md)."""


@ledger.command()
@click.option(
    "--head", "witnessed", metavar="DIGEST", help="A head digest witnessed earlier: it must still be in the ledger."
)
@json_option
@click.pass_obj
@handles_errors
def verify(state: State, witnessed: str | None, as_json: bool) -> None:
    """Check every entry's hash and link, the replica copies, the catalog mirror and the catalog's events.

    Exit status 0 intact, 1 an entry was edited, removed or reordered (or the copies disagree),
    3 the ledger could not be read.
    """
    report = verify_ledger(state.ctx, witnessed)
    if as_json:
        render.emit_json(report.as_dict())
    else:
        for p in report.problems:
            colour = "red" if p.severity == "error" else "yellow"
            render.out.print(f"[{colour}]{p}[/]")
        head = report.head
        copies = ", ".join(f"{k}: {v}" for k, v in report.copies.items()) or "none"
        render.out.print(
            f"{'intact' if report.ok else 'NOT INTACT'}: {report.entries} entries; head "
            f"{head.hash if head else '-'} (entry {head.seq if head else 0}); replica copies: {copies}"
            + (f"; witnessed head found at entry {report.witnessed_seq}" if report.witnessed_seq else "")
        )
    if not report.ok:
        sys.exit(1)


@ledger.command()
@json_option
@click.pass_obj
@handles_errors
def head(state: State, as_json: bool) -> None:
    """Print the current head digest (to mail, print or timestamp elsewhere: witnessing)."""
    entry = state.ctx.ledger.head()
    if entry is None:
        raise NotFound(f"the ledger {state.ctx.ledger.path} is empty")
    if as_json:
        render.emit_json(
            {"ok": True, "seq": entry.seq, "hash": entry.hash, "time": entry.time, "ledger": str(state.ctx.ledger.path)}
        )
        return
    render.out.print(f"sha256:{entry.hash} entry {entry.seq} {entry.time}")

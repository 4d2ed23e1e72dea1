"""archive doctor / archive reindex: recovery after crashes and after losing the catalog."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from archive.cli import State, handles_errors, json_option, render
from archive.services.recovery.doctor import run_doctor
from archive.services.recovery.reindex import reindex as reindex_service


@click.command()
@click.option("--dry-run", is_flag=True, help="Report what would be done; change nothing.")
@json_option
@click.pass_obj
@handles_errors
def doctor(state: State, dry_run: bool, as_json: bool) -> None:
    """Find and settle what crashes left behind: staging leftovers, packages stored but not
    catalogued (verified, then catalogued from their METS, or quarantined), catalogued packages
    missing from storage, ledger entries the catalog lacks, audit runs that never finished.

    Exit status: 0 healthy; 1 problems found (settled, or reported); 3 something could not be checked.
    """
    report = run_doctor(state.ctx, dry_run)
    if as_json:
        render.emit_json(report.as_dict())
    else:
        for i in report.issues:
            where = f" ({i.where})" if i.where else ""
            render.out.print(f"{i.kind}: {escape(i.subject)}{where}: {escape(i.message)} [bold]→ {escape(i.action)}[/]")
        for line in report.unchecked:
            render.err.print(f"[red]could not check[/] {escape(line)}")
        verdict = "healthy" if report.exit_status == 0 else f"{len(report.issues)} problem(s) found"
        render.out.print(f"doctor: {verdict}" + (" (dry run: nothing changed)" if dry_run and report.issues else ""))
    if report.exit_status:
        sys.exit(report.exit_status)


@click.command()
@click.option(
    "--force",
    is_flag=True,
    help="Delete what a rebuild restores from a catalog that is not empty "
    "(API tokens, the access log and incidents are kept), then rebuild.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Also hash every payload file and compare it with its METS digests (slow: reads everything).",
)
@json_option
@click.pass_obj
@handles_errors
def reindex(state: State, force: bool, verify: bool, as_json: bool) -> None:
    """Rebuild the catalog from storage alone: packages, files, formats, descriptive metadata and
    events from each package's METS; later events, audit runs, findings and fixity from the ledger.

    Exit status: 0 rebuilt; 1 rebuilt, with problems listed (or the catalog is not empty and
    --force was not given); 3 storage or catalog unreachable.
    """
    with render.progress_bar(not as_json) as progress:
        report = reindex_service(state.ctx, force, verify, progress)
    if as_json:
        render.emit_json(report.as_dict())
    else:
        for p in report.problems:
            render.err.print(f"[yellow]problem[/] {p['package'] or '-'}: {escape(p['message'])}")
        render.out.print(
            f"reindexed {report.packages} packages ({report.files} files, {report.events} events), "
            f"{report.audit_runs} audit runs, {report.findings} findings, "
            f"{report.ledger_entries} ledger entries"
        )
    if report.exit_status:
        sys.exit(report.exit_status)

"""archive doctor / archive reindex / archive migrate-storage: recovery after crashes and after
losing the catalog, and moving stored packages from the bag layout to OCFL objects."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from archive.cli import State, handles_errors, json_option, render
from archive.services.recovery.doctor import run_doctor
from archive.services.recovery.migrate import FAILED, MIGRATED, MISSING, RESUMED, WOULD, migrate_storage
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


@click.command("migrate-storage")
@click.option("--dry-run", is_flag=True, help="Verify and report what would be migrated; write nothing.")
@json_option
@click.pass_obj
@handles_errors
def migrate_storage_command(state: State, dry_run: bool, as_json: bool) -> None:
    """Turn every package stored in the bag layout (<root>/aa/bb/<id>/) into an OCFL object of the
    same storage root, primary and replicas: each bag verified against the catalog, stored as
    version 1 of its object, the object verified, the migration ledgered, and only then the bag's
    folder removed. A package that does not verify is kept as it is and reported. Safe to run
    again after a crash: it finishes what was started. See docs/migration.md.

    Exit status: 0 every package is an OCFL object (or, with --dry-run, would be); 1 some package
    could not be migrated (each is listed, with why); 3 storage or the catalog cannot be reached (or
    refused a step), or an audit, a repair or another migration is running.
    """
    with render.progress_bar(not as_json) as progress:
        report = migrate_storage(state.ctx, dry_run, progress)
    if as_json:
        render.emit_json(report.as_dict())
    else:
        for line in report.leftovers:
            render.err.print(f"removed the staging leftover of a migration that died: {escape(line)}")
        for p in report.packages:
            if p.status in (FAILED, MISSING):
                render.err.print(f"[red]{p.status}[/] {p.package} ({p.storage}): {escape(p.reason)}")
                for f in p.findings[:20]:
                    render.err.print(f"  {escape(f.line())}")
                if len(p.findings) > 20:
                    render.err.print(f"  ... and {len(p.findings) - 20} more")
            elif p.status == WOULD:
                render.out.print(f"would migrate {p.package} ({p.storage}) to {escape(p.object)}")
            elif p.status in (MIGRATED, RESUMED):
                how = "migrated" if p.status == MIGRATED else "finished migrating"
                render.out.print(f"{how} {p.package} ({p.storage}): {p.files} files, {render.human_bytes(p.bytes)}")
        for line in report.unreachable:
            render.err.print(f"[red]could not reach[/] {escape(line)}")
        counts = report.as_dict()["counts"]
        summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no packages"
        render.out.print(f"migrate-storage: {summary}" + (" (dry run: nothing changed)" if dry_run else ""))
    if report.exit_status:
        sys.exit(report.exit_status)

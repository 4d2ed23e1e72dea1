"""archive ingest / validate / list / show / export."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from archive.cli import State, handles_errors, json_option, render
from archive.services.ingest import run as ingest_service
from archive.services.lifecycle import history as history_service
from archive.services.retrieve import export as package_service
from archive.services.retrieve.export import SHOW_PAGE
from archive.submission.scan import printable

submission_arg = click.argument("submission", type=click.Path(path_type=Path))
profile_opt = click.option("--profile", "-p", required=True, help="Profile the submission is checked against.")
metadata_opt = click.option(
    "--metadata",
    "-m",
    "metadata",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Descriptive metadata file (YAML or JSON) instead of metadata.yaml in the submission.",
)


@click.command()
@submission_arg
@profile_opt
@metadata_opt
@click.option("--agent", help="The person submitting (recorded as a PREMIS agent). Default: setting 'agent'.")
@click.option(
    "--key",
    "key",
    help="Idempotency key: a retry with the same key returns the existing package; other content under it "
    "makes that package's next version.",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Queue the ingest for `archive worker` (PostgreSQL catalogs) and print the job id; the worker checks it.",
)
@json_option
@click.pass_obj
@handles_errors
def ingest(
    state: State,
    submission: Path,
    profile: str,
    metadata: Path | None,
    agent: str | None,
    key: str | None,
    enqueue: bool,
    as_json: bool,
) -> None:
    """Ingest SUBMISSION (a folder, .zip, .tar, .tar.gz or BagIt bag) as a new package.

    Prints the package identifier (a UUID) and a summary. A rejected submission writes
    nothing and lists every problem (exit 1). With --enqueue: prints the job's id; `archive
    jobs show ID` tells what it ended with.
    """
    if enqueue:
        from archive.jobs.enqueue import enqueue_ingest

        job_id = enqueue_ingest(state.ctx, submission, profile, metadata, agent, key)
        if as_json:
            render.emit_json({"ok": True, "job": job_id})
        else:
            render.out.print(str(job_id))
            render.err.print(f"queued as job {job_id}: `archive jobs show {job_id}`")
        return
    with render.progress_bar(not as_json) as progress:
        result = ingest_service.ingest(state.ctx, submission, profile, metadata, agent, key, progress)
    if as_json:
        render.emit_json({"ok": True, **result.as_dict()})
        return
    render.out.print(result.package_id)
    verb = (
        "Stored"
        if result.created
        else f"Stored as version {result.version} of that package (other content under its key)"
        if result.new_version
        else "Already stored (same submission)"
    )
    render.err.print(
        f"{verb}: profile {result.profile_id} {result.profile_version}, {result.files} files, "
        f"{render.human_bytes(result.bytes)}"
    )
    render.err.print("Formats: " + ", ".join(f"{k} \u00d7{v}" for k, v in result.formats.items()))
    if result.access:
        render.err.print(f"Access: {result.access.line()}", markup=False)
    if result.warnings:
        render.err.print(f"{len(result.warnings)} warning(s):")
        render.findings(result.warnings)


@click.command()
@submission_arg
@profile_opt
@metadata_opt
@json_option
@click.pass_obj
@handles_errors
def validate(state: State, submission: Path, profile: str, metadata: Path | None, as_json: bool) -> None:
    """Pre-flight check of SUBMISSION against a profile: reports every problem, writes nothing."""
    with render.progress_bar(not as_json) as progress:
        prepared = ingest_service.validate(state.ctx, submission, profile, metadata, progress)
    formats = ingest_service.format_counts(prepared.files)
    access = prepared.access_outcome  # what ingest would give the package
    if as_json:
        render.emit_json(
            {
                "ok": True,
                "valid": True,
                "profile": prepared.profile.id,
                "profile_version": prepared.profile.version,
                "files": len(prepared.files),
                "bytes": prepared.total_bytes,
                "formats": formats,
                "access": access.as_dict(),
                "findings": [w.as_dict() for w in prepared.warnings],
            }
        )
        return
    render.out.print(
        f"[green]valid[/]: {escape(str(submission))} against profile {prepared.profile.id} "
        f"{prepared.profile.version}: {len(prepared.files)} files, "
        f"{render.human_bytes(prepared.total_bytes)}"
    )
    render.out.print("Formats: " + ", ".join(f"{k} \u00d7{v}" for k, v in formats.items()), markup=False)
    render.out.print(f"Access: {access.line()}", markup=False)
    note = render.guessed_note(prepared.files)
    if note and not any(w.code == "W210" for w in prepared.warnings):  # the profile accepts guesses silently
        render.out.print(note, markup=False)
    render.findings(prepared.warnings, render.out)


@click.command("list")
@click.option("--profile", "-p", help="Only packages made under this profile.")
@json_option
@click.pass_obj
@handles_errors
def list_(state: State, profile: str | None, as_json: bool) -> None:
    """List the packages the archive holds."""
    rows = state.ctx.catalog.list_packages(profile=profile)
    if as_json:
        render.emit_json({"ok": True, "count": len(rows), "packages": [r.as_dict() for r in rows]})
        return
    table = Table("id", "profile", "title", "files", "size", "access", "created")
    table.columns[0].no_wrap = True
    table.columns[2].overflow = "ellipsis"
    table.columns[2].no_wrap = True
    table.columns[2].max_width = 48
    table.columns[6].no_wrap = True
    for r in rows:
        table.add_row(
            r.id,
            r.profile_id,
            escape(r.title),
            str(r.file_count),
            render.human_bytes(r.total_bytes),
            r.access_level,
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    render.out.print(table)
    render.out.print(f"{len(rows)} package(s)")


@click.command()
@click.argument("package_id")
@click.option("--versions", "list_versions", is_flag=True, help="List the package's versions instead.")
@click.option("--version", "version", type=click.IntRange(min=1), help="Show this version (default: the current one).")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=100_000),
    default=SHOW_PAGE,
    show_default=True,
    help="List at most this many files (by path) and events.",
)
@click.option("--after", metavar="PATH", help="List the files after this path (the next page: as the last one said).")
@json_option
@click.pass_obj
@handles_errors
def show(
    state: State,
    package_id: str,
    list_versions: bool,
    version: int | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """Show one package: metadata, access, files with formats and digests, events.

    A big package is shown a page at a time: the first --limit files by path, then
    --after the last path shown for the next page (--json: next_after)."""
    if list_versions:
        found = history_service.versions(state.ctx, package_id)
        if as_json:
            render.emit_json({"ok": True, "id": package_id, "versions": found})
            return
        render.out.print(render.versions_table(found))
        return
    data = package_service.describe(state.ctx, package_id, version, limit=limit, after=after)
    if as_json:
        render.emit_json({"ok": True, **data})
        return
    render.out.print(f"[bold]{escape(str(data['title']))}[/]  {data['id']}")
    render.out.print(
        f"profile {data['profile']} {data['profile_version']} · access {data['access']['level']}"
        + (f" until {data['access']['embargo_until']}" if data["access"]["embargo_until"] else "")
        + f" · {data['files_count']} files · {render.human_bytes(data['bytes'])} · stored {data['created']}"
        + f" · version {data['version']}"
        + (" · under a legal hold" if data["held"] else "")
    )
    meta = Table("field", "value", show_header=False, box=None)
    for k, v in data["metadata"].items():
        meta.add_row(k, escape(", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    render.out.print(meta)
    files = Table("path", "size", "format", "sha256")
    for f in data["files"]:
        files.add_row(
            escape(f["path"]),
            render.human_bytes(f["size"]),
            escape(render.format_label(f["format"])),
            f["digests"]["sha256"][:16] + "…",
        )
    render.out.print(files)
    if data["next_after"] is not None or after is not None:
        render.out.print(f"{len(data['files'])} of {data['files_count']} files listed")
    if data["next_after"] is not None:
        more = shlex.join(["archive", "show", package_id, "--after", data["next_after"], "--limit", str(limit)])
        render.out.print(f"next page: {escape(printable(more))}")
    render.out.print(f"{data['events_count']} PREMIS events; storage path {data['storage_path']}")


@click.command()
@click.argument("package_id")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--version", "version", type=click.IntRange(min=1), help="Export this version (default: the current one)."
)
@json_option
@click.pass_obj
@handles_errors
def export(state: State, package_id: str, dest: Path, version: int | None, as_json: bool) -> None:
    """Copy package PACKAGE_ID's bag (of its current version, or --version N) out to DEST (a new
    folder), verifying every file: a complete bag that BagIt tools validate."""
    target = package_service.export(state.ctx, package_id, dest, version)
    if as_json:
        render.emit_json({"ok": True, "id": package_id, "version": version, "path": str(target)})
        return
    which = f"version {version} of " if version else ""
    render.out.print(f"Exported {which}{package_id} to {target} (verified against the catalog)")

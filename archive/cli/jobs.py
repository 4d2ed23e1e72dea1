"""archive worker / archive jobs list|show|retry: the job queue on the catalog's PostgreSQL."""

from __future__ import annotations

import logging
import sys

import click
from rich.table import Table

from archive.cli import State, handles_errors, json_option, render
from archive.errors import NotFound


@click.command()
@click.option(
    "--queues",
    default="ingest,audit",
    show_default=True,
    help="Comma-separated queues whose jobs this worker runs.",
)
@click.option("--once", is_flag=True, help="Stop when no job is left to run (for cron and tests) instead of waiting.")
@click.pass_obj
@handles_errors
def worker(state: State, queues: str, once: bool) -> None:
    """Run queued ingests and audits, one at a time, until stopped (SIGTERM: after the job it runs).

    Start one per core on each machine (systemd units: docs/deployment.md). Jobs whose worker died
    are put back on the queue by the others. Needs the catalog on PostgreSQL.
    """
    from archive.jobs.worker import QUEUES, run

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown or not names:
        raise click.UsageError(f"unknown queue {unknown[0] if unknown else '(none)'}; queues: {', '.join(QUEUES)}")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("procrastinate").setLevel(logging.WARNING)  # a job's arguments: thousands of ids
    render.err.print(f"archive worker on {', '.join(names)} for the archive at {state.ctx.where()}", markup=False)
    run(state.ctx, names, once)


@click.group()
def jobs() -> None:
    """Queued jobs: list, show, retry."""


@jobs.command("list")
@click.option(
    "--status",
    type=click.Choice(["todo", "doing", "succeeded", "failed", "cancelled", "aborted"]),
    help="Only jobs in this state.",
)
@click.option("--limit", type=click.IntRange(min=1, max=10_000), default=50, show_default=True)
@json_option
@click.pass_obj
@handles_errors
def list_jobs(state: State, status: str | None, limit: int, as_json: bool) -> None:
    """Jobs, newest first, with what each ended with. Exit status 1 when one listed has failed."""
    from archive.jobs.queue import jobs as queued
    from archive.jobs.queue import opened

    with opened(state.ctx.settings) as app:
        found = queued(app, status=status, limit=limit)
    if as_json:
        render.emit_json({"ok": True, "jobs": [j.as_dict() for j in found]})
    else:
        table = Table("id", "task", "status", "tries", "outcome")
        for j in found:
            table.add_row(str(j.id), j.task, j.status, str(j.attempts), (j.outcome or {}).get("summary", ""))
        render.out.print(table)
    if any(j.status == "failed" for j in found):
        sys.exit(1)


@jobs.command("show")
@click.argument("job_id", type=int)
@json_option
@click.pass_obj
@handles_errors
def show_job(state: State, job_id: int, as_json: bool) -> None:
    """One job: its task, arguments, state, tries and outcome."""
    from archive.jobs.queue import jobs as queued
    from archive.jobs.queue import opened

    with opened(state.ctx.settings) as app:
        found = queued(app, job_id=job_id, limit=1)
    if not found:
        raise NotFound(f"no job {job_id}")
    (job,) = found
    if as_json:
        render.emit_json({"ok": True, **job.as_dict()})
        return
    for key, value in job.as_dict().items():
        render.out.print(f"{key}: {value}", markup=False)


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.pass_obj
@handles_errors
def retry_job(state: State, job_id: int) -> None:
    """Put a failed job back on the queue, to run as soon as a worker is free."""
    from archive.jobs.queue import jobs as queued
    from archive.jobs.queue import opened

    with opened(state.ctx.settings) as app:
        found = queued(app, job_id=job_id, limit=1)
        if not found:
            raise NotFound(f"no job {job_id}")
        if found[0].status != "failed":
            raise click.UsageError(f"job {job_id} is {found[0].status}: only a failed job is retried")
        app.job_manager.retry_job_by_id(job_id, retry_at=None)
    render.err.print(f"job {job_id} queued again")

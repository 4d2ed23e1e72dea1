"""archive audit [PACKAGE_ID...|--all|--due] / audit report / repair / scheduler."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

import click
from rich.table import Table

from archive.cli import State, handles_errors, json_option, render
from archive.services.audit import report as audit_report
from archive.services.audit.run import AuditOptions, AuditResult, run_audit
from archive.services.audit.scheduler import run_scheduler


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and SIGINT ask the running audit to stop between files (then it records and exits)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class AuditGroup(click.Group):
    """``audit`` takes package ids itself, and also has the subcommand ``report``."""

    allow_interspersed_args = True

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            click.Command.parse_args(self, ctx, [])  # the group's own options take their defaults
            ctx._protected_args, ctx.args = [args[0]], list(args[1:])  # click's own split, as Group does
            return ctx.args
        return click.Command.parse_args(self, ctx, args)


def _print_findings(result: AuditResult) -> None:
    if not result.findings:
        return
    table = Table("code", "package", "copy", "path", "problem")
    for f in result.findings:
        table.add_row(f.code, f.package_id, f.copy, f.path or "-", f.message)
    render.out.print(table)


def _print_repairs(result: AuditResult) -> None:
    for r in result.repairs:
        for item in r.restored:
            render.out.print(
                f"repaired: {r.package_id} {item['copy']} {item['path']} (from {item['source']}, verified)"
            )
        for item in r.quarantined:
            render.out.print(f"removed: {r.package_id} {item['copy']} {item['path']} (unexpected; kept in .quarantine)")
        for item in r.unrepairable:
            render.out.print(
                f"[red]not repaired[/]: {r.package_id} {item['copy']} {item['path'] or '(package)'}: "
                f"{item['reason']}; nothing was changed for it"
            )


def _summary(result: AuditResult, home: str = "") -> str:
    s = result.summary()
    where = f" of the archive at {home}" if home else ""
    line = (
        f"audit run {s['id']} ({s['status']}){where}: {s['packages']} packages, {s['files']} files, "
        f"{render.human_bytes(s['bytes'])}: {s['failures']} failures, {s['unchecked']} could not be checked"
    )
    if s["repaired"]:
        line += f", {s['repaired']} files repaired"
    if result.stop_reason:
        line += f"; stopped: {result.stop_reason} (the next run resumes there)"
    return line


def _finish(result: AuditResult, as_json: bool, home: str = "") -> None:
    if as_json:
        render.emit_json({"ok": result.exit_status == 0, "home": home, **result.as_dict()})
    elif result.nothing_to_audit:
        where = f"the archive at {home}" if home else "the archive"
        render.out.print(f"nothing to audit: {where} holds no packages yet")
    else:
        _print_findings(result)
        _print_repairs(result)
        if result.findings or result.repairs or render.out.is_terminal:
            render.out.print(_summary(result, home))  # silent when clean under cron: cron mails only on trouble
    if result.exit_status:
        sys.exit(result.exit_status)


@click.group(cls=AuditGroup, invoke_without_command=True)
@click.argument("package_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Audit every package (unfinished passes first, then oldest).")
@click.option(
    "--due",
    is_flag=True,
    help="Audit packages whose last verification is older than their profile's fixity interval, oldest first.",
)
@click.option("--max-seconds", type=click.IntRange(min=1), help="Stop between files after this many seconds.")
@click.option("--max-bytes", type=click.IntRange(min=1), help="Stop between files after reading this many bytes.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1, max=64), help="Files hashed in parallel (default: setting audit_jobs)."
)
@click.option("--repair", is_flag=True, help="Repair damaged or missing files from a copy that verifies.")
@click.option(
    "--tier",
    type=click.Choice(["full", "cheap"]),
    help="Copies in object storage: full reads every byte back, cheap compares the server's SHA-256 of each "
    "object (default: setting object_audit_tier).",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Queue the audit for `archive worker` processes (PostgreSQL catalogs), in jobs of --batch packages.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=10_000),
    default=50,
    show_default=True,
    help="With --enqueue: packages per job.",
)
@json_option
@click.pass_context
@handles_errors
def audit(
    click_ctx: click.Context,
    package_ids: tuple[str, ...],
    all_: bool,
    due: bool,
    max_seconds: int | None,
    max_bytes: int | None,
    jobs: int | None,
    repair: bool,
    tier: str | None,
    enqueue: bool,
    batch: int,
    as_json: bool,
) -> None:
    """Check stored packages against the catalog's digests, every copy, every file read once.

    Give PACKAGE_IDs, --all or --due. Exit status: 0 all verified (or repaired), 1 at least one
    failure, 3 something could not be checked (storage unreachable, permission denied).
    Subcommand: `archive audit report`.
    """
    if click_ctx.invoked_subcommand:
        return
    if bool(package_ids) + all_ + due != 1:
        raise click.UsageError("give package identifiers, --all or --due (one of them)")
    state: State = click_ctx.obj
    if enqueue:
        from archive.jobs.enqueue import enqueue_audit

        given = [
            name for name, v in (("--tier", tier), ("--max-seconds", max_seconds), ("--max-bytes", max_bytes)) if v
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} and --enqueue: queued audits run whole, in the tier of the workers' setting "
                "object_audit_tier"
            )

        job_ids = enqueue_audit(state.ctx, list(package_ids), due, repair, batch)
        if as_json:
            render.emit_json({"ok": True, "jobs": job_ids})
        else:
            render.err.print(f"queued {len(job_ids)} audit job(s): `archive jobs list`")
        return
    if tier:  # this run's tier, recorded in each package's fixity event
        state.ctx.settings = replace(state.ctx.settings, object_audit_tier=tier)
    opts = AuditOptions(
        list(package_ids), all_, due, max_seconds, max_bytes, jobs or state.ctx.settings.audit_jobs, repair
    )
    with stop_on_signals() as stop, render.progress_bar(not as_json) as progress:
        result = run_audit(state.ctx, opts, progress, stop)
    _finish(result, as_json, str(state.ctx.settings.home))


@audit.command("report")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    help="Count verifications since DATE instead of within each profile's interval.",
)
@json_option
@click.pass_obj
@handles_errors
def report(state: State, since: datetime | None, as_json: bool) -> None:
    """Coverage per profile: files and bytes verified within their interval, oldest verification,
    packages never audited, open failures."""
    data = audit_report.coverage_report(state.ctx, since.date() if since else None)
    if as_json:
        render.emit_json({"ok": True, **data})
        return
    table = Table(
        "profile",
        "interval",
        "packages",
        "files verified",
        "bytes verified",
        "oldest verification",
        "never audited",
        "open failures",
    )
    for p in data["profiles"]:
        table.add_row(
            p["profile"],
            f"{p['interval_days']} d",
            str(p["packages"]),
            f"{p['covered_files']} / {p['files']}",
            f"{render.human_bytes(p['covered_bytes'])} / {render.human_bytes(p['bytes'])} ({p['covered_percent']}%)",
            (p["oldest_verification"] or "-")[:19],
            str(p["never_audited"]),
            str(p["open_failures"]),
        )
    render.out.print(table)
    t = data["totals"]
    render.out.print(
        f"verified {'since ' + data['since'][:10] if data['since'] else 'within interval'}: "
        f"{t['covered_files']} of {t['files']} files, {render.human_bytes(t['covered_bytes'])} of "
        f"{render.human_bytes(t['bytes'])} ({t['covered_percent']}%); {t['open_failures']} open "
        f"failure(s); {data['runs']['runs']} run(s) since {data['runs']['since'][:10]}"
    )
    for f in data["open_failures"]:
        render.out.print(
            f"[red]open failure[/]: {f['package']} ({f['profile']}): {f['findings']} finding(s) in run {f['run']}"
        )


@click.command()
@click.argument("package_id")
@json_option
@click.pass_obj
@handles_errors
def repair(state: State, package_id: str, as_json: bool) -> None:
    """Check every copy of PACKAGE_ID and replace damaged or missing files from a copy that verifies.

    Exit status 0 when every copy verifies afterwards; 1 when something could not be repaired
    (no good copy left: then nothing is changed for it); 3 when a copy could not be checked.
    """
    opts = AuditOptions([package_id], repair=True, jobs=state.ctx.settings.audit_jobs, selection="repair")
    with stop_on_signals() as stop:
        result = run_audit(state.ctx, opts, stop=stop)
    if not as_json and not result.findings:
        render.out.print(f"{package_id}: every copy verifies; nothing to repair")
    _finish(result, as_json, str(state.ctx.settings.home))


@click.command()
@click.option("--once", is_flag=True, help="One pass (run due audits if the window is open), then exit.")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=64), help="Default: setting audit_jobs.")
@click.option("--window", help="Override setting audit_window, e.g. 01:00-05:00.")
@click.option("--poll-seconds", type=click.IntRange(min=1), help="Override setting scheduler_poll_seconds.")
@click.option(
    "--enqueue",
    is_flag=True,
    help="Queue the due audits for `archive worker` processes (PostgreSQL catalogs) instead of running them.",
)
@click.pass_obj
@handles_errors
def scheduler(
    state: State, once: bool, jobs: int | None, window: str | None, poll_seconds: int | None, enqueue: bool
) -> None:
    """Run due audits within the configured window and budget until SIGTERM (a long-running service)."""

    def log(message: str) -> None:
        print(
            f"{datetime.now().astimezone():%Y-%m-%dT%H:%M:%S%z} archive-scheduler: {message}",
            file=sys.stderr,
            flush=True,
        )

    log(f"archive at {state.ctx.where()}")
    with stop_on_signals() as stop:
        run_scheduler(
            state.ctx, stop, log, once=once, jobs=jobs, window=window, poll_seconds=poll_seconds, enqueue=enqueue
        )

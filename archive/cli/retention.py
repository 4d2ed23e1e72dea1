"""archive retention report: what each package's retention schedules say, and what is due."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from datetime import date, datetime

import click
from rich.markup import escape
from rich.table import Table

from archive.batches import batched
from archive.cli import State, handles_errors, json_option, render
from archive.services.lifecycle.report import ReportRow, report
from archive.services.retrieve.packages import today_utc

#: rows per printed table: the report is streamed, never held whole
CHUNK = 500


@click.group()
def retention() -> None:
    """Retention schedules: when a package is due for review or disposal. Read-only."""


@retention.command("report")
@click.option("--due", "due_only", is_flag=True, help="Only schedules due on the day (today or --as-of) or earlier.")
@click.option("--profile", "-p", help="Only packages made under this profile.")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    help="Report as of DATE (YYYY-MM-DD) instead of today (UTC): what will be due by then.",
)
@json_option
@click.pass_obj
@handles_errors
def report_cmd(state: State, due_only: bool, profile: str | None, as_of: datetime | None, as_json: bool) -> None:
    """List packages with their retention schedules, due days and actions.

    One row per schedule of each package's profile: the day it starts from (ingest or a date
    field), the day it falls due, and the action then (review or dispose).

    This command never deletes or changes anything: disposal is a separate procedure carried
    out by two people. A package under a legal hold is marked "held: disposal blocked".
    """
    today = as_of.date() if as_of else today_utc()
    rows = report(state.ctx, today, profile=profile)
    first = next(rows, None)  # a catalog or profile error stops here, before anything is printed
    tally = Tally()
    stream = tally.shown(itertools.chain([first], rows) if first is not None else iter(()), due_only)
    if as_json:
        _emit_json(stream, tally, today, due_only, profile)
    else:
        _print_tables(stream, tally, today, due_only)


class Tally:
    """Counts of what was reported, and of what ``--due`` left out because it cannot be computed."""

    def __init__(self) -> None:
        self.rows = self.due = self.uncomputed = self.packages = 0
        self._last = ""  # rows come package by package: count a package when its id changes

    def shown(self, rows: Iterator[ReportRow], due_only: bool) -> Iterator[ReportRow]:
        for row in rows:
            self.uncomputed += row.uncomputed
            if due_only and not row.due_now:
                continue
            self.rows += 1
            self.due += row.due_now
            if row.info.id != self._last:
                self.packages += 1
                self._last = row.info.id
            yield row

    def as_dict(self) -> dict[str, int]:
        return {"count": self.rows, "due_count": self.due, "not_computed": self.uncomputed}


def _emit_json(rows: Iterator[ReportRow], tally: Tally, today: date, due_only: bool, profile: str | None) -> None:
    """One JSON document, written row by row."""
    head = {"ok": True, "as_of": today.isoformat(), "due_only": due_only, "profile": profile}
    out = sys.stdout
    out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [')
    for row in rows:
        out.write(("," if tally.rows > 1 else "") + "\n  " + json.dumps(row.as_dict(), ensure_ascii=False))
    tail = json.dumps(tally.as_dict())[1:]
    out.write(("\n" if tally.rows else "") + "], " + tail + "\n")


def _table(header: bool) -> Table:
    table = Table("id", "title", "profile", "schedule", "from", "due", "action", "note", show_header=header)
    table.columns[0].no_wrap = True
    table.columns[0].min_width = 36
    table.columns[1].overflow = "ellipsis"
    table.columns[1].no_wrap = True
    table.columns[1].max_width = 24
    table.columns[5].min_width = 10
    table.columns[7].min_width = 24
    return table


def _print_tables(rows: Iterator[ReportRow], tally: Tally, today: date, due_only: bool) -> None:
    printed = 0
    for chunk in batched(rows, CHUNK):
        table = _table(header=printed == 0)
        for row in chunk:
            d = row.due
            start = f"{d.schedule.start} {d.start.isoformat() if d.start else '(unknown)'}" if d else "-"
            due = (d.due.isoformat() + (" [bold]due[/]" if d.due_now else "")) if d and d.due else "-"
            table.add_row(
                row.info.id,
                escape(row.info.title),
                row.info.profile_id,
                escape(d.schedule.name) if d else "-",
                escape(start),
                due,
                d.action if d else "-",
                escape(row.note),
            )
        printed += len(chunk)
        render.out.print(table)
    what = "schedule(s) due" if due_only else "row(s)"
    line = f"{tally.rows} {what} of {tally.packages} package(s) as of {today.isoformat()}; {tally.due} due"
    if tally.uncomputed:
        line += f"; {tally.uncomputed} cannot be computed" + (" (run without --due to see why)" if due_only else "")
    render.out.print(line + ". Nothing was deleted.", markup=False)

"""Output for people (rich tables, progress on a terminal) and machines (--json)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from archive.errors import ArchiveError, Finding, RejectedError, error_document
from archive.formats import describe, guessed
from archive.model import FormatInfo

# Piped or logged output gets room for a full package id and a title (a terminal uses its own width).
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = Console(highlight=False, emoji=False, soft_wrap=True, width=_PIPE_WIDTH)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def findings(items: list[Finding], console: Console = err) -> None:
    for f in items:
        colour = "red" if f.is_error else "yellow"
        where = f"{escape(f.path)}: " if f.path else ""
        console.print(f"[{colour}]{f.severity}[/] [dim]{f.code}[/] {where}{escape(f.message)}", highlight=False)


def format_label(fmt: dict[str, Any] | FormatInfo | None) -> str:
    """A file's format as a person reads it; says when the PUID is only guessed from the extension."""
    if isinstance(fmt, dict):
        fmt = FormatInfo(**{k: v for k, v in fmt.items() if k in FormatInfo.__dataclass_fields__})
    return describe(fmt)


def guessed_note(files: list[Any]) -> str:
    """'2 file(s): format guessed from the extension only (counted as unidentified): a.jpg, b.tif' ('' if none)."""
    paths = [
        "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in f.path)  # names reach a terminal
        for f in files
        if f.format is not None and guessed(f.format)
    ]
    if not paths:
        return ""
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return f"{len(paths)} file(s): format guessed from the extension only (counted as unidentified): {shown}"


def error(exc: ArchiveError, as_json: bool) -> None:
    """``exc`` for a person on stderr, or with ``--json`` on stdout in the API's error shape."""
    if as_json:
        emit_json({"ok": False, **error_document(exc)})
        return
    if isinstance(exc, RejectedError):
        err.print(f"[bold red]{escape(exc.summary)}[/]")
        errors = [f for f in exc.findings if f.is_error]
        warnings = [f for f in exc.findings if not f.is_error]
        findings(errors + warnings)
        err.print(f"{len(errors)} error(s), {len(warnings)} warning(s); nothing was written.")
    else:
        err.print(f"[bold red]error[/] [dim]{exc.code}[/] {escape(exc.message)}")


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A callback ``(stage, done, total)`` that draws a progress bar on a terminal, else nothing."""
    if not enabled or not err.is_terminal:
        yield lambda stage, done, total: None
        return
    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        _Amount(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield update


class _Amount(ProgressColumn):
    """How far a task is (:func:`progress_amount`), its rate as measured when drawn."""

    def render(self, task: Task) -> Text:
        return Text(progress_amount(task.description, int(task.completed), int(task.total or 0), task.speed))


def progress_amount(stage: str, done: int, total: int, per_second: float | None) -> str:
    """How far a stage is, as the progress bar says it: files as ``done/total``, a stage of
    bytes (its name ends in " bytes") as sizes and the rate."""
    if not stage.endswith(" bytes"):
        return f"{done}/{total}"
    rate = f" {human_bytes(int(per_second))}/s" if per_second else ""
    return f"{human_bytes(done)}/{human_bytes(total)}{rate}"


def versions_table(versions: list[dict[str, Any]], title: str = "") -> Table:
    """A package's versions (``archive show --versions``, ``archive history``): who, when, why."""
    table = Table("version", "when", "kind", "by", "why", "files", "bytes", "access", title=title or None)
    for v in versions:
        table.add_row(
            str(v["version"]),
            v["created"],
            v["kind"],
            escape(v["agent"] or "-"),
            escape(v["reason"] or "-"),
            str(v["files"]),
            human_bytes(v["bytes"]),
            v["access_level"] + (" · held" if v["held"] else ""),
        )
    return table

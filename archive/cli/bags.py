"""archive bag validate."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from archive.cli import EXIT_REJECTED, handles_errors, json_option, render
from archive.packaging.bag.check import validate_bag


@click.group()
def bag() -> None:
    """Work with BagIt bags on disk."""


@bag.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--fast",
    is_flag=True,
    help="Check completeness, Payload-Oxum and the (small) tag files only, without hashing the payload.",
)
@json_option
@handles_errors
def validate_cmd(path: Path, fast: bool, as_json: bool) -> None:
    """Validate the BagIt bag at PATH (RFC 8493; versions 0.93 to 1.0). Never modifies it.

    Exit 0 when valid (warnings allowed), 1 when invalid.
    """
    report = validate_bag(path, fast=fast)
    if as_json:
        render.emit_json({"ok": report.valid, **report.as_dict()})
    else:
        verdict = "[green]valid[/]" if report.valid else "[red]invalid[/]"
        render.out.print(
            f"{verdict}: {escape(str(path))} (BagIt {report.version or '?'}; {report.payload_files} payload files, "
            f"{render.human_bytes(report.payload_bytes)}; {'fast check' if fast else 'full check'})"
        )
        render.findings(report.errors + report.warnings, render.out)
    if not report.valid:
        sys.exit(EXIT_REJECTED)

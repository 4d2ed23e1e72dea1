"""archive profiles list / show / export."""

from __future__ import annotations

import click
import yaml
from rich.markup import escape
from rich.table import Table

from archive.cli import State, handles_errors, json_option, render
from archive.profiles.bagit_profile import to_bagit_profile


@click.group()
def profiles() -> None:
    """The profiles that say what each kind of collection requires."""


@profiles.command("list")
@json_option
@click.pass_obj
@handles_errors
def list_cmd(state: State, as_json: bool) -> None:
    """List the available profiles."""
    items = state.ctx.profiles.all()
    if as_json:
        render.emit_json(
            {
                "ok": True,
                "profiles": [
                    {"id": p.id, "version": p.version, "title": p.title, "extends": list(p.extends), "source": p.source}
                    for p in items
                ],
            }
        )
        return
    table = Table("id", "version", "extends", "title", "fields", "access", "fixity every")
    for p in items:
        table.add_row(
            p.id,
            p.version,
            " → ".join(p.extends) or "-",
            escape(p.title),
            str(len(p.fields)),
            p.access.default,
            f"{p.fixity_interval_days} days",
        )
    render.out.print(table)


@profiles.command("show")
@click.argument("name")
@json_option
@click.pass_obj
@handles_errors
def show_cmd(state: State, name: str, as_json: bool) -> None:
    """Show profile NAME with everything it inherits, resolved."""
    p = state.ctx.profiles.get(name)
    if as_json:
        render.emit_json({"ok": True, **p.as_dict()})
        return
    render.out.print(yaml.safe_dump(p.as_dict(), sort_keys=False, allow_unicode=True, width=100), markup=False)


@profiles.command("export")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["bagit-profile", "json", "yaml"]),
    default="bagit-profile",
    show_default=True,
    help="bagit-profile: a BagIt-Profile 1.3.0 JSON document.",
)
@click.pass_obj
@handles_errors
def export_cmd(state: State, name: str, fmt: str) -> None:
    """Export profile NAME (default: as a BagIt-Profile 1.3.0 JSON document on stdout)."""
    p = state.ctx.profiles.get(name)
    if fmt == "bagit-profile":
        render.emit_json(to_bagit_profile(p, state.ctx.settings.organisation))
    elif fmt == "json":
        render.emit_json(p.as_dict())
    else:
        click.echo(yaml.safe_dump(p.as_dict(), sort_keys=False, allow_unicode=True))

"""The ``archive`` command. Thin: parse arguments, call a service, render.

Exit status: 0 success; 1 rejected or invalid input, failed check; 2 usage error; 3 could
not check or could not reach storage or catalog. An error's exit status comes from ONE table,
:data:`EXIT_STATUS` (kept in ``archive/errors.py`` beside the API's HTTP statuses); with
``--json`` the error is printed on stdout as ``{"ok": false, "error": {...}}``, the ``error``
object the API answers with (:func:`archive.errors.error_document`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape

from archive import __version__
from archive.cli import render
from archive.config import load_settings
from archive.errors import EXIT_STATUS as EXIT_STATUS  # the one exit-status table, beside the API's
from archive.errors import ArchiveError, exit_status
from archive.services.context import ArchiveContext

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


#: commands that first remove dead processes' staging folders (the cheap part of ``archive doctor``)
CLEAN_AT_START = frozenset({"ingest", "audit", "repair", "scheduler", "serve"})
#: what each command needs of the archive at home (a command not listed: REQUIRE)
CREATE, REQUIRE, STORAGE, NONE = "create", "require", "storage", "none"
ARCHIVE_USE = {
    "ingest": CREATE,  # the one command that makes a new archive (and says so)
    "reindex": STORAGE,
    "doctor": STORAGE,  # rebuild or settle a lost catalog: storage must be there
    "validate": NONE,
    "profiles": NONE,
    "bag": NONE,  # never touch an archive
}
#: commands that say on stderr which archive they write to (audit and repair put it in their summary,
#: so that a clean audit under cron stays silent; serve and the scheduler log it themselves)
ANNOUNCE_HOME = frozenset({"ingest", "doctor", "reindex"})


class State:
    def __init__(self, config: str | None, home: str | None, command: str | None = None) -> None:
        self.config = config
        self.home = home
        self.command = command or ""
        self._ctx: ArchiveContext | None = None
        self.clean_at_start = self.command in CLEAN_AT_START

    @property
    def ctx(self) -> ArchiveContext:
        """The archive the command works on: created only by ``ingest``, else it must exist already."""
        if self._ctx is None:
            ctx = ArchiveContext(load_settings(self.config, overrides={"home": self.home}))
            use = ARCHIVE_USE.get(self.command, REQUIRE)
            created = False
            try:
                if use == CREATE:
                    created = ctx.create_archive()
                elif use in (REQUIRE, STORAGE):
                    ctx.require_archive(storage=use == STORAGE)
            except BaseException:
                ctx.close()
                raise
            self._ctx = ctx
            current = click.get_current_context(silent=True)
            quiet = bool(current and current.params.get("as_json"))  # --json: stdout and stderr are for machines
            if created and not quiet:
                render.err.print(f"Created a new archive at {escape(ctx.where())}")
            elif self.command in ANNOUNCE_HOME and not quiet:
                render.err.print(f"archive home: {escape(ctx.where())}")
            if self.clean_at_start:
                from archive.services.recovery.doctor import clean_staging

                clean_staging(self._ctx)  # never raises for what it finds; `archive doctor` reports it
        return self._ctx

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ArchiveError into a message and an exit status; --json gets one JSON error shape."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiveError as exc:
            render.error(exc, bool(kwargs.get("as_json")))
            sys.exit(exit_status(exc))

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="archive")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    envvar="ARCHIVE_CONFIG",
    help="Settings file (YAML). Default: $ARCHIVE_CONFIG, else ./config/archive.yaml if present.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    help="The archive's home folder. Default: $ARCHIVE_HOME, else home: in the settings file, "
    "else ./var of the current folder.",
)
@click.pass_context
def main(click_ctx: click.Context, config: str | None, home: str | None) -> None:
    """archive: a digital preservation archive.

    Ingest submissions as BagIt bags carrying METS + PREMIS, identify formats (PRONOM),
    keep fixity, and list, show and export what is held.

    The archive lives in its home folder: --home, else $ARCHIVE_HOME, else home: in the
    settings file, else ./var of the current folder. Only `archive ingest` creates a new
    archive (and says where); the other commands that read or change an archive refuse a
    home that holds none (exit 2). validate, profiles and bag need no archive.
    """
    state = State(config, home, click_ctx.invoked_subcommand)
    click_ctx.obj = state
    click_ctx.call_on_close(state.close)


def _register() -> None:
    from archive.cli import (
        audit,
        bags,
        disposal,
        jobs,
        ledger,
        lifecycle,
        packages,
        profiles,
        recovery,
        retention,
        serve,
        tokens,
    )

    for command in (
        packages.ingest,
        packages.validate,
        packages.show,
        packages.list_,
        packages.export,
        lifecycle.amend,
        lifecycle.add,
        lifecycle.withdraw_files,
        lifecycle.access,
        lifecycle.hold,
        lifecycle.history,
        disposal.dispose,
        bags.bag,
        profiles.profiles,
        audit.audit,
        audit.repair,
        audit.scheduler,
        ledger.ledger,
        serve.serve,
        tokens.tokens,
        recovery.doctor,
        recovery.reindex,
        retention.retention,
        recovery.migrate_storage_command,
        jobs.worker,
        jobs.jobs,
    ):
        main.add_command(command)


_register()

"""Helpers for the crash, doctor, reindex and concurrency tests: an archive configured by a
settings file (so the command line and the test see the same archive), and running ``archive``
in a child process that a fault point may SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

from archive.config import Settings, load_settings
from archive.services.context import ArchiveContext
from archive.storage.local import STAGING

REPO = Path(__file__).resolve().parents[2]
ARCHIVE = str(Path(sys.executable).with_name("archive"))


def write_config(tmp: Path, database_url: str, replica: bool = True, **extra: object) -> Path:
    """A settings file for an archive under ``tmp``: one replica, one worker, orphans reported at once."""
    values: dict[str, object] = {
        "home": str(tmp / "home"),
        "database_url": f"'{database_url}'",
        "workers": 1,
        "orphan_grace_seconds": 0,
        **extra,
    }
    if replica:
        values["replicas"] = f"['{tmp / 'replica'}']"
    lines = [f"{k}: {v}" for k, v in values.items()]
    path = tmp / "archive.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def settings_of(config: Path) -> Settings:
    return load_settings(config, env={})


def context(config: Path) -> ArchiveContext:
    return ArchiveContext(settings_of(config))


def _child(argv: list[str], fault: str) -> None:
    for name in [k for k in os.environ if k.startswith("ARCHIVE_")]:
        del os.environ[name]
    os.environ["ARCHIVE_FAULT"] = fault
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from archive.cli import main

    try:
        main.main(argv, prog_name="archive", standalone_mode=True)
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    os._exit(0)


def run_forked(config: Path, args: list[str], fault: str, timeout: float = 120) -> int | None:
    """Run ``archive --config CONFIG ARGS`` in a forked child with ARCHIVE_FAULT=fault; its exit code
    (``-9``: killed by SIGKILL). A fork, not an exec: the child starts without re-importing everything
    (1-2 s each), runs the real command-line code, and dies as any process would."""
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(["--config", str(config), *args], fault))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():  # pragma: no cover - a hang is a failure, not a wait
        proc.kill()
        proc.join()
        raise AssertionError(f"archive {' '.join(args)} with ARCHIVE_FAULT={fault} did not finish in {timeout} s")
    return proc.exitcode


def run_cli(config: Path, *args: str, fault: str = "", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the installed ``archive`` command in a fresh process (exec)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    if fault:
        env["ARCHIVE_FAULT"] = fault
    return subprocess.run(
        [ARCHIVE, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def staging_entries(ctx: ArchiveContext) -> list[Path]:
    return [p for s in ctx.all_storage for p in ((s.root / STAGING).iterdir() if (s.root / STAGING).is_dir() else [])]

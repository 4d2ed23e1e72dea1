"""Operations: the scheduler (window, budget, SIGTERM in a real process), notifications on failing runs
only (webhook on 127.0.0.1, shell command), and the cron line and systemd units in docs/operations.md."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from archive.audit.window import parse_window
from archive.catalog.audits import Audits
from archive.cli import main
from archive.errors import ConfigError
from archive.services.audit.scheduler import SchedulerState, scheduler_pass
from archive.services.context import ArchiveContext
from archive.services.ledgering import verify_ledger
from tests.conftest import REPO, make_settings
from tests.support.audit import DAMAGE, audit, stored


def test_window_parsing_and_crossing_midnight() -> None:
    night = parse_window("22:00-04:00")
    assert night.seconds_left(datetime(2026, 1, 1, 23, 0)) == 5 * 3600
    assert night.seconds_left(datetime(2026, 1, 2, 3, 30)) == 1800
    assert night.seconds_left(datetime(2026, 1, 2, 12, 0)) is None
    assert night.opened_at(datetime(2026, 1, 2, 3, 30)) == datetime(2026, 1, 1, 22, 0)
    assert parse_window("").seconds_left(datetime(2026, 1, 1)) == float("inf")
    for bad in ("1am-5am", "01:00-01:00", "25:00-01:00"):
        with pytest.raises(ConfigError):
            parse_window(bad)


def _age_everything(ctx: ArchiveContext, days: int = 400) -> None:
    engine = create_engine(ctx.settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE packages SET created_at = :t"), {"t": datetime(2020, 1, 1)})
    engine.dispose()
    assert days


def test_scheduler_pass_respects_window_and_byte_budget(sqlite_ctx, copy_fixture) -> None:
    ctx = ArchiveContext(make_settings(sqlite_ctx.settings.home, audit_max_bytes=3000))
    stored(ctx, copy_fixture)
    _age_everything(ctx)
    logs: list[str] = []
    state, stop = SchedulerState(), threading.Event()
    closed = parse_window("01:00-02:00")
    assert scheduler_pass(ctx, closed, state, stop, logs.append, 1, lambda: datetime(2026, 1, 1, 12, 0)) is None
    always = parse_window("")
    first = scheduler_pass(ctx, always, state, stop, logs.append, 1)
    assert first is not None and first.status == "budget" and first.selection == "scheduler"
    assert scheduler_pass(ctx, always, state, stop, logs.append, 1) is None  # this window's bytes are spent
    assert any("audit run starting" in line for line in logs)
    ctx.close()


def test_scheduler_once_from_the_cli(tmp_path: Path, copy_fixture) -> None:
    env = {"ARCHIVE_HOME": str(tmp_path / "home"), "ARCHIVE_WORKERS": "1"}
    runner = CliRunner()
    runner.invoke(main, ["ingest", str(copy_fixture("submissions/legal-minimal")), "-p", "legal"], env=env)
    result = runner.invoke(main, ["scheduler", "--once", "--window", ""], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "scheduler stopped after 1 run(s)" in result.stderr


SLOW_SCHEDULER = """
import sys, time
import archive.audit.check as check
real = check.check_file
def slow(bag, entry, *more):
    time.sleep(0.25)
    return real(bag, entry, *more)
check.check_file = slow
from archive.cli import main
main(["scheduler", "--poll-seconds", "1"])
"""


def test_sigterm_stops_the_scheduler_cleanly_between_files(tmp_path: Path, copy_fixture) -> None:
    home = tmp_path / "home"
    ctx = ArchiveContext(make_settings(home))
    pid = stored(ctx, copy_fixture)
    _age_everything(ctx)
    env = {**os.environ, "ARCHIVE_HOME": str(home), "ARCHIVE_WORKERS": "1"}
    env.pop("ARCHIVE_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SCHEDULER], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        for line in proc.stderr:
            if "audit run starting" in line or time.monotonic() > deadline:
                break
        time.sleep(1.0)  # a few files into the package's 10
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    assert "interrupted" in rest and "scheduler stopped" in rest
    audits = Audits(ctx.catalog)
    (run,) = audits.list_runs()
    assert run.status == "interrupted" and run.finished_at is not None and 0 < run.files < 10
    state = audits.state(pid)
    assert state.cursor is not None and state.checked_at is None  # resumes there next time
    assert verify_ledger(ctx).ok
    assert audit(ctx, due=True).files == 10 - run.files  # the next run finishes the pass, nothing re-read
    ctx.close()


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_failing_runs_notify_the_webhook_and_the_command_once_clean_runs_never(tmp_path: Path, copy_fixture) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    out = tmp_path / "notified.json"
    try:
        ctx = ArchiveContext(
            make_settings(
                tmp_path / "home",
                notify_webhook=f"http://127.0.0.1:{server.server_port}/",
                notify_command=f"cat > {shlex.quote(str(out))}",
            )
        )
        pid = stored(ctx, copy_fixture)
        clean = audit(ctx, all=True)
        assert clean.notified == "" and _Hook.received == [] and not out.exists()
        DAMAGE["truncated"][0](ctx.storage.original_bag(pid))
        failing = audit(ctx, all=True)
        assert failing.notified == "webhook 204; command ok"
        assert len(_Hook.received) == 1 and _Hook.received[0]["type"] == "application/json"
        body = _Hook.received[0]["body"]
        assert body["run"]["id"] == failing.run_id and body["run"]["outcome"] == "failure"
        assert [(f["kind"], f["path"]) for f in body["findings"]] == [("truncated", "data/finding-aid.pdf")]
        assert json.loads(out.read_text())["run"]["id"] == failing.run_id
        assert Audits(ctx.catalog).get_run(failing.run_id).notified == failing.notified
        ctx.close()
    finally:
        server.shutdown()
        server.server_close()


def test_a_broken_webhook_does_not_hide_the_result(tmp_path: Path, copy_fixture) -> None:
    ctx = ArchiveContext(make_settings(tmp_path / "home", notify_webhook="http://127.0.0.1:9/nothing-listens"))
    pid = stored(ctx, copy_fixture)
    (ctx.storage.original_bag(pid) / "data" / "finding-aid.pdf").unlink()
    result = audit(ctx, all=True)
    assert result.exit_status == 1 and result.notified.startswith("webhook failed")
    ctx.close()


# -- the documented cron line and systemd units ---------------------------------------------------
OPERATIONS = REPO / "docs" / "operations.md"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*$")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", OPERATIONS.read_text(), re.S)


def _archive_args(command: str, config: Path) -> list[str]:
    words = shlex.split(command)
    assert Path(words[0]).name == "archive", command
    args = words[1:]
    if "--config" in args:
        args[args.index("--config") + 1] = str(config)
    return args


def test_documented_cron_line_and_systemd_units_work(tmp_path: Path, copy_fixture) -> None:
    config = tmp_path / "archive.yaml"
    config.write_text(f"home: {tmp_path / 'home'}\nworkers: 1\n")
    runner = CliRunner()
    runner.invoke(
        main,
        ["--config", str(config), "ingest", str(copy_fixture("submissions/legal-minimal")), "-p", "legal"],
        catch_exceptions=False,
    )
    (cron,) = _blocks("cron")
    lines = [line for line in cron.splitlines() if line.strip() and not line.startswith(("#", "MAILTO", "PATH"))]
    assert lines
    for line in lines:
        fields = line.split(None, 5)
        assert all(CRON_FIELD.match(f) for f in fields[:5]), line
        result = runner.invoke(main, _archive_args(fields[5], config), catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
    units = {}
    for block in _blocks("ini"):
        name = re.search(r"^# (\S+\.(?:service|timer))", block, re.M).group(1)
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(block)
        units[name] = parser
    assert {"archive-audit.service", "archive-audit.timer", "archive-scheduler.service"} <= set(units)
    timer = units["archive-audit.timer"]
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"]], capture_output=True)
        assert check.returncode == 0, check.stderr
    assert units["archive-audit.service"]["Service"]["Type"] == "oneshot"
    assert units["archive-scheduler.service"]["Service"]["KillSignal"] == "SIGTERM"
    once = runner.invoke(
        main, _archive_args(units["archive-audit.service"]["Service"]["ExecStart"], config), catch_exceptions=False
    )
    assert once.exit_code == 0, once.output
    scheduler = _archive_args(units["archive-scheduler.service"]["Service"]["ExecStart"], config)
    assert "scheduler" in scheduler
    assert runner.invoke(main, [*scheduler, "--once"], catch_exceptions=False).exit_code == 0

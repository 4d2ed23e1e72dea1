"""Concurrency: the same submission ingested by two processes at the same moment makes one package;
four ingests, an audit loop and API downloads for a minute on SQLite lose and duplicate nothing."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from archive.catalog.repository import Catalog
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from archive.services.recovery.doctor import run_doctor
from archive.services.retrieve import tokens
from tests.support.crash import ARCHIVE, context, run_cli, staging_entries, write_config

SUB = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"


def _racer(config: Path, barrier: Any, out: Path) -> None:
    """A child that ingests SUB, waiting after its duplicate check until the other has checked too."""
    for name in [k for k in os.environ if k.startswith("ARCHIVE_")]:
        del os.environ[name]
    original, waited = Catalog.find_by_key, []

    def find_by_key(self: Catalog, key: str) -> str | None:
        found = original(self, key)
        if not waited:
            waited.append(True)
            barrier.wait(60)  # both processes have looked, neither has stored: the race is on
        return found

    Catalog.find_by_key = find_by_key  # type: ignore[method-assign]
    sys.stdout = open(out, "w", encoding="utf-8")  # noqa: SIM115 - the child ends with os._exit
    from archive.cli import main

    code = 0
    try:
        main.main(["--config", str(config), "ingest", str(SUB), "-p", "heritage", "--json"], prog_name="archive")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    os._exit(code)


def test_two_processes_ingesting_the_same_submission_at_once_make_one_package(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path, database_url)
    with context(config) as ctx:
        ctx.catalog.ping()  # schema created before the race
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(2)
    procs = [mp.Process(target=_racer, args=(config, barrier, tmp_path / f"out{i}.json")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    results = [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)]
    assert sorted(r["created"] for r in results) == [False, True]  # one made it, the other got it back
    assert results[0]["id"] == results[1]["id"]
    with context(config) as ctx:
        assert ctx.catalog.package_ids() == [results[0]["id"]]
        for storage in ctx.all_storage:  # the loser's stored copy was rolled back everywhere
            assert list(storage.iter_package_ids()) == [results[0]["id"]]
        assert staging_entries(ctx) == []
        withdrawn = [line for _, line in ctx.ledger.lines() if '"kind":"withdrawn"' in line]
        assert len(withdrawn) == 1  # the loser's ledger entries are closed
        assert run_doctor(ctx).exit_status == 0
        assert verify_ledger(ctx).ok and run_audit(ctx, AuditOptions(all=True)).exit_status == 0


def test_lost_race_in_one_process_returns_the_existing_package(ctx, copy_fixture, monkeypatch) -> None:
    sub = copy_fixture("submissions/legal-minimal")
    first = ingest(ctx, sub, "legal")
    real, calls = ctx.catalog.find_by_key, []

    def checked_too_early(key: str) -> str | None:  # the first look happened before `first` committed
        calls.append(key)
        return None if len(calls) == 1 else real(key)

    monkeypatch.setattr(ctx.catalog, "find_by_key", checked_too_early)
    second = ingest(ctx, sub, "legal")
    monkeypatch.undo()
    assert second.package_id == first.package_id and not second.created
    assert ctx.catalog.count_packages() == 1 and list(ctx.storage.iter_package_ids()) == [first.package_id]
    assert staging_entries(ctx) == []


# -- a minute of everything at once ----------------------------------------------------------

SECONDS = 60
DISTINCT = 8


def _submissions(tmp: Path) -> list[Path]:
    out = []
    for i in range(DISTINCT):
        dest = tmp / "subs" / f"sub-{i}"
        shutil.copytree(SUB, dest)
        meta = dest / "metadata.yaml"
        meta.write_text(meta.read_text().replace("title: ", f"title: (copy {i}) ", 1))
        out.append(dest)
    return out


def _loop(deadline: float, runs: list[dict[str, Any]], argv_of: Any, config: Path) -> None:
    i = 0
    while time.monotonic() < deadline:
        argv = argv_of(i)
        done = run_cli(config, *argv)
        runs.append({"argv": argv, "rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr})
        i += 1


def _downloads(base: str, token: str, deadline: float, seen: dict[str, int], errors: list[str]) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while time.monotonic() < deadline:
            try:
                listing = client.get("/packages", params={"limit": 200})
                if listing.status_code != 200:
                    errors.append(f"/packages: {listing.status_code} {listing.text[:300]}")
                    continue
                for pkg in listing.json()["packages"]:
                    files = client.get(f"/packages/{pkg['id']}/files")
                    if files.status_code != 200:
                        errors.append(f"files of {pkg['id']}: {files.status_code} {files.text[:300]}")
                        continue
                    for f in files.json()["files"]:
                        got = client.get(f["href"])
                        if got.status_code != 200 or hashlib.sha256(got.content).hexdigest() != f["digests"]["sha256"]:
                            errors.append(f"{f['href']}: {got.status_code} {got.text[:300]}")
                        seen["files"] = seen.get("files", 0) + 1
            except httpx.HTTPError as exc:
                errors.append(f"transport: {exc!r}")
            time.sleep(0.2)


def _serve(config: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    with open(tmp / "serve.log", "wb") as log:  # the server keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [ARCHIVE, "--config", str(config), "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError((tmp / "serve.log").read_text(errors="replace"))


@pytest.mark.slow
def test_four_ingests_an_audit_and_downloads_for_a_minute_on_sqlite(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite3'}", orphan_grace_seconds=3600)
    subs = _submissions(tmp_path)
    with context(config) as ctx:
        _, token = tokens.create(ctx, "concurrency test", "archivist")
        ctx.storage.ensure()
    server, base = _serve(config, tmp_path)
    deadline = time.monotonic() + SECONDS
    orders = [
        lambda i: subs[i % DISTINCT],
        lambda i: subs[i % DISTINCT],  # two loops in step: the same at once
        lambda i: subs[-1 - i % DISTINCT],
        lambda i: subs[(i + DISTINCT // 2) % DISTINCT],
    ]
    ingests: list[list[dict[str, Any]]] = [[] for _ in orders]
    audits: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=_loop,
            args=(deadline, runs, lambda i, o=order: ["ingest", str(o(i)), "-p", "heritage", "--json"], config),
        )
        for runs, order in zip(ingests, orders, strict=False)
    ]
    threads.append(threading.Thread(target=_loop, args=(deadline, audits, lambda i: ["audit", "--all"], config)))
    threads.append(threading.Thread(target=_downloads, args=(base, token, deadline, seen, errors)))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    runs = [r for loop in ingests for r in loop] + audits
    assert all(r["rc"] == 0 for r in runs), [r for r in runs if r["rc"] != 0][:3]
    server_log = (tmp_path / "serve.log").read_text(errors="replace")
    for text in [r["stderr"] for r in runs] + [server_log]:
        assert "database is locked" not in text.lower() and "Traceback" not in text, text[-2000:]
    assert errors == [] and seen.get("files", 0) > 0, errors[:5]
    by_submission: dict[str, set[str]] = {}
    for r in (r for loop in ingests for r in loop):
        by_submission.setdefault(r["argv"][1], set()).add(json.loads(r["stdout"])["id"])
    assert all(len(ids) == 1 for ids in by_submission.values()), by_submission  # never a duplicate
    expected = sorted(i for ids in by_submission.values() for i in ids)
    assert len(ingests[0]) >= 2 and len(audits) >= 2
    with context(config) as ctx:
        assert sorted(ctx.catalog.package_ids()) == expected  # nothing lost, nothing extra
        for storage in ctx.all_storage:
            assert sorted(storage.iter_package_ids()) == expected
        assert staging_entries(ctx) == []
        lost_races = sum(1 for _, line in ctx.ledger.lines() if '"kind":"withdrawn"' in line)
    created = sum(json.loads(r["stdout"])["created"] for loop in ingests for r in loop)
    print(
        f"\n{sum(map(len, ingests))} ingests ({created} created, {lost_races} lost a race and returned the "
        f"winner's package), {len(audits)} audits, {seen['files']} files downloaded"
    )
    final = run_cli(config, "audit", "--all")
    assert final.returncode == 0, final.stdout + final.stderr
    doctor = run_cli(config, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    assert run_cli(config, "ledger", "verify").returncode == 0

"""Audit throughput with 1, 2 and 4 queue workers against the same storage, in the same run.

    python bench/workers.py [--database postgresql://postgres@127.0.0.1:5432/postgres]
                            [--packages 40] [--files 50] [--mb 40] [--workers 1,2,4] [--keep]

Builds one archive whose catalog is a fresh schema of the PostgreSQL database given (dropped
afterwards unless --keep) and whose storage is a temporary folder: ``--packages`` packages of
``--files`` files, ``--mb`` MB in all (files made as bench/audit.py makes them). Then, each
measurement on warm files (one untimed audit first):

  * baseline: ``archive audit --all`` in one process, no queue (``--jobs 1``);
  * for each count N of ``--workers``: ``archive audit --all --enqueue`` (jobs of 5 packages),
    then N ``archive worker --once`` processes started together; the time until the last one
    exits (the queue drained), and every job checked to have succeeded.

Prints packages/s and MB/s of each, and each N's ratio to 1 worker and to the baseline. On a
machine of C cores, ratios above 1 stop growing near N = C: hashing is CPU-bound on warm files.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.audit import StubIdentifier, write_files

ARCHIVE = str(Path(sys.executable).with_name("archive"))


def _config(work: Path, url: str) -> Path:
    path = work / "archive.yaml"
    path.write_text(f"home: {work / 'home'}\ndatabase_url: '{url}'\nworkers: 2\njob_heartbeat_seconds: 2\n")
    return path


def _build(config: Path, work: Path, packages: int, files: int, total: int) -> None:
    from archive.config import load_settings
    from archive.services.context import ArchiveContext
    from archive.services.ingest.run import ingest

    ctx = ArchiveContext(load_settings(config, env={}, overrides={"verify_after_store": False}))
    ctx.__dict__["identifier"] = StubIdentifier()
    block = os.urandom(4 * 1024 * 1024)
    for p in range(packages):
        sub = work / f"sub{p}"
        write_files(sub, files, total // packages, block, f"package {p}")
        ingest(ctx, sub, "research")
        shutil.rmtree(sub)
    ctx.close()


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    done = subprocess.run([ARCHIVE, "--config", str(config), *args], capture_output=True, text=True, env=env)
    if done.returncode not in (0,):
        raise SystemExit(f"archive {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def _baseline(config: Path) -> float:
    t0 = time.perf_counter()
    _cli(config, "audit", "--all", "--jobs", "1")
    return time.perf_counter() - t0


def _with_workers(config: Path, n: int) -> float:
    _cli(config, "audit", "--all", "--enqueue", "--batch", "5")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [ARCHIVE, "--config", str(config), "worker", "--once", "--queues", "audit"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    for p in procs:
        p.wait()
    seconds = time.perf_counter() - t0
    jobs = json.loads(_cli(config, "jobs", "list", "--json", "--limit", "10000").stdout)["jobs"]
    bad = [j for j in jobs if j["status"] != "succeeded"]
    if bad:
        raise SystemExit(f"{len(bad)} job(s) did not succeed: {bad[0]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--database",
        default=os.environ.get("ARCHIVE_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    ap.add_argument("--packages", type=int, default=40)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--mb", type=int, default=400)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.database.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in args.database else "?"
    url = f"{args.database}{sep}options=-csearch_path%3D{schema}"
    work = Path(tempfile.mkdtemp(prefix="archive-bench-workers-"))
    try:
        config = _config(work, url)
        t0 = time.perf_counter()
        _build(config, work, args.packages, args.files, args.mb * 1024 * 1024)
        print(f"built {args.packages} packages x {args.files} files, {args.mb} MB in {time.perf_counter() - t0:.1f} s")
        _baseline(config)  # warm the files and the catalog
        base = _baseline(config)
        rows = [("audit --all (no queue)", base)]
        counts = [int(n) for n in args.workers.split(",")]
        timed = {n: _with_workers(config, n) for n in counts}
        rows += [(f"{n} worker(s)", timed[n]) for n in counts]
        print(f"{'':24} {'seconds':>8} {'packages/s':>11} {'MB/s':>7} {'vs 1 worker':>12} {'vs no queue':>12}")
        one = timed.get(1, base)
        for name, seconds in rows:
            print(
                f"{name:24} {seconds:8.2f} {args.packages / seconds:11.1f} {args.mb / seconds:7.1f} "
                f"{one / seconds:11.2f}x {base / seconds:11.2f}x"
            )
        print(f"cores: {os.cpu_count()}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()

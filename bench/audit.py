"""Audit throughput against Python's hashlib over the same files, in the same run.

    python bench/audit.py [--gb 2] [--small 20000] [--large 4] [--packages 20] [--workdir DIR] [--keep]

Builds two archives in a temporary folder under /tmp (removed afterwards unless --keep):
(a) ``--gb`` stored as ``--large`` large files in one package, (b) the same volume as ``--small``
files spread over ``--packages`` packages. Data is a repeated random block with a per-file
header (fast to make; hashing speed does not depend on content). Ingest runs with a stub format
identifier and without read-back (not what is measured). Then, for each archive, as separate
processes so that each reports its own peak RSS:

  * hashlib: sha256 + sha512 in one pass (4 MiB reads) over every stored file the audit reads
    (payload and tag files), one thread, then two threads;
  * ``archive audit --all --jobs 1`` and ``--jobs 2``: the real thing (catalog, ledger, events).

Every measurement reads warm files (one untimed read first), so the figures compare hashing and
bookkeeping, not the disk. Prints MB/s, files/s, peak RSS and the ratios. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHUNK = 4 * 1024 * 1024
METADATA = "title: Audit benchmark\nlicence: CC0-1.0\ncreators:\n  - name: Bench, Mark\n"


def write_files(root: Path, count: int, total: int, block: bytes, tag: str) -> None:
    size = total // count
    data = root / "data"
    data.mkdir(parents=True)
    for i in range(count):
        with open(data / f"f{i:06d}.bin", "wb") as fh:
            fh.write(f"{tag} file {i}\n".encode())  # every file (and package) unique
            left = size
            while left > 0:
                n = min(left, len(block))
                fh.write(block[:n])
                left -= n
    (root / "metadata.yaml").write_text(METADATA)


class StubIdentifier:
    """Formats are not what this bench measures: answer 'unidentified' instantly."""

    tool, tool_version, signature_version = "stub", "0", "none"

    def identify_many(self, items, progress=None, total=0):  # type: ignore[no-untyped-def]
        from archive.model import FormatInfo

        return [FormatInfo(puid=None, basis="none", tool="stub") for _ in items]

    def close(self) -> None:
        pass


def build(home: Path, work: Path, files: int, packages: int, total: int) -> None:
    from archive.config import load_settings
    from archive.services.context import ArchiveContext
    from archive.services.ingest.run import ingest

    ctx = ArchiveContext(
        load_settings(None, env={}, overrides={"home": str(home), "verify_after_store": False, "workers": 2})
    )
    ctx.__dict__["identifier"] = StubIdentifier()
    block = os.urandom(CHUNK)
    per = files // packages
    for p in range(packages):
        sub = work / f"sub{p}"
        write_files(sub, per, total // packages, block, f"package {p}")
        ingest(ctx, sub, "research")
        shutil.rmtree(sub)
    ctx.close()


def stored_files(home: Path) -> list[Path]:
    out = []
    for dirpath, _dirs, names in os.walk(home / "storage"):
        if "/." in dirpath or dirpath.endswith("/ledger") or dirpath == str(home / "storage"):
            continue
        out.extend(Path(dirpath) / n for n in names)
    return sorted(p for p in out if len(p.relative_to(home / "storage").parts) >= 4)


_local = threading.local()


def hash_one(path: Path) -> int:
    """sha256 + sha512 in one read pass, one reused 4 MiB buffer per thread: the plain-hashlib limit."""
    h1, h2 = hashlib.sha256(), hashlib.sha512()
    if not hasattr(_local, "buf"):
        _local.buf = bytearray(CHUNK)
    buf = _local.buf
    view = memoryview(buf)
    n_total = 0
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h1.update(view[:n])
            h2.update(view[:n])
            n_total += n
    return n_total


def child_hashlib(home: Path, jobs: int) -> dict[str, float]:
    files = stored_files(home)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        nbytes = sum(pool.map(hash_one, files))
    return {"seconds": time.perf_counter() - t0, "bytes": nbytes, "files": len(files)}


def child_audit(home: Path, jobs: int) -> dict[str, float]:
    from archive.config import load_settings
    from archive.services.audit.run import AuditOptions, run_audit
    from archive.services.context import ArchiveContext

    ctx = ArchiveContext(load_settings(None, env={}, overrides={"home": str(home)}))
    ctx.catalog.ping()
    t0 = time.perf_counter()
    result = run_audit(ctx, AuditOptions(all=True, jobs=jobs))
    seconds = time.perf_counter() - t0
    assert result.exit_status == 0, result.summary()
    ctx.close()
    return {"seconds": seconds, "bytes": result.bytes, "files": result.files}


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would include the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, home: Path, jobs: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(home), str(jobs)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, home: Path) -> None:
    for f in stored_files(home):  # warm the page cache, untimed
        with open(f, "rb") as fh:
            while fh.read(CHUNK):
                pass
    rows = {}
    for kind in ("hashlib", "audit"):
        for jobs in (1, 2):
            rows[(kind, jobs)] = measure(kind, home, jobs)
    print(f"\n== {label}")
    print(f"   {'':22} {'MB/s':>8} {'files/s':>9} {'seconds':>8} {'peak RSS':>9}  ratio to hashlib (same jobs)")
    for (kind, jobs), r in rows.items():
        mbs = r["bytes"] / r["seconds"] / 1e6
        ratio = ""
        if kind == "audit":
            base = rows[("hashlib", jobs)]
            ratio = f"{(r['bytes'] / r['seconds']) / (base['bytes'] / base['seconds']):.2f}x"
        name = f"{kind} --jobs {jobs}"
        print(
            f"   {name:22} {mbs:8.0f} {r['files'] / r['seconds']:9.0f} {r['seconds']:8.2f} "
            f"{r['maxrss_mb']:7.0f} MB  {ratio}"
        )
    a1, a2 = rows[("audit", 1)], rows[("audit", 2)]
    h1 = rows[("hashlib", 1)]
    print(
        f"   audit --jobs 2 / --jobs 1: {a1['seconds'] / a2['seconds']:.2f}x;  "
        f"audit --jobs 1 / hashlib 1 thread: {h1['seconds'] / a1['seconds']:.2f}x;  "
        f"{a1['files']} files, {a1['bytes'] / 1e9:.2f} GB read per audit"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, home, jobs = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
        result = (child_hashlib if kind == "hashlib" else child_audit)(home, jobs)
        result["maxrss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=4)
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    total = int(args.gb * 1e9)
    work = Path(tempfile.mkdtemp(prefix="archive-bench-audit-", dir=args.workdir))
    print(f"workdir {work}; {os.cpu_count()} cores; {args.gb} GB per archive")
    try:
        for label, files, packages in (
            (f"(a) {args.large} large files", args.large, 1),
            (f"(b) {args.small} small files in {args.packages} packages", args.small, args.packages),
        ):
            home = work / label.split()[0].strip("()")
            t0 = time.perf_counter()
            build(home, work, files, packages, total)
            print(f"\nbuilt {label} in {time.perf_counter() - t0:.0f} s")
            report(label, home)
            if not args.keep:
                shutil.rmtree(home)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

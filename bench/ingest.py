"""Ingest throughput against baselines measured in the same run, on the same files.

    python bench/ingest.py [--small N] [--large N] [--large-mb MB] [--engine fido|siegfried|both]
                           [--workdir DIR] [--keep] [--scale K]

Scenarios: (a) many small files (default 10,000 x 10 KB, a mix of CSV, PDF-, PNG-headed and
unidentifiable content, every file unique); (b) a few large files (default 4 x 256 MB).
For each it runs, as separate processes:
  * ``archive ingest`` into a fresh archive (SQLite catalog, local storage): the real thing,
    including identification, METS, read-back verification and cataloguing;
  * ``bagit.py --processes 2 --sha256 --sha512`` making a bag of a copy of the same files;
  * Python's hashlib computing sha256 + sha512 in one pass over the same files.
and prints files/s, MB/s, peak RSS and the ratios. Nothing here is a test: it only reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
METADATA = """title: Benchmark dataset
licence: CC0-1.0
creators:
  - name: Bench, Mark
"""


def make_small(root: Path, count: int, size: int) -> None:
    data = root / "data"
    for i in range(count):
        folder = data / f"{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 4
        body = os.urandom(size)
        if kind == 0:
            name, content = (
                f"table-{i}.csv",
                ("id,value\n" + "\n".join(f"{j},{b}" for j, b in enumerate(body[: size // 8]))).encode()[:size],
            )
        elif kind == 1:
            name, content = f"doc-{i}.pdf", b"%PDF-1.4\n" + body[: size - 20] + b"\n%%EOF\n"
        elif kind == 2:
            name, content = f"img-{i}.png", b"\x89PNG\r\n\x1a\n" + body[: size - 8]
        else:
            name, content = f"blob-{i}.bin", body
        (folder / name).write_bytes(content)
    (root / "metadata.yaml").write_text(METADATA)


def make_large(root: Path, count: int, megabytes: int) -> None:
    data = root / "data"
    data.mkdir(parents=True)
    block = os.urandom(8 * 1024 * 1024)
    for i in range(count):
        with open(data / f"scan-{i}.raw", "wb") as fh:
            written = 0
            while written < megabytes * 1024 * 1024:
                # vary each block so no two files or blocks are alike
                fh.write(hashlib.sha256(f"{i}-{written}".encode()).digest() + block[32:])
                written += len(block)
    (root / "metadata.yaml").write_text(METADATA)


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def drop_caches() -> None:
    """Best effort: write back dirty pages so every contender starts from the same state."""
    os.sync()


#: runs a command as its only child and writes two peaks (KiB) to a file: that child's largest
#: process (RUSAGE_CHILDREN: the benchmark's own would give the largest of every child it ran so
#: far) and its whole process tree: the proportional set size (PSS: a page shared by n processes
#: counts 1/n in each) of the command and every process it started, summed, sampled every 20 ms,
#: so an ingest's worker processes count, and the libraries they share count once
PEAK_SNIPPET = """
import os, resource, subprocess, sys, time

def tree_pss(root):
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                parents[int(pid)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    family, grew = {root}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total = 0
    for pid in family:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total

proc = subprocess.Popen(sys.argv[2:])
tree = 0
while proc.poll() is None:
    tree = max(tree, tree_pss(proc.pid))
    time.sleep(0.02)
largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"{largest} {tree}")
sys.exit(proc.returncode)
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, str]:
    """Wall time, peak RSS (KiB) of the command's largest process, peak PSS of its whole process
    tree, and its stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak_file:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", PEAK_SNIPPET, peak_file.name, *cmd], capture_output=True, text=True, env=env
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(
                f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
            )
        largest, tree = (int(n) for n in (Path(peak_file.name).read_text() or "0 0").split())
    return elapsed, largest, tree, proc.stdout


HASH_SNIPPET = """
import hashlib, os, sys
root = sys.argv[1]
buf = bytearray(1024 * 1024); view = memoryview(buf)
for d, _, names in os.walk(root):
    for n in names:
        a, b = hashlib.sha256(), hashlib.sha512()
        with open(os.path.join(d, n), 'rb', buffering=0) as fh:
            while True:
                k = fh.readinto(view)
                if not k: break
                a.update(view[:k]); b.update(view[:k])
"""


def bench(label: str, source: Path, work: Path, engines: list[str]) -> list[dict[str, object]]:
    files, size = tree_size(source / "data")
    mb = size / 1e6
    rows: list[dict[str, object]] = []
    drop_caches()
    t_hash, _, _, _ = run([sys.executable, "-c", HASH_SNIPPET, str(source / "data")])
    copy = work / "bagit-copy"
    shutil.copytree(source / "data", copy)
    drop_caches()
    t_bagit, _, _, _ = run([str(BIN / "bagit.py"), "--processes", "2", "--sha256", "--sha512", "--quiet", str(copy)])
    shutil.rmtree(copy)
    for engine in engines:
        home = work / f"home-{engine}"
        env = {**os.environ, "ARCHIVE_HOME": str(home), "ARCHIVE_IDENTIFY_ENGINE": engine, "ARCHIVE_WORKERS": "2"}
        drop_caches()
        t_ingest, rss, tree, out = run(
            [
                str(BIN / "archive"),
                "--config",
                str(work / "settings.yaml"),
                "ingest",
                str(source),
                "--profile",
                "research",
                "--json",
            ],
            env,
        )
        result = json.loads(out)
        assert result["files"] == files, (result["files"], files)
        rows.append(
            {
                "scenario": label,
                "engine": engine,
                "files": files,
                "MB": round(mb, 1),
                "ingest_s": round(t_ingest, 2),
                "files_per_s": round(files / t_ingest, 1),
                "MB_per_s": round(mb / t_ingest, 1),
                "peak_rss_MiB": round(rss / 1024, 1),
                "tree_pss_MiB": round(tree / 1024, 1),
                "bagit_s": round(t_bagit, 2),
                "hashlib_s": round(t_hash, 2),
                "vs_bagit": round(t_bagit / t_ingest, 2),
                "vs_hashlib": round(t_hash / t_ingest, 2),
            }
        )
        shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=10_000, help="number of small files (0 to skip)")
    ap.add_argument("--small-kb", type=int, default=10)
    ap.add_argument("--large", type=int, default=4, help="number of large files (0 to skip)")
    ap.add_argument("--large-mb", type=int, default=256)
    ap.add_argument("--engine", choices=["fido", "siegfried", "both"], default="both")
    ap.add_argument("--workdir", type=Path, default=None, help="where to build data (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    ap.add_argument(
        "--scale",
        type=int,
        default=0,
        metavar="K",
        help="also ingest K times --small files and print how time and memory grow (target: time <= 1.1 K)",
    )
    args = ap.parse_args()
    engines = ["fido", "siegfried"] if args.engine == "both" else [args.engine]
    work = Path(tempfile.mkdtemp(prefix="archive-bench-", dir=args.workdir))
    (work / "settings.yaml").write_text("organisation: Benchmark\n")
    rows: list[dict[str, object]] = []
    try:
        if args.small:
            src = work / "small"
            make_small(src, args.small, args.small_kb * 1024)
            rows += bench(f"{args.small} x {args.small_kb} KB", src, work, engines)
            shutil.rmtree(src)
        if args.small and args.scale > 1:
            src = work / "small"
            make_small(src, args.small * args.scale, args.small_kb * 1024)
            rows += bench(f"{args.small * args.scale} x {args.small_kb} KB", src, work, engines)
            shutil.rmtree(src)
        if args.large:
            src = work / "large"
            make_large(src, args.large, args.large_mb)
            rows += bench(f"{args.large} x {args.large_mb} MB", src, work, engines)
            shutil.rmtree(src)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    cols = [
        "scenario",
        "engine",
        "files",
        "MB",
        "ingest_s",
        "files_per_s",
        "MB_per_s",
        "peak_rss_MiB",
        "tree_pss_MiB",
        "bagit_s",
        "hashlib_s",
        "vs_bagit",
        "vs_hashlib",
    ]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    print("peak_rss: the largest process of the ingest; tree_pss: all its processes together (PSS, sampled)")
    print("vs_bagit: bagit.py --processes 2 time / ingest time (>1: faster than bagit-python making a bag)")
    print("vs_hashlib: one-pass sha256+sha512 hashlib time / ingest time (the hashing limit)")
    if args.small and args.scale > 1:
        for engine in engines:
            one, many = (r for r in rows if r["engine"] == engine and str(r["scenario"]).endswith(" KB"))
            grew = float(many["ingest_s"]) / float(one["ingest_s"])  # type: ignore[arg-type]
            rss = float(many["tree_pss_MiB"]) / float(one["tree_pss_MiB"])  # type: ignore[arg-type]
            print(
                f"scale {engine}: {args.scale}x the files took {grew:.2f}x the time "
                f"(target <= {1.1 * args.scale:.1f}x) and {rss:.2f}x the peak memory (target: 1x, flat)"
            )


if __name__ == "__main__":
    main()

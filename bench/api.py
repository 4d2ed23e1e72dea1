"""Retrieval API benchmarks, each against a baseline measured in the same run.

    python bench/api.py [--size-mib 1024] [--runs 3] [--packages 10000] [--clients 16] [--seconds 10]
                        [--workers 1] [--only download|metadata] [--database-url URL]

(a) download: one stored file of --size-mib MiB, fetched with curl (to /dev/null) from
    1. nginx alone, serving the storage folder (the baseline);
    2. the API streaming it itself (uvicorn): cold (first request: hashed while streaming)
       and warm (verified; large-chunk reads), whole and as a 512 MiB Range, and the package zip;
    3. nginx in front of the API with X-Accel-Redirect: the API authorises and records, nginx
       sends the bytes (the deployment in docs/nginx.md), whole and as a Range.
    nginx is installed with apt-get when missing (services are not started by the install),
    listens on 127.0.0.1 only, and is stopped at the end.
(b) metadata: --packages synthetic packages in a fresh catalog (kept in the work folder for
    the next run), then --clients keep-alive connections for --seconds per route against
    ``archive serve``: GET /packages/{id}; GET /packages?q=WORD with a typical word (in 0.1-3 % of
    the packages), with a common subject word (in about 7 %, thousands of matches to count), and
    unfiltered; and GET /health (one trivial query: the floor of the framework, the baseline).
    Requests/s, p50, p99.

Everything binds to 127.0.0.1; every loop is bounded; servers are stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.storage import package_relpath
from bench.api_load import COMMON, VOCABULARY, build_catalog, load

REPO = Path(__file__).resolve().parent.parent
ARCHIVE = Path(sys.executable).with_name("archive")
NGINX_CONF = """worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
daemon off;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {work}/nginx-tmp/body;
    proxy_temp_path {work}/nginx-tmp/proxy;
    fastcgi_temp_path {work}/nginx-tmp/fastcgi;
    uwsgi_temp_path {work}/nginx-tmp/uwsgi;
    scgi_temp_path {work}/nginx-tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        # the baseline: nginx alone serving the storage folder
        location /direct/ {{ alias {storage}/; }}
{archive_conf}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    print("== nginx is not installed: apt-get install nginx-light (no service is started)", flush=True)
    policy = Path("/usr/sbin/policy-rc.d")
    created = False
    if not policy.exists():  # keep the package's init script from starting nginx on 0.0.0.0:80
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        created = True
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], env=env, check=True)
    finally:
        if created:
            policy.unlink()
    return shutil.which("nginx") or "/usr/sbin/nginx"


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url], capture_output=True, text=True)
        if r.stdout == "200":
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def serve(
    stack: ExitStack,
    home: Path,
    port: int,
    work: Path,
    name: str,
    workers: int = 1,
    env_extra: dict[str, str] | None = None,
) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(env_extra or {})
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen(
        [
            str(ARCHIVE),
            "--home",
            str(home),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
    )
    stack.callback(lambda: (proc.send_signal(signal.SIGTERM), proc.wait(timeout=20), log.close()))
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health")
    return url


def curl(url: str, token: str | None = None, byte_range: str | None = None) -> tuple[int, int, float]:
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    if byte_range:
        cmd[1:1] = ["-r", byte_range]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout.split()
    return int(out[0]), int(out[1]), float(out[2])


def timed(
    label: str, url: str, runs: int, token: str | None, expect: int, size: int, byte_range: str | None = None
) -> float:
    times = []
    for _ in range(runs):
        status, got, seconds = curl(url, token, byte_range)
        if status != expect or got != size:
            raise SystemExit(f"{label}: HTTP {status}, {got} bytes (expected {expect}, {size})")
        times.append(seconds)
    best, median = min(times), statistics.median(times)
    print(
        f"   {label:<44} best {best:6.2f} s  median {median:6.2f} s  {size / best / 2**30:5.2f} GiB/s",
        flush=True,
    )
    return best


def bench_download(args: argparse.Namespace, work: Path) -> None:
    from archive.config import load_settings
    from archive.services.context import ArchiveContext
    from archive.services.ingest.run import ingest
    from archive.services.retrieve import tokens

    size = args.size_mib * 2**20
    home = work / "download-home"
    shutil.rmtree(home, ignore_errors=True)
    sub = work / "big-submission"
    shutil.rmtree(sub, ignore_errors=True)
    sub.mkdir()
    (sub / "metadata.yaml").write_text(
        'title: "Bench: one large file"\ncreators:\n  - name: Bench, B\nlicence: CC0-1.0\n'
    )
    block = os.urandom(16 * 2**20)
    with open(sub / "large.bin", "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
        f.write(block[: size % len(block)])
    print(f"== (a) download: ingesting a {args.size_mib} MiB file", flush=True)
    settings = load_settings(env={}, overrides={"home": str(home)})
    with ArchiveContext(settings) as ctx:
        pid = ingest(ctx, sub, "research").package_id
        _, token = tokens.create(ctx, "bench", "researcher")
        rel = f"{package_relpath(pid)}/{ctx.storage.version(pid).stored('data/large.bin')}"
        storage = ctx.settings.storage
    shutil.rmtree(sub)
    for p in [work, *[storage / Path(rel).parents[i] for i in range(len(Path(rel).parents) - 1)], storage]:
        p.chmod(0o755)  # nginx workers run as nobody
    nginx = ensure_nginx()
    with ExitStack() as stack:
        direct = serve(stack, home, free_port(), work, "api-direct")
        accel_port = free_port()
        serve(
            stack,
            home,
            accel_port,
            work,
            "api-accel",
            env_extra={"ARCHIVE_API_ACCEL_REDIRECT": "/_archive_storage/"},
        )
        port = free_port()
        archive_conf = (REPO / "docs" / "nginx-archive.conf").read_text().replace("/srv/archive/storage", str(storage))
        archive_conf = archive_conf.replace("127.0.0.1:8000", f"127.0.0.1:{accel_port}")
        (work / "nginx-tmp").mkdir(exist_ok=True)
        (work / "nginx-tmp").chmod(0o777)
        conf = work / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                work=work,
                port=port,
                storage=storage,
                archive_conf="\n".join("        " + line for line in archive_conf.splitlines()),
            )
        )
        nginx_log = open(work / "nginx.out", "wb")  # noqa: SIM115 (lives as long as nginx)
        proc = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(work), "-e", str(work / "nginx-error.log")],
            stdout=nginx_log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(lambda: (proc.send_signal(signal.SIGQUIT), proc.wait(timeout=20), nginx_log.close()))
        front = f"http://127.0.0.1:{port}"
        wait_http(f"{front}/health")
        file_path = f"/packages/{pid}/files/large.bin"
        half = size // 2
        print(
            f"   file: {args.size_mib} MiB; curl to /dev/null; {args.runs} runs each; all on 127.0.0.1",
            flush=True,
        )
        base = timed("nginx alone (baseline)", f"{front}/direct/{rel}", args.runs, None, 200, size)
        timed("API direct, cold (hashed while streaming)", f"{direct}{file_path}", 1, token, 200, size)
        warm = timed("API direct, warm (verified)", f"{direct}{file_path}", args.runs, token, 200, size)
        timed("API direct, Range 0-(half)", f"{direct}{file_path}", args.runs, token, 206, half, f"0-{half - 1}")
        timed("API + nginx X-Accel-Redirect, cold (verified first)", f"{front}{file_path}", 1, token, 200, size)
        accel = timed("API + nginx X-Accel-Redirect, warm", f"{front}{file_path}", args.runs, token, 200, size)
        timed(
            "API + nginx X-Accel-Redirect, Range 0-(half)",
            f"{front}{file_path}",
            args.runs,
            token,
            206,
            half,
            f"0-{half - 1}",
        )
        _, zipped, _ = curl(f"{direct}/packages/{pid}/download", token)
        timed(
            "API direct, whole package zip",
            f"{direct}/packages/{pid}/download",
            args.runs,
            token,
            200,
            zipped,
        )
        headers = subprocess.run(
            [
                "curl",
                "-s",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-r",
                "0-0",
                "-H",
                f"Authorization: Bearer {token}",
                f"{front}{file_path}",
            ],
            capture_output=True,
            text=True,
        ).stdout.lower()
        for h in ("etag:", "repr-digest:", "content-range: bytes 0-0/", "accept-ranges:"):
            assert h in headers, f"X-Accel-Redirect response lacks {h}\n{headers}"
        print(
            f"   ratios to nginx alone: API direct {base / warm:.2f}x, "
            f"API + X-Accel-Redirect {base / accel:.2f}x (target >= 0.7x)",
            flush=True,
        )
    shutil.rmtree(home, ignore_errors=True)


def bench_metadata(args: argparse.Namespace, work: Path) -> None:
    home = work / f"metadata-v2-{args.packages}{'-pg' if args.database_url else ''}"
    print(
        f"== (b) metadata: {args.packages} packages, {args.clients} clients, {args.seconds} s per route, "
        f"{args.workers} server worker(s)",
        flush=True,
    )
    started = time.perf_counter()
    ids, token = build_catalog(home, args.packages, args.database_url)
    print(f"   catalog ready in {time.perf_counter() - started:.1f} s", flush=True)
    env = {"ARCHIVE_DATABASE_URL": args.database_url} if args.database_url else {}
    with ExitStack() as stack:
        url = serve(stack, home, free_port(), work, "api-metadata", args.workers, env)
        port = int(url.rsplit(":", 1)[1])
        rng = random.Random(7)
        typical = VOCABULARY[50:1000]  # each in roughly 0.1-3 % of the packages
        routes = {
            "GET /health (baseline)": lambda: "/health",
            "GET /packages/{id}": lambda: f"/packages/{rng.choice(ids)}",
            "GET /packages?q=WORD": lambda: f"/packages?q={rng.choice(typical)}&limit=20",
            "GET /packages?q=COMMON": lambda: f"/packages?q={rng.choice(COMMON)}&limit=20",
            "GET /packages (all)": lambda: "/packages?limit=20",
        }
        for label, make_path in routes.items():
            result = load(port, token, make_path, args.clients, args.seconds)
            print(
                f"   {label:<24} {result['rps']:7.0f} req/s  p50 {result['p50'] * 1e3:6.1f} ms  "
                f"p99 {result['p99'] * 1e3:6.1f} ms  "
                f"({result['requests']} requests, {result['errors']} errors)",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--packages", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--database-url", default="", help="PostgreSQL URL for (b) (default: SQLite)")
    ap.add_argument("--only", choices=["download", "metadata"])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "archive-bench-api")
    args = ap.parse_args()
    if not 1 <= args.runs <= 20 or not 1 <= args.seconds <= 120 or not 1 <= args.clients <= 256:
        raise SystemExit("--runs 1..20, --seconds 1..120, --clients 1..256")
    args.work.mkdir(parents=True, exist_ok=True)
    args.work.chmod(0o755)
    if args.only in (None, "download"):
        bench_download(args, args.work)
    if args.only in (None, "metadata"):
        bench_metadata(args, args.work)


if __name__ == "__main__":
    main()

"""A real `archive serve` process: a Range request and a whole-package zip over a socket."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import bagit
import httpx
import pytest

from tests.support.api import build_archive


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path):
    archive = build_archive(tmp_path / "archive", ("open",))
    port = _free_port()
    exe = Path(sys.executable).with_name("archive")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen(
        [
            str(exe),
            "--home",
            str(archive.settings.home),
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "serve.log").read_text(errors="replace"))
            time.sleep(0.1)
        yield base, archive
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
        log.close()


def test_real_server_range_and_zip(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, archive = server
    pid = archive.packages["open"]
    headers = archive.headers("researcher")
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        whole = client.get(f"/packages/{pid}/files/HHM_2024_900_001.tif")
        assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == whole.headers["etag"].strip(
            '"'
        )
        part = client.get(f"/packages/{pid}/files/HHM_2024_900_001.tif", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        zip_path = tmp_path / "package.zip"
        with client.stream("GET", f"/packages/{pid}/download") as r, open(zip_path, "wb") as out:
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                out.write(chunk)
        assert zip_path.stat().st_size == int(r.headers["content-length"])
        assert client.get("/packages/not-an-id").json()["error"]["code"] == "E005"
        assert client.get("/docs").status_code == 200
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(tmp_path / "out")
    bagit.Bag(str(tmp_path / "out" / pid)).validate()

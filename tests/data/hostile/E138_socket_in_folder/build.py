import socket
from pathlib import Path

from tests.support.hostile_cases import write_metadata


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    write_metadata(root)
    (root / "ok.txt").write_text("fine\n")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "socket"))  # the socket file stays after close
    return root

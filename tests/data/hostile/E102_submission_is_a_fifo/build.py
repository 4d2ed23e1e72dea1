import os
from pathlib import Path


def build(dest: Path) -> Path:
    fifo = dest / "submission.tar.gz"
    os.mkfifo(fifo)
    return fifo

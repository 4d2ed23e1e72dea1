from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    fetch = b"http://127.0.0.1:9/hostile-corpus/big.bin 1000000 data/big.bin\n"
    return write_bag(dest / "bag", {"ok.txt": b"fine\n"}, tag_files={"fetch.txt": fetch})

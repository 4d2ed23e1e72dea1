"""Two ways to make the AIP's bag from a staged copy, measured on the same files in one run.

    python bench/bag_writing.py [--files N] [--kb K] [--large-mb MB]

A. bagit-python: ``bagit.make_bag(copy, processes=2, checksums=[sha256, sha512])`` re-reads and
   hashes every payload file, then ``Bag.validate()`` re-reads them all again to verify.
B. the archive: digests computed while copying are written straight into the manifests
   (``write_tag_files``), and the read-back check re-hashes each stored file once in two threads
   (``verify_stored_bag``).
Both start from a staged copy (the copy itself costs the same either way and is not timed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import bagit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from archive.fixity import hash_file
from archive.model import FileRecord
from archive.packaging.bag.write import write_tag_files
from archive.services.copies import verify_stored_bag

ALGOS = ["sha256", "sha512"]


def make_payload(root: Path, files: int, kb: int, large_mb: int) -> None:
    data = root / "data"
    data.mkdir(parents=True)
    for i in range(files):
        (data / f"f{i:06d}.bin").write_bytes(os.urandom(kb * 1024))
    if large_mb:
        block = os.urandom(4 * 1024 * 1024)
        with open(data / "large.bin", "wb") as fh:
            for _ in range(large_mb // 4):
                fh.write(block)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--kb", type=int, default=10)
    ap.add_argument("--large-mb", type=int, default=512)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="archive-bagbench-"))
    try:
        src = work / "src"
        make_payload(src, args.files, args.kb, args.large_mb)
        # the digests the archive already has from its copy pass
        records = [
            FileRecord(path=str(p.relative_to(src / "data")), size=p.stat().st_size, digests=hash_file(p, ALGOS)[1])
            for p in sorted((src / "data").iterdir())
        ]
        a = work / "a"
        shutil.copytree(src / "data", a)
        os.sync()
        t = time.perf_counter()
        bag = bagit.make_bag(str(a), checksums=ALGOS, processes=2)
        t_make = time.perf_counter() - t
        t = time.perf_counter()
        bag.validate(processes=2)
        t_check_a = time.perf_counter() - t

        b = work / "b"
        shutil.copytree(src, b)
        os.sync()
        t = time.perf_counter()
        tags = write_tag_files(b, records, ALGOS, {"Source-Organization": ["Bench"]})
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        verify_stored_bag(b, records, tags, workers=2)
        t_check_b = time.perf_counter() - t
        bagit.Bag(str(b)).validate()  # B's bag passes bagit-python's full validation

        total_mb = sum(r.size for r in records) / 1e6
        print(f"payload: {len(records)} files, {total_mb:.0f} MB")
        print(f"A bagit-python: make_bag {t_make:.2f}s + validate {t_check_a:.2f}s = {t_make + t_check_a:.2f}s")
        print(f"B archive:      tag files {t_write:.2f}s + read-back {t_check_b:.2f}s = {t_write + t_check_b:.2f}s")
        print(f"B is {(t_make + t_check_a) / (t_write + t_check_b):.1f}x faster than A")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

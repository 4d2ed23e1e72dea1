"""An amendment as an OCFL version against a whole new copy of the package, measured in one run.

    python bench/ocfl_versions.py [--files N] [--kb K]

A bag of N payload files is written as version 1; then mets.xml and bag-info.txt change and the
bag is written again: as version 2 with the caller's sha512 digests (nothing stored is read),
as version 3 without them (every file hashed once), and, as the baseline, copied whole
(``shutil.copytree``, what storing each amendment as a new package costs).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from archive.storage.ocfl import OcflRoot, User

OID = "urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def make_bag(root: Path, files: int, kb: int) -> None:
    (root / "data").mkdir(parents=True)
    for i in range(files):
        (root / "data" / f"f{i:06d}.bin").write_bytes(os.urandom(kb * 1024))
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (root / "mets.xml").write_text("<mets/>\n")


def stored_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--kb", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bag = tmp / "bag"
        make_bag(bag, args.files, args.kb)
        root = OcflRoot(tmp / "ocfl")
        root.initialise()
        user = User("bench", "mailto:bench@example.org")
        began = time.perf_counter()
        root.create_object(OID, bag, user=user)
        v1 = time.perf_counter() - began
        (bag / "mets.xml").write_text("<mets><amended/></mets>\n")
        (bag / "bag-info.txt").write_text("Bagging-Date: 2026-01-02\n")
        digests = {
            p.relative_to(bag).as_posix(): hashlib.sha512(p.read_bytes()).hexdigest()
            for p in bag.rglob("*")
            if p.is_file()
        }
        began = time.perf_counter()
        root.add_version(OID, bag, digests=digests, user=user)
        v2 = time.perf_counter() - began
        before = stored_bytes(root.object_path(OID))
        (bag / "mets.xml").write_text("<mets><amended again/></mets>\n")
        began = time.perf_counter()
        root.add_version(OID, bag, user=user)
        v3 = time.perf_counter() - began
        grown = stored_bytes(root.object_path(OID)) - before
        began = time.perf_counter()
        shutil.copytree(bag, tmp / "copy")
        os.sync()
        copy = time.perf_counter() - began
        print(f"{args.files} files of {args.kb} KB ({stored_bytes(bag) / 1e6:.0f} MB)")
        print(f"v1 create_object            {v1:7.2f} s")
        print(f"v2 add_version, digests     {v2:7.2f} s")
        print(f"v3 add_version, no digests  {v3:7.2f} s  (stored {grown / 1e3:.1f} kB more)")
        print(f"baseline: copytree + sync   {copy:7.2f} s  (stores {stored_bytes(tmp / 'copy') / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()

"""Deep and big trees work: no recursion over a submission's depth anywhere on the way from the
folder to the stored bag (scan, copy, METS structMap, schema validation, read-back, reindex)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC
from pathlib import Path

import bagit
import pytest

from archive.packaging.mets.read import read_mets
from archive.packaging.mets.validate import validate_mets
from archive.services.ingest.run import ingest
from tests.conftest import DATA


def _deep_submission(root: Path, depth: int, width: int = 1) -> Path:
    shutil.copytree(DATA / "submissions" / "heritage-minimal", root)
    folder = root
    for level in range(depth):
        folder = folder / "d"
        if level % 50 == 0 or level == depth - 1:
            for w in range(width):
                (folder.parent / f"file-{level}-{w}.txt").parent.mkdir(parents=True, exist_ok=True)
                (folder.parent / f"file-{level}-{w}.txt").write_text(f"level {level}\n")
    folder.mkdir(parents=True)
    (folder / "bottom.txt").write_text("the bottom\n")
    return root


@pytest.mark.parametrize("depth", [300, 480])
def test_deeply_nested_submission_is_stored_and_valid(sqlite_ctx, tmp_path: Path, depth: int) -> None:
    sub = _deep_submission(tmp_path / "deep", depth)
    result = ingest(sqlite_ctx, sub, "heritage")
    bag = sqlite_ctx.storage.original_bag(result.package_id)
    bagit.Bag(str(bag)).validate()
    pkg = read_mets(bag / "mets.xml", validate=True)
    bottom = "/".join(["d"] * depth) + "/bottom.txt"
    assert pkg.file(bottom) is not None
    assert (bag / "data" / bottom).read_text() == "the bottom\n"


def test_wide_transfer_of_ten_thousand_folders(sqlite_ctx, tmp_path: Path) -> None:
    """The 10,000-directory class of real transfers: about 100 levels at the deepest."""
    sub = tmp_path / "wide"
    shutil.copytree(DATA / "submissions" / "heritage-minimal", sub)
    made = 0
    for branch in range(100):
        folder = sub / f"series-{branch:03d}"
        for level in range(100):
            folder = folder / f"box-{level:03d}"
            made += 1
        folder.mkdir(parents=True)
        (folder / "item.txt").write_text(f"branch {branch}\n")
    assert made == 10_000
    result = ingest(sqlite_ctx, sub, "heritage")
    assert result.files == 102
    bag = sqlite_ctx.storage.original_bag(result.package_id)
    bagit.Bag(str(bag)).validate(fast=True)
    assert os.path.getsize(bag / "mets.xml") > 0


@pytest.mark.slow
def test_mets_of_a_hundred_thousand_files_writes_validates_and_reads_back() -> None:
    """The 55,000-70,000-file class: the METS reference check once died in libxml2's XPath."""
    import uuid
    from datetime import datetime

    from archive.model import Access, FileRecord, Package
    from archive.packaging.mets.write import write_mets

    files = [
        FileRecord(
            path=f"box-{i // 1000:03d}/item-{i:06d}.txt",
            size=10,
            digests={"sha256": f"{i:064x}", "sha512": f"{i:0128x}"},
        )
        for i in range(100_000)
    ]
    pkg = Package(
        id=str(uuid.uuid4()),
        profile_id="base",
        profile_version="1.0.0",
        created=datetime.now(UTC),
        metadata={"title": "Big"},
        dublin_core={"title": ["Big"]},
        access=Access(),
        files=files,
    )
    mets = write_mets(pkg)
    assert validate_mets(mets) == []
    assert len(read_mets(mets).files) == 100_000


@pytest.mark.slow
def test_a_hundred_thousand_file_submission_ingests(sqlite_ctx, tmp_path: Path) -> None:
    """The class that passed ``validate`` and then died in METS validation (55,000-70,000 files):
    100,000 files in 100 folders are stored, the bag is complete, its METS valid and read back,
    and the catalog lists every file."""
    sub = tmp_path / "big"
    shutil.copytree(DATA / "submissions" / "heritage-minimal", sub)
    for folder in range(100):
        box = sub / f"box-{folder:03d}"
        box.mkdir()
        for item in range(1000):
            (box / f"item-{item:04d}.txt").write_bytes(b"record %d/%d\n" % (folder, item))
    result = ingest(sqlite_ctx, sub, "heritage")
    assert result.created and result.files == 100_002
    bag = sqlite_ctx.storage.original_bag(result.package_id)
    bagit.Bag(str(bag)).validate(fast=True)
    assert len(read_mets(bag / "mets.xml", validate=True).files) == 100_002
    assert len(list((bag / "mets").iterdir())) >= 25  # described in parts of about 1,000 files
    stored = sqlite_ctx.catalog.get_package(result.package_id)
    assert len(stored.files) == 100_002 and stored.file("box-099/item-0999.txt") is not None

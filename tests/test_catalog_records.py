"""One read model of a package: listing, search, retrieval and audits hand back the same record."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import archive.catalog
from archive.catalog import records, retrieval, search
from archive.catalog.audits import Audits
from archive.catalog.records import PackageInfo, PackageRecord
from archive.services.context import ArchiveContext
from tests.conftest import DATA, make_settings

INFO = PackageInfo(
    id="00000000-0000-4000-8000-000000000001",
    profile_id="heritage",
    profile_version="1.2.0",
    title="Harbour photographs",
    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    access_level="open",
    embargo_until=date(2030, 1, 1),
    access_statement="Open to all",
    file_count=3,
    total_bytes=1234,
    storage_path="00/00/00000000-0000-4000-8000-000000000001",
    mets_sha256="0" * 64,
    tag_digests={"bag-info.txt": {"sha256": "1" * 64}},
)


def test_as_dict_is_what_listings_have_always_shown() -> None:
    """``archive list --json`` and ``GET /packages`` items: these keys, in this order, nothing more
    (``version`` and ``held`` came with package versions)."""
    assert json.dumps(INFO.as_dict()) == (
        '{"id": "00000000-0000-4000-8000-000000000001", "profile": "heritage", "profile_version": "1.2.0", '
        '"title": "Harbour photographs", "created": "2026-01-02T03:04:05+00:00", "access_level": "open", '
        '"embargo_until": "2030-01-01", "files": 3, "bytes": 1234, "version": 1, "held": false}'
    )
    naive = replace(INFO, created_at=datetime(2026, 1, 2, 3, 4, 5), embargo_until=None)
    assert naive.as_dict()["created"] == "2026-01-02T03:04:05+00:00" and naive.as_dict()["embargo_until"] is None


def test_the_catalog_exports_the_one_package_record() -> None:
    assert archive.catalog.PackageInfo is PackageInfo is retrieval.PackageInfo
    assert not hasattr(archive.catalog, "PackageSummary")
    assert issubclass(PackageRecord, PackageInfo) and PackageRecord is records.PackageRecord
    assert [f.name for f in fields(PackageRecord)] == [f.name for f in fields(PackageInfo)] + [
        "files",
        "history",
        "version_tags",
    ]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveContext]:
    from archive.services.ingest.run import ingest

    tmp = tmp_path_factory.mktemp("records")
    sub = tmp / "sub"
    shutil.copytree(DATA / "submissions" / "heritage-minimal", sub)
    with ArchiveContext(make_settings(tmp / "home")) as context:
        ingest(context, Path(sub), "heritage")
        yield context


def test_listing_search_retrieval_and_audits_read_the_same_package(ctx: ArchiveContext) -> None:
    (listed,) = ctx.catalog.list_packages()
    found = search.search(ctx.catalog, search.SearchQuery()).items
    shown = retrieval.package_info(ctx.catalog, listed.id)
    audited = Audits(ctx.catalog).package(listed.id)
    assert type(listed) is PackageInfo and found == [listed] and shown == listed
    assert PackageInfo(**{f.name: getattr(audited, f.name) for f in fields(PackageInfo)}) == listed
    # every field is filled from the catalog, whichever query read it
    assert listed.storage_path == ctx.catalog.storage_path(listed.id)
    assert listed.tag_digests == ctx.catalog.tag_digests(listed.id) and listed.tag_digests
    assert len(listed.mets_sha256) == 64 and listed.created_at.tzinfo is not None
    assert listed.file_count == len(audited.files) > 0

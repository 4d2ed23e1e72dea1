"""GET /packages/{id}/download: a streamed zip that unzips to a valid bag; usage recorded and counted."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import bagit
import pytest
from fastapi.testclient import TestClient

from archive.api import create_app
from archive.api.zipstream import ZipWriter, zip_size
from archive.catalog import callers
from archive.services.context import ArchiveContext
from tests.support.api import ApiArchive, build_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("download"), ("open", "restricted", "embargoed-past"))


def test_zip_unzips_to_a_bag_that_bagit_python_validates(archive: ApiArchive, tmp_path: Path) -> None:
    pid = archive.packages["open"]
    with TestClient(create_app(archive.settings)) as c:
        r = c.get(f"/packages/{pid}/download", headers=archive.headers("researcher"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-length"] == str(len(r.content))
    assert r.headers["content-disposition"] == f'attachment; filename="{pid}.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert all(n.startswith(f"{pid}/") for n in names)
        assert {f"{pid}/bagit.txt", f"{pid}/mets.xml", f"{pid}/data/HHM_2024_900_001.tif"} <= set(names)
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        z.extractall(tmp_path)
    bag = bagit.Bag(str(tmp_path / pid))
    bag.validate()  # payload and tag manifests, Payload-Oxum
    if shutil.which("unzip"):
        out = subprocess.run(
            ["unzip", "-tq", str(_write(tmp_path / "p.zip", r.content))], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stdout + out.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_embargo_lifted_package_downloads_for_anonymous(archive: ApiArchive) -> None:
    with TestClient(create_app(archive.settings)) as c:
        r = c.get(f"/packages/{archive.packages['embargoed-past']}/download")
        assert r.status_code == 200 and zipfile.ZipFile(io.BytesIO(r.content)).testzip() is None


@pytest.mark.parametrize("limit", [0, 100])
def test_zip_writer_zip64_and_predicted_size(limit: int, tmp_path: Path) -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    files = [(f"p/data/{i:03}-é.bin", os.urandom(i * 37)) for i in range(12)]
    writer = ZipWriter(when, zip64_limit=limit)
    out = io.BytesIO()
    for name, data in files:
        out.write(writer.begin(name, len(data)))
        out.write(data)
        out.write(writer.end(zlib.crc32(data)))
    out.write(writer.finish())
    assert len(out.getvalue()) == zip_size(((n, len(d)) for n, d in files), when, zip64_limit=limit)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        assert z.testzip() is None
        assert [(i.filename, z.read(i)) for i in z.infolist()] == files
        assert z.infolist()[0].date_time == (2025, 1, 2, 3, 4, 4)
    if shutil.which("unzip"):
        check = subprocess.run(
            ["unzip", "-tq", str(_write(tmp_path / "z.zip", out.getvalue()))], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_zip_of_many_entries_uses_zip64_end_records() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    writer = ZipWriter(when)
    out = io.BytesIO()
    for i in range(70_000):  # more than a 16-bit count
        out.write(writer.begin(f"p/{i}", 0))
        out.write(writer.end(0))
    out.write(writer.finish())
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        assert len(z.infolist()) == 70_000


def test_downloads_are_recorded_and_counted(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open", "restricted"))
    pid, other = a.packages["open"], a.packages["restricted"]
    with TestClient(create_app(a.settings)) as c:
        h = a.headers("researcher")
        zip_len = len(c.get(f"/packages/{pid}/download", headers=h).content)
        file_len = len(c.get(f"/packages/{pid}/files/finding-aid.pdf", headers=h).content)
        c.get(f"/packages/{pid}/files/finding-aid.pdf", headers={**h, "Range": "bytes=0-99"})
        c.get(f"/packages/{pid}", headers=h)
        c.get(f"/packages/{pid}")  # anonymous view
        c.get(f"/packages/{other}", headers=h)
        assert c.get(f"/packages/{other}/download", headers=h).status_code == 403  # refused: not recorded
        stats = c.get("/stats", headers=a.headers("archivist"), params={"period": "day"}).json()
        by_profile = c.get("/stats", headers=a.headers("archivist"), params={"profile": "heritage"}).json()
        other_profile = c.get("/stats", headers=a.headers("archivist"), params={"profile": "legal"}).json()
        bad = c.get("/stats", headers=a.headers("archivist"), params={"period": "week"})
        reversed_ = c.get("/stats", headers=a.headers("archivist"), params={"from": "2025-02-01", "to": "2025-01-01"})
    with ArchiveContext(a.settings) as ctx:
        log = callers.access_entries(ctx.catalog)
    downloads = [e for e in log if e["action"] == "package"]
    assert len(downloads) == 1
    d = downloads[0]
    assert (d["package_id"], d["bytes_planned"], d["bytes_sent"], d["outcome"], d["token_id"]) == (
        pid,
        zip_len,
        zip_len,
        "complete",
        a.token_ids["researcher"],
    )
    assert d["caller"] == "researcher for tests" and d["occurred"]
    expected_bytes = zip_len + file_len + 100
    assert stats["totals"] == {"views": 3, "downloads": 2, "partial": 1, "bytes": expected_bytes}
    per_package = {p["package_id"]: p for p in stats["by_package"]}
    assert per_package[pid]["downloads"] == 2 and per_package[pid]["views"] == 2
    assert per_package[pid]["title"].startswith("(open)")
    assert per_package[other] == {**per_package[other], "views": 1, "downloads": 0, "bytes": 0}
    assert {p["profile"]: p["downloads"] for p in stats["by_profile"]} == {"heritage": 2}
    assert len(stats["by_period"]) == 1 and stats["by_period"][0]["period"] == datetime.now(UTC).strftime("%Y-%m-%d")
    assert by_profile["totals"] == stats["totals"]  # both packages are heritage ones
    assert other_profile["totals"] == {"views": 0, "downloads": 0, "partial": 0, "bytes": 0}
    assert bad.status_code == 422 and reversed_.status_code == 400

"""Object storage against a real S3-compatible server (SeaweedFS): replicas in a bucket, written
once with their SHA-256, audited in two tiers, removed on disposal, and never half-visible."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from archive.errors import StorageError
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.storage.objects import ObjectExists
from archive.storage.s3 import S3Storage
from tests.support.audit import TIF, audit, stored


def _copy(ctx: ArchiveContext) -> S3Storage:
    (copy,) = ctx.object_replicas
    return copy


def _local_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _bucket_files(copy: S3Storage, pid: str) -> dict[str, bytes]:
    out = {}
    for rel, _ in copy.keys(pid):
        data = copy.bucket.read(copy.object_key(pid, rel))
        assert data is not None
        out[rel] = data
    return out


def test_an_ingest_stores_a_byte_identical_copy_of_the_object_in_the_bucket(octx, copy_fixture) -> None:
    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    assert copy.exists(pid) and list(copy.iter_package_ids()) == [pid]
    assert _bucket_files(copy, pid) == _local_files(octx.storage.path_of(pid))
    assert copy.head(pid) == 1
    # every object carries the SHA-256 the server checked when it accepted it
    info = copy.bucket.info(copy.object_key(pid, f"v1/content/{TIF}"))
    assert info is not None
    assert info.sha256 == hashlib.sha256((octx.storage.original_bag(pid) / TIF).read_bytes()).hexdigest()


def test_the_bucket_is_an_ocfl_storage_root_an_independent_validator_accepts(octx, copy_fixture, tmp_path) -> None:
    from ocfl.storage_root import StorageRoot

    stored(octx, copy_fixture)
    copy = _copy(octx)
    root = tmp_path / "downloaded"
    for rel, _ in copy.bucket.keys(""):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = copy.bucket.read(rel)
        assert data is not None
        target.write_bytes(data)
    storage = StorageRoot(root=str(root))
    assert storage.validate(), (str(storage.log), storage.errors)
    assert (storage.num_objects, storage.good_objects) == (1, 1)


def test_an_audit_reads_the_copy_in_the_bucket_and_finds_what_changed(octx, copy_fixture) -> None:
    pid = stored(octx, copy_fixture)
    assert audit(octx, package_ids=[pid]).exit_status == 0
    copy = _copy(octx)
    key = copy.object_key(pid, f"v1/content/{TIF}")
    good = copy.bucket.read(key)
    assert good is not None
    # what a failing disk or a careless operator does: other bytes under the key, behind the archive's back
    copy.bucket.s3.put_object(Bucket=copy.bucket.location.bucket, Key=copy.bucket.key(key), Body=good[:-1] + b"!")
    result = audit(octx, package_ids=[pid])
    found = {(f.copy, f.path, f.kind) for f in result.findings}
    assert ("object1", TIF, "changed") in found, result.as_dict()
    assert all(f.copy == "object1" for f in result.findings)
    (event,) = [e for e in octx.catalog.get_package(pid).events if e.type == "fixity check" and e.outcome == "failure"]
    assert "object1 (object storage, every byte read back)" in event.detail


def test_the_cheap_tier_trusts_the_servers_checksum_and_says_so(octx, copy_fixture, archive_home) -> None:
    from tests.conftest import make_settings

    pid = stored(octx, copy_fixture)
    cheap = ArchiveContext(make_settings(archive_home, **{**_settings_of(octx), "object_audit_tier": "cheap"}))
    try:
        result = audit(cheap, package_ids=[pid])
        assert result.exit_status == 0, result.as_dict()
        assert all(
            "no byte read" in e.detail for e in cheap.catalog.get_package(pid).events if e.type == "fixity check"
        )
        copy = _copy(cheap)
        key = copy.object_key(pid, f"v1/content/{TIF}")
        copy.bucket.s3.delete_object(Bucket=copy.bucket.location.bucket, Key=copy.bucket.key(key))
        result = audit(cheap, package_ids=[pid])
        assert ("object1", TIF, "missing") in {(f.copy, f.path, f.kind) for f in result.findings}
    finally:
        cheap.close()


def _settings_of(ctx: ArchiveContext) -> dict[str, object]:
    s = ctx.settings
    return {
        "database_url": s.database_url,
        "object_replicas": list(s.object_replicas),
        "s3_endpoint_url": s.s3_endpoint_url,
        "s3_region": s.s3_region,
    }


def test_an_object_is_written_once_and_a_retry_with_the_same_bytes_is_kept(octx) -> None:
    copy = _copy(octx)
    copy.ensure()
    data = b"the first bytes\n"
    copy.bucket.put_new("probe/a.txt", data, hashlib.sha256(data).hexdigest())
    copy.bucket.put_new("probe/a.txt", data, hashlib.sha256(data).hexdigest())  # a retry: kept
    other = b"other bytes\n"
    with pytest.raises(ObjectExists):
        copy.bucket.put_new("probe/a.txt", other, hashlib.sha256(other).hexdigest())
    assert copy.bucket.read("probe/a.txt") == data


def test_the_server_refuses_bytes_that_do_not_match_their_sha256(octx) -> None:
    copy = _copy(octx)
    copy.ensure()
    with pytest.raises(StorageError):
        copy.bucket.put_new("probe/b.txt", b"what was sent", hashlib.sha256(b"what was meant").hexdigest())
    assert copy.bucket.info("probe/b.txt") is None


def test_new_versions_reach_the_bucket_with_only_their_new_content(octx, copy_fixture, tmp_path) -> None:
    from archive.services.lifecycle import changes
    from archive.services.lifecycle.versions import Actor

    pid = stored(octx, copy_fixture)
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "note.txt").write_text("a note\n")
    alice = Actor("alice", "archivist")
    assert changes.add_files(octx, pid, extra, "a note", alice).version == 2
    assert changes.set_access(octx, pid, "restricted", "donor asked", alice).version == 3
    copy = _copy(octx)
    assert copy.head(pid) == 3
    assert _bucket_files(copy, pid) == _local_files(octx.storage.path_of(pid))
    payload = sorted(rel for rel, _ in copy.keys(pid) if "/content/data/" in rel)
    assert [p for p in payload if not p.startswith("v1/")] == ["v2/content/data/note.txt"]
    assert audit(octx, package_ids=[pid]).exit_status == 0


def test_a_disposed_package_leaves_the_bucket(octx, copy_fixture) -> None:
    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    copy.remove_package(pid)
    assert not copy.exists(pid) and list(copy.keys(pid)) == []


def test_an_unreachable_server_is_reported_by_the_audit_not_raised(
    octx, copy_fixture, archive_home, monkeypatch
) -> None:
    from archive.storage import objects
    from tests.conftest import make_settings

    monkeypatch.setattr(objects, "ATTEMPTS", 1)
    pid = stored(octx, copy_fixture)
    away = ArchiveContext(
        make_settings(archive_home, **{**_settings_of(octx), "s3_endpoint_url": "http://127.0.0.1:9"})
    )
    try:
        result = audit(away, package_ids=[pid])
        assert ("object1", "unreachable") in {(f.copy, f.kind) for f in result.findings}, result.as_dict()
    finally:
        away.close()


def test_an_ingest_whose_copy_cannot_be_made_stores_nothing(octx, copy_fixture, monkeypatch) -> None:
    from archive.storage import objects

    calls = {"n": 0}
    real = objects.Bucket.put_new

    def failing(self, rel, source, sha256, sha512=""):
        calls["n"] += 1
        if calls["n"] == 5:
            raise StorageError("the connection dropped")
        return real(self, rel, source, sha256, sha512)

    monkeypatch.setattr(objects.Bucket, "put_new", failing)
    with pytest.raises(StorageError):
        ingest(octx, copy_fixture("submissions/heritage-minimal"), "heritage")
    monkeypatch.undo()
    assert octx.catalog.count_packages() == 0
    assert list(octx.storage.iter_package_ids()) == []
    assert list(_copy(octx).iter_package_ids()) == []


def test_a_server_killed_mid_upload_leaves_nothing_visible_and_a_retry_stores_one_package(
    archive_home, copy_fixture, s3, tmp_path, monkeypatch
) -> None:
    """SIGKILL the server (its own, not the shared one) while the copy's files go up."""
    from archive.storage import objects
    from tests.conftest import make_settings, object_settings
    from tests.support import seaweed

    monkeypatch.setattr(objects, "ATTEMPTS", 1)  # the dead server is not asked again and again
    server = seaweed.start(tmp_path / "own-server")
    ctx = ArchiveContext(make_settings(archive_home, **object_settings(server.endpoint)))
    try:
        real = objects.Bucket.put_new
        uploads = {"n": 0}

        def killing(self, rel, source, sha256, sha512=""):
            uploads["n"] += 1
            if uploads["n"] == 8:  # content is going up: the server dies under the writer
                server.stop(kill=True)
            return real(self, rel, source, sha256, sha512)

        monkeypatch.setattr(objects.Bucket, "put_new", killing)  # undone below, before the retry
        submission = copy_fixture("submissions/heritage-minimal")
        with pytest.raises(StorageError):
            ingest(ctx, submission, "heritage")
        monkeypatch.setattr(objects.Bucket, "put_new", real)
        server.restart()
        copy = _copy(ctx)
        assert list(copy.iter_package_ids()) == []  # the half-uploaded object is no package
        assert ctx.catalog.count_packages() == 0 and list(ctx.storage.iter_package_ids()) == []
        result = ingest(ctx, submission, "heritage")
        assert list(copy.iter_package_ids()) == [result.package_id]
        assert ctx.catalog.count_packages() == 1
        assert audit(ctx, package_ids=[result.package_id]).exit_status == 0
    finally:
        ctx.close()
        server.stop()


def test_damage_in_the_primary_is_repaired_from_the_bucket(octx, copy_fixture) -> None:
    from tests.support.audit import flip_byte

    pid = stored(octx, copy_fixture)
    good = (octx.storage.original_bag(pid) / TIF).read_bytes()
    flip_byte(octx.storage.original_bag(pid) / TIF)
    result = audit(octx, package_ids=[pid], repair=True)
    assert result.repairs[0].restored == [{"copy": "primary", "path": TIF, "source": "object1"}]
    assert (octx.storage.original_bag(pid) / TIF).read_bytes() == good
    assert audit(octx, package_ids=[pid]).exit_status == 0


def test_damage_in_the_bucket_is_repaired_from_the_primary_and_the_damaged_bytes_kept(octx, copy_fixture) -> None:
    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    key = copy.object_key(pid, f"v1/content/{TIF}")
    good = copy.bucket.read(key)
    assert good is not None
    bad = good[:-1] + b"!"
    copy.bucket.s3.put_object(Bucket=copy.bucket.location.bucket, Key=copy.bucket.key(key), Body=bad)
    result = audit(octx, package_ids=[pid], repair=True)
    assert result.repairs[0].restored == [{"copy": "object1", "path": TIF, "source": "primary"}]
    assert copy.bucket.read(key) == good
    kept = [rel for rel, _ in copy.bucket.keys(f"extensions/archive-quarantine/{pid}/")]
    assert len(kept) == 1 and copy.bucket.read(kept[0]) == bad  # evidence, not deleted
    assert audit(octx, package_ids=[pid]).exit_status == 0


def test_a_package_missing_from_the_bucket_is_rebuilt_from_the_primary(octx, copy_fixture) -> None:
    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    before = _bucket_files(copy, pid)
    copy.remove_package(pid)
    result = audit(octx, package_ids=[pid], repair=True)
    assert ("object1", "package-missing") in {(f.copy, f.kind) for f in result.findings}
    assert not result.repairs[0].unrepairable, result.repairs[0].as_dict()
    assert _bucket_files(copy, pid) == before
    assert audit(octx, package_ids=[pid]).exit_status == 0


@pytest.mark.parametrize("point", ["s3.content-uploaded", "s3.version-committed", "s3.root-inventory-written"])
def test_an_ingest_killed_while_its_copy_goes_up_is_finished_by_doctor(tmp_path, s3, database_url, point: str) -> None:
    """SIGKILL in a real child process at each step of an upload: the package is never listed in the
    bucket before its commit object, doctor catalogues it and finishes the copy, and the ingest run
    again leaves exactly one package."""
    from archive.services.audit.run import AuditOptions, run_audit
    from archive.services.recovery.doctor import run_doctor
    from tests.conftest import object_settings
    from tests.support.crash import context, run_forked, write_config

    extra = object_settings(s3.endpoint)
    config = write_config(
        tmp_path,
        database_url,
        replica=False,
        object_replicas=f"['{extra['object_replicas'][0]}']",  # type: ignore[index]
        s3_endpoint_url=extra["s3_endpoint_url"],
        s3_region="us-east-1",
    )
    submission = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"
    assert run_forked(config, ["ingest", str(submission), "--profile", "heritage"], point) == -9
    with context(config) as ctx:
        copy = _copy(ctx)
        (pid,) = list(ctx.storage.iter_package_ids())
        assert ctx.catalog.count_packages() == 0
        assert not copy.exists(pid) and list(copy.iter_package_ids()) == []  # no commit object yet
        report = run_doctor(ctx)
        finished = {(i.kind, i.where) for i in report.issues}
        assert ("uncatalogued-package", "primary") in finished, report.as_dict()
        assert ("copy-missing", "object1") in finished
        assert run_doctor(ctx).exit_status == 0  # nothing left to do
        assert ctx.catalog.count_packages() == 1 and copy.head(pid) == 1
        assert _bucket_files(copy, pid) == _local_files(ctx.storage.path_of(pid))
        assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0
        again = ingest(ctx, submission, "heritage")
        assert (again.package_id, again.created) == (pid, False)
        assert list(copy.iter_package_ids()) == [pid]


def test_every_public_method_of_an_unreachable_bucket_raises_a_storage_error(tmp_path, monkeypatch) -> None:
    """As every LocalStorage method does on a failing file system (tests/test_boundaries.py): the
    server's or the network's words, never a botocore exception, reach the user."""
    import inspect

    from archive.storage import objects
    from archive.storage.local import StoredVersion
    from archive.storage.objects import Location, client

    monkeypatch.setattr(objects, "ATTEMPTS", 1)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    copy = S3Storage(Location.parse("s3://nowhere/p"), client("http://127.0.0.1:9", "us-east-1", "path"), "object1")
    pid = "5543eb55-bcda-40bf-aba5-6a1e0c7b1c11"
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    version = StoredVersion(pid, 1, 1, tmp_path, {}, {})
    calls = {
        "ensure": copy.ensure,
        "exists": lambda: copy.exists(pid),
        "inventory": lambda: copy.inventory(pid),
        "head": lambda: copy.head(pid),
        "iter_package_ids": lambda: list(copy.iter_package_ids()),
        "keys": lambda: list(copy.keys(pid)),
        "leftovers": lambda: list(copy.leftovers()),
        "stored_at": lambda: copy.stored_at(pid),
        "keep_tombstone": lambda: copy.keep_tombstone(pid, b"{}"),
        "tombstone": lambda: copy.tombstone(pid),
        "mirror": lambda: copy.mirror(version),
        "download": lambda: copy.download(pid, "v1/content/a", tmp_path / "got"),
        "quarantine": lambda: copy.quarantine(pid, "v1/content/a", "label"),
        "restore_file": lambda: copy.restore_file(pid, "v1/content/a", source, {}, 1, "label"),
        "restore_package": lambda: copy.restore_package(pid, [("v1/content/a", source, {}, 1)]),
        "remove_package": lambda: copy.remove_package(pid),
    }
    public = {n for n, fn in vars(S3Storage).items() if inspect.isfunction(fn) and not n.startswith("_")}
    assert public - {"reachable", "object_key"} == set(calls)
    assert copy.reachable() is False
    for name, call in calls.items():
        try:
            call()
        except StorageError:
            continue
        except Exception as exc:
            pytest.fail(f"S3Storage.{name} let {type(exc).__name__} escape: {exc}")
        pytest.fail(f"S3Storage.{name} did not notice the unreachable bucket")


def test_downloads_are_handed_to_the_bucket_with_a_presigned_link_once_authorised_and_recorded(tmp_path, s3) -> None:
    """The analogue of nginx's X-Accel-Redirect: the API decides and records, the object storage sends."""
    import urllib.request

    from fastapi.testclient import TestClient

    from archive.api import create_app
    from tests.conftest import object_settings
    from tests.support.api import build_archive

    archive = build_archive(
        tmp_path,
        ("open", "embargoed-future"),
        **object_settings(s3.endpoint),
        api_object_redirect="object1",
        api_presign_seconds=60,
    )
    pid, hidden = archive.packages["open"], archive.packages["embargoed-future"]
    with TestClient(create_app(archive.settings)) as client:
        answer = client.get(f"/packages/{pid}/files/{TIF[5:]}", follow_redirects=False)
        assert answer.status_code == 307, answer.text
        assert answer.headers["cache-control"] == "no-store" and "X-Amz-Signature=" in answer.headers["location"]
        with ArchiveContext(archive.settings) as ctx:
            stored = (ctx.storage.original_bag(pid) / TIF).read_bytes()
            request = urllib.request.Request(answer.headers["location"], headers={"Range": "bytes=10-19"})
            with urllib.request.urlopen(urllib.request.Request(answer.headers["location"])) as got:
                assert got.read() == stored
                assert "attachment" in got.headers["Content-Disposition"]
            with urllib.request.urlopen(request) as got:
                assert got.status == 206 and got.read() == stored[10:20]
            from archive.catalog import callers

            log = [e for e in callers.access_entries(ctx.catalog, pid) if e["action"] == "file"]
            assert [(e["outcome"], e["bytes_planned"]) for e in log] == [("delegated", len(stored))]
            # the embargoed file is refused before any link is made, exactly as without the hand-off
            refused = client.get(f"/packages/{hidden}/files/{TIF[5:]}", follow_redirects=False)
            assert refused.status_code in (403, 404) and "location" not in refused.headers
            # a copy that differs from the catalog is never linked to: the API sends the bytes itself
            copy = _copy(ctx)
            key = copy.object_key(pid, f"v1/content/{TIF}")
            copy.bucket.s3.put_object(Bucket=copy.bucket.location.bucket, Key=copy.bucket.key(key), Body=b"other")
            served = client.get(f"/packages/{pid}/files/{TIF[5:]}", follow_redirects=False)
            assert served.status_code == 200 and served.content == stored


def test_a_package_in_the_bucket_that_the_catalog_does_not_know_is_an_orphan(octx, copy_fixture, archive_home) -> None:
    from archive.catalog.maintenance import Maintenance
    from tests.conftest import make_settings

    pid = stored(octx, copy_fixture)
    Maintenance(octx.catalog).wipe()  # the catalog forgets everything (storage keeps it)
    octx.storage.remove_package(pid)  # and the primary no longer holds it: only the bucket does
    now = ArchiveContext(make_settings(archive_home, **_settings_of(octx), orphan_grace_seconds=0))
    try:
        result = audit(now, all=True)
    finally:
        now.close()
    found = {(f.copy, f.package_id, f.kind, f.message) for f in result.findings}
    (orphan,) = [f for f in found if f[2] == "orphan"]
    assert orphan[:2] == ("object1", pid) and "package object s3://archive-test/" in orphan[3], result.as_dict()


def test_doctor_finishes_a_cut_short_copy_and_removes_objects_of_no_package(octx, copy_fixture, archive_home) -> None:
    from archive.services.recovery.doctor import run_doctor
    from tests.conftest import make_settings

    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    whole = _bucket_files(copy, pid)
    copy.bucket.delete([copy.object_key(pid, "inventory.json.sha512")])  # the commit object never arrived
    stray = "5543eb55-bcda-40bf-aba5-6a1e0c7b1c11"  # an upload of a package that was rolled back
    data = b"half of a package\n"
    copy.bucket.put_new(copy.object_key(stray, "v1/content/data/a.txt"), data, hashlib.sha256(data).hexdigest())
    assert list(copy.iter_package_ids()) == []
    now = ArchiveContext(make_settings(archive_home, **_settings_of(octx), orphan_grace_seconds=0))
    try:
        report = run_doctor(now)
        done = {(i.kind, i.subject, i.where) for i in report.issues}
        assert {("copy-unfinished", pid, "object1"), ("upload-leftover", stray, "object1")} <= done, report.as_dict()
        assert run_doctor(now).exit_status == 0
    finally:
        now.close()
    assert _bucket_files(copy, pid) == whole and list(copy.keys(stray)) == []
    assert list(copy.iter_package_ids()) == [pid]


def test_a_big_file_goes_up_in_parts_each_checked_and_is_audited_in_both_tiers(
    archive_home, s3, tmp_path, monkeypatch
) -> None:
    """Files above MULTIPART_BYTES are uploaded in parts (lowered here: S3's smallest part is 5 MiB)."""
    from archive.storage import objects
    from tests.conftest import make_settings, object_settings

    monkeypatch.setattr(objects, "MULTIPART_BYTES", 6 * 1024 * 1024)
    monkeypatch.setattr(objects, "PART_BYTES", 5 * 1024 * 1024)
    sub = tmp_path / "big"
    shutil.copytree(Path(__file__).parent / "data" / "submissions" / "heritage-minimal", sub)
    big = os.urandom(1024 * 1024) * 11 + b"end"  # 11 MiB and a bit: three parts
    (sub / "scan.bin").write_bytes(big)
    settings = object_settings(s3.endpoint)
    for tier in ("full", "cheap"):
        ctx = ArchiveContext(make_settings(archive_home, **settings, object_audit_tier=tier))
        try:
            pid = ctx.catalog.package_ids()[0] if tier == "cheap" else ingest(ctx, sub, "heritage").package_id
            copy = _copy(ctx)
            info = copy.bucket.info(copy.object_key(pid, "v1/content/data/scan.bin"))
            assert info is not None and info.size == len(big)
            assert info.sha256 == hashlib.sha256(big).hexdigest()  # as the upload recorded it
            assert copy.bucket.read(copy.object_key(pid, "v1/content/data/scan.bin")) == big
            assert audit(ctx, package_ids=[pid]).exit_status == 0
        finally:
            ctx.close()


def test_a_package_only_the_bucket_still_holds_is_rebuilt_in_primary_storage(octx, copy_fixture) -> None:
    pid = stored(octx, copy_fixture)
    before = _local_files(octx.storage.path_of(pid))
    octx.storage.remove_package(pid)  # the primary lost the whole package
    result = audit(octx, package_ids=[pid], repair=True)
    assert not result.repairs[0].unrepairable, result.repairs[0].as_dict()
    assert _local_files(octx.storage.path_of(pid)) == before  # inventories and declaration too
    assert audit(octx, package_ids=[pid]).exit_status == 0


def test_a_root_sidecar_left_behind_by_a_new_version_counts_one_version_less_until_doctor_finishes_it(
    octx, copy_fixture, tmp_path
) -> None:
    from archive.services.lifecycle import changes
    from archive.services.lifecycle.versions import Actor
    from archive.services.recovery.doctor import run_doctor

    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    first_sidecar = copy.bucket.read(copy.object_key(pid, "inventory.json.sha512"))
    assert first_sidecar is not None
    assert changes.set_access(octx, pid, "restricted", "donor asked", Actor("alice", "archivist")).version == 2
    # a writer killed between the root inventory and its sidecar: the sidecar still vouches for v1
    key = copy.bucket.key(copy.object_key(pid, "inventory.json.sha512"))
    copy.bucket.s3.put_object(Bucket=copy.bucket.location.bucket, Key=key, Body=first_sidecar)
    assert copy.exists(pid) and copy.head(pid) == 1
    run_doctor(octx)
    assert copy.head(pid) == 2 and _bucket_files(copy, pid) == _local_files(octx.storage.path_of(pid))


def test_doctor_keeps_a_catalogued_packages_unfinished_copy_that_primary_storage_lost(
    octx, copy_fixture, archive_home
) -> None:
    from archive.services.recovery.doctor import run_doctor
    from tests.conftest import make_settings

    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    octx.storage.remove_package(pid)
    copy.bucket.delete([copy.object_key(pid, "inventory.json.sha512")])
    kept = sorted(rel for rel, _ in copy.keys(pid))
    now = ArchiveContext(make_settings(archive_home, **_settings_of(octx), orphan_grace_seconds=0))
    try:
        report = run_doctor(now)
    finally:
        now.close()
    assert ("copy-unfinished", pid, "reported") in {(i.kind, i.subject, i.action) for i in report.issues}
    assert sorted(rel for rel, _ in copy.keys(pid)) == kept  # maybe the last bytes of it: never deleted


def test_a_disposal_removes_the_package_from_the_bucket_and_leaves_its_tombstone_there(octx, copy_fixture) -> None:
    import json

    from archive.services.lifecycle import disposal
    from archive.services.lifecycle.versions import Actor

    pid = stored(octx, copy_fixture)
    copy = _copy(octx)
    proposal = disposal.propose(octx, [pid], "retention schedule fell due", Actor("alice", "archivist"))
    assert disposal.approve(octx, proposal.id, "checked", Actor("bob", "archivist")).state == "executed"
    assert not copy.exists(pid) and list(copy.keys(pid)) == [] and list(copy.iter_package_ids()) == []
    stone = copy.tombstone(pid)
    assert stone is not None and stone == disposal.tombstone_path(octx.storage, pid).read_bytes()
    assert json.loads(stone)["proposal"]["approver"] == "bob"


def test_reindex_rebuilds_the_catalog_of_a_package_only_a_bucket_still_holds(octx, copy_fixture) -> None:
    from archive.catalog.dump import dump
    from archive.services.recovery.reindex import reindex

    pid = stored(octx, copy_fixture)
    before = octx.catalog.get_package(pid)
    octx.storage.remove_package(pid)  # the folder copy is gone, and then the catalog
    report = reindex(octx, force=True, verify=True)
    assert report.packages == 1 and not [p for p in report.problems if p["package"] == pid], report.as_dict()
    after = octx.catalog.get_package(pid)
    assert [(f.path, f.digests) for f in after.files] == [(f.path, f.digests) for f in before.files]
    assert after.metadata == before.metadata and dump(octx.catalog)["packages"][0]["id"] == pid

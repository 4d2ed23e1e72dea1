"""``archive migrate-storage``: every bag of the old layout becomes an OCFL object, nothing is lost.

After a migration every package is, in every storage root, an OCFL object that ocfl-py
validates, whose version 1 materialises to the very bytes of the old bag (bagit-python accepts
it, every file matches the catalog); no folder of the old layout is left; one ledgered and
catalogued ``replication`` event per package and root records it, and the ledger verifies. A bag
that does not match the catalog (a changed byte, a file the catalog does not know) is not
migrated, stays where it was and is named in the report (exit status 1); the others go on. A
SIGKILL at every ``migrate.*`` fault point, then a second run, reaches the same final state.
``--dry-run`` verifies and writes nothing; storage that cannot be reached is exit status 3.

Packages in the old layout are made by one fixture, ``legacy_package`` (tests/support/legacy.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ocfl.storage_root import StorageRoot
from ocfl.validator import Validator

from archive import faults
from archive.audit.budget import Budget
from archive.audit.check import check_copy, record_entries
from archive.cli import main
from archive.errors import StorageError
from archive.ledger import parse_line
from archive.model import EVENT_REPLICATION
from archive.services.audit.run import audit_lock
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from archive.services.recovery.migrate import (
    ALREADY,
    FAILED,
    MIGRATED,
    WOULD,
    legacy_package_ids,
    legacy_path,
    migrate_storage,
    object_id,
    verify_object,
)
from archive.storage import package_relpath
from archive.storage.ocfl import OcflRoot
from archive.storage.ocfl.layout import ROOT_NAMASTE, STAGING
from tests.conftest import DATA, make_settings, tree_state
from tests.support.audit import TIF, flip_byte
from tests.support.crash import context, run_forked, write_config
from tests.support.hostile_cases import METADATA_YAML
from tests.support.legacy import stored_legacy, to_legacy_layout

HERITAGE = DATA / "submissions" / "heritage-minimal"
LEGAL = DATA / "submissions" / "legal-minimal"
RESEARCH = DATA / "submissions" / "research-bag"
POINTS = [
    "migrate.after-verify",
    "migrate.after-create",
    "migrate.after-ledger",
    "migrate.bag-moved-out",
    "migrate.after-removal",
]

LegacyMaker = Callable[[ArchiveContext, Path, str], str]


@pytest.fixture
def legacy_package(tmp_path: Path) -> LegacyMaker:
    """The one way these tests store a package in the old layout: ``make(ctx, submission, profile)``."""
    made = 0

    def make(ctx: ArchiveContext, submission: Path, profile: str = "heritage") -> str:
        nonlocal made
        made += 1
        copy = tmp_path / f"submission-{made}" / submission.name
        shutil.copytree(submission, copy)
        return stored_legacy(ctx, copy, profile)

    return make


def read_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def root_validates(root: Path, objects: int) -> None:
    """ocfl-py validates the storage root and every object in it, and reports nothing (the archive's own
    folders live under ``extensions/``)."""
    storage = StorageRoot(root=str(root))
    assert storage.validate(), str(storage.log)
    assert (storage.num_objects, storage.good_objects) == (objects, objects), storage.errors
    assert not storage.errors, storage.errors


def migrated_completely(ctx: ArchiveContext, pids: list[str], tmp: Path) -> None:
    """The final state every migration must reach."""
    for storage in ctx.all_storage:
        root = storage.root
        assert list(legacy_package_ids(root)) == []
        assert [n for n in os.listdir(root) if len(n) == 2] == []  # the aa/ folders are pruned too
        assert os.listdir(root / STAGING) == []
        ocfl = OcflRoot(root)
        for pid in pids:
            validator = Validator()
            assert validator.validate_object(str(ocfl.object_path(object_id(pid)))), validator.status_str()
            assert [v.number for v in ocfl.versions(object_id(pid))] == [1]
            entries = record_entries(ctx.catalog.get_package(pid).files, ctx.catalog.tag_digests(pid))
            assert verify_object(ocfl, pid, entries)[0] == []
            out = tmp / f"out-{storage.name}-{pid}"
            ocfl.materialise(object_id(pid), out, 1)
            assert check_copy(out, entries, pid, storage.name, Budget(), extras=True).findings == []
            bagit.Bag(str(out)).validate()
        root_validates(root, len(pids))
        assert not (root / "ledger").exists() and not (root / ".staging").exists()
    assert all(ctx.catalog.storage_path(pid) == package_relpath(pid) for pid in pids)
    report = verify_ledger(ctx)
    assert report.ok and report.problems == [], report.as_dict()
    migrations = [
        (e.package_id, e.body["migration"]["storage"])
        for e in (parse_line(line) for _, line in ctx.ledger.lines())
        if "migration" in e.body
    ]
    assert sorted(migrations) == sorted((pid, s.name) for pid in pids for s in ctx.all_storage)
    for pid in pids:
        events = [e for e in ctx.catalog.get_package(pid).events if e.type == EVENT_REPLICATION]
        assert len(events) == len(ctx.all_storage)
        assert all("from the bag layout to OCFL object" in e.detail for e in events)


# -- migrating -----------------------------------------------------------------------------------


def test_every_package_becomes_an_ocfl_object_whose_v1_is_the_bag(
    rctx: ArchiveContext, legacy_package: LegacyMaker, tmp_path: Path
) -> None:
    pids = [legacy_package(rctx, HERITAGE, "heritage"), legacy_package(rctx, LEGAL, "legal")]
    before = {(s.name, pid): read_tree(legacy_path(s.root, pid)) for s in rctx.all_storage for pid in pids}
    (rctx.storage.root / "ab" / "cd").mkdir(parents=True)  # empty folders of the old layout: pruned too
    (rctx.storage.root / "ef").mkdir()
    report = migrate_storage(rctx)
    assert report.exit_status == 0, report.as_dict()
    assert sorted((p.package, p.storage, p.status) for p in report.packages) == sorted(
        (pid, s.name, MIGRATED) for pid in pids for s in rctx.all_storage
    )
    item = report.packages[0]
    assert item.files == len(before[(item.storage, item.package)])
    assert item.bytes == sum(len(b) for b in before[(item.storage, item.package)].values())
    migrated_completely(rctx, pids, tmp_path)
    for (name, pid), files in before.items():
        storage = next(s for s in rctx.all_storage if s.name == name)
        OcflRoot(storage.root).materialise(object_id(pid), tmp_path / f"v1-{name}-{pid}", 1)
        assert read_tree(tmp_path / f"v1-{name}-{pid}") == files  # byte for byte
        inventory = (OcflRoot(storage.root).object_path(object_id(pid)) / "inventory.json").read_bytes()
        ledgered = [
            parse_line(line).body["migration"]
            for _, line in rctx.ledger.lines()
            if '"migration"' in line and pid in line and f'"storage":"{name}"' in line
        ]
        assert len(ledgered) == 1
        assert ledgered[0]["inventory_sha512"] == hashlib.sha512(inventory).hexdigest()
        assert (ledgered[0]["files"], ledgered[0]["version"]) == (len(files), 1)
        version = OcflRoot(storage.root).versions(object_id(pid))[0]
        assert version.message == "migrated from the bag layout" and version.user is not None
    again = migrate_storage(rctx)
    assert again.exit_status == 0 and {p.status for p in again.packages} == {ALREADY}
    migrated_completely(rctx, pids, tmp_path / "again")  # and nothing was ledgered twice


def test_a_bag_that_does_not_verify_stays_and_is_reported_the_rest_goes_on(
    rctx: ArchiveContext, legacy_package: LegacyMaker, tmp_path: Path
) -> None:
    changed = legacy_package(rctx, HERITAGE, "heritage")
    extra = legacy_package(rctx, LEGAL, "legal")
    fine = legacy_package(rctx, RESEARCH, "research")
    primary = rctx.storage.root
    flip_byte(legacy_path(primary, changed) / TIF)
    (legacy_path(rctx.replicas[0].root, extra) / "data" / "stray.txt").write_bytes(b"not in the catalog\n")
    damaged = {"changed": tree_state(legacy_path(primary, changed))}
    report = migrate_storage(rctx)
    assert report.exit_status == 1
    failed = {(p.package, p.storage): p for p in report.failed}
    assert set(failed) == {(changed, "primary"), (extra, "replica1")}
    assert all(p.status == FAILED for p in failed.values())
    assert {f.kind for f in failed[(changed, "primary")].findings} == {"changed"}
    assert [(f.kind, f.path) for f in failed[(extra, "replica1")].findings] == [("extra", "data/stray.txt")]
    assert "does not match the catalog" in failed[(changed, "primary")].reason
    # not migrated: the bag is where it was, untouched, and no object was made of it
    assert tree_state(legacy_path(primary, changed)) == damaged["changed"]
    assert not OcflRoot(primary).exists(object_id(changed))
    assert legacy_path(rctx.replicas[0].root, extra).is_dir()
    assert not OcflRoot(rctx.replicas[0].root).exists(object_id(extra))
    ok = {(p.package, p.storage) for p in report.packages if p.status == MIGRATED}
    assert ok == {(fine, "primary"), (fine, "replica1"), (changed, "replica1"), (extra, "primary")}
    # repaired by hand, a second run migrates what is left
    shutil.rmtree(legacy_path(primary, changed))
    OcflRoot(rctx.replicas[0].root).materialise(object_id(changed), tmp_path / "good", 1)
    to_legacy_layout(primary, changed, tmp_path / "good")
    (legacy_path(rctx.replicas[0].root, extra) / "data" / "stray.txt").unlink()
    assert migrate_storage(rctx).exit_status == 0
    migrated_completely(rctx, [changed, extra, fine], tmp_path)


def test_a_bag_the_catalog_does_not_know_is_not_migrated(
    ctx: ArchiveContext, legacy_package: LegacyMaker, tmp_path: Path
) -> None:
    pid = legacy_package(ctx, HERITAGE, "heritage")
    stranger = "0badc0de-0000-4000-8000-000000000000"
    to_legacy_layout(ctx.storage.root, stranger, legacy_path(ctx.storage.root, pid))
    report = migrate_storage(ctx)
    assert report.exit_status == 1
    [failed] = report.failed
    assert failed.package == stranger and "archive doctor" in failed.reason
    assert legacy_path(ctx.storage.root, stranger).is_dir()
    assert OcflRoot(ctx.storage.root).exists(object_id(pid))


def test_dry_run_verifies_and_writes_nothing(rctx: ArchiveContext, legacy_package: LegacyMaker) -> None:
    pids = [legacy_package(rctx, HERITAGE, "heritage"), legacy_package(rctx, LEGAL, "legal")]
    flip_byte(legacy_path(rctx.storage.root, pids[0]) / TIF)
    before = [tree_state(s.root) for s in rctx.all_storage]
    events = [len(rctx.catalog.get_package(pid).events) for pid in pids]
    report = migrate_storage(rctx, dry_run=True)
    assert [tree_state(s.root) for s in rctx.all_storage] == before
    assert [len(rctx.catalog.get_package(pid).events) for pid in pids] == events
    assert report.exit_status == 1 and [(p.package, p.storage) for p in report.failed] == [(pids[0], "primary")]
    assert sum(p.status == WOULD for p in report.packages) == 3
    assert all(p.object.endswith(p.package) for p in report.packages if p.status == WOULD)


def test_storage_refusing_a_step_is_exit_3_and_leaves_the_bag(
    ctx: ArchiveContext, legacy_package: LegacyMaker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pid = legacy_package(ctx, HERITAGE, "heritage")
    bag = read_tree(legacy_path(ctx.storage.root, pid))

    def full(*_: object, **__: object) -> None:
        raise StorageError("cannot create the OCFL object: No space left on device")

    monkeypatch.setattr(OcflRoot, "create_object", full)
    report = migrate_storage(ctx)
    assert report.exit_status == 3
    [failed] = report.failed
    assert failed.as_dict()["storage_refused"] and "No space left" in failed.reason
    assert read_tree(legacy_path(ctx.storage.root, pid)) == bag
    monkeypatch.undo()
    assert migrate_storage(ctx).exit_status == 0
    migrated_completely(ctx, [pid], tmp_path)


def test_a_run_killed_while_declaring_the_ocfl_root_leaves_nothing_behind(
    ctx: ArchiveContext, legacy_package: LegacyMaker, tmp_path: Path
) -> None:
    pid = legacy_package(ctx, HERITAGE, "heritage")
    stale = ctx.storage.root / ".tmp-ocfl-root-killed"
    (stale / "extensions").mkdir(parents=True)
    (stale / ROOT_NAMASTE).write_text("ocfl_1.1\n")
    report = migrate_storage(ctx)
    assert report.exit_status == 0 and report.leftovers == ["primary: .tmp-ocfl-root-killed"]
    assert not stale.exists()
    migrated_completely(ctx, [pid], tmp_path)


# -- the command ---------------------------------------------------------------------------------


def test_the_command_json_exit_statuses_and_unreachable_storage(tmp_path: Path, legacy_package: LegacyMaker) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    ctx = context(config)
    pid = legacy_package(ctx, HERITAGE, "heritage")
    ctx.close()
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)

    assert run("migrate-storage", "--help").exit_code == 0
    dry = run("migrate-storage", "--dry-run")
    assert dry.exit_code == 0 and f"would migrate {pid} (primary)" in dry.stdout and "dry run" in dry.stdout
    done = run("migrate-storage", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["ok"] and data["counts"]["migrated"] == 2 and data["exit_status"] == 0
    assert {p["status"] for p in data["packages"]} == {"migrated"}
    human = run("migrate-storage")
    assert human.exit_code == 0 and "2 already-migrated" in human.stdout
    with context(config) as ctx, audit_lock(ctx):
        busy = run("migrate-storage", "--json")
        assert busy.exit_code == 3 and "is running" in json.loads(busy.stdout)["error"]["message"]
        assert run("migrate-storage", "--dry-run").exit_code == 0  # reading only: no need to wait
    shutil.move(tmp_path / "replica", tmp_path / "unplugged")
    gone = run("migrate-storage", "--json")
    assert gone.exit_code == 3
    assert "replica1" in json.loads(gone.stdout)["unreachable"][0]
    gone_human = run("migrate-storage")
    assert gone_human.exit_code == 3 and "could not reach" in gone_human.stderr


def test_a_failed_package_is_named_with_why_on_the_command_line(tmp_path: Path, legacy_package: LegacyMaker) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite3'}", replica=False)
    ctx = context(config)
    pid = legacy_package(ctx, HERITAGE, "heritage")
    flip_byte(legacy_path(ctx.storage.root, pid) / TIF)
    ctx.close()
    result = CliRunner().invoke(main, ["--config", str(config), "migrate-storage"], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"not-migrated {pid} (primary)" in result.stderr and TIF in result.stderr
    as_json = CliRunner().invoke(main, ["--config", str(config), "migrate-storage", "--json"])
    assert as_json.exit_code == 1
    [failed] = [p for p in json.loads(as_json.stdout)["packages"] if p["status"] == "not-migrated"]
    assert failed["package"] == pid and failed["findings"][0]["path"] == TIF


# -- crashes -------------------------------------------------------------------------------------


def test_every_migrate_fault_point_has_a_crash_case() -> None:
    assert {p for p in faults.POINTS if p.startswith("migrate.")} == set(POINTS)


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_every_step_then_a_second_run_finishes(
    point: str, database_url: str, tmp_path: Path, legacy_package: LegacyMaker
) -> None:
    config = write_config(tmp_path, database_url)
    ctx = context(config)
    pids = [legacy_package(ctx, HERITAGE, "heritage"), legacy_package(ctx, LEGAL, "legal")]
    before = {pid: read_tree(legacy_path(ctx.storage.root, pid)) for pid in pids}
    ctx.close()
    assert run_forked(config, ["migrate-storage"], point) == -9
    with context(config) as ctx:
        # never half a bag visible as a package: each old folder is whole or gone
        for storage in ctx.all_storage:
            for pid in legacy_package_ids(storage.root):
                assert read_tree(legacy_path(storage.root, pid)) == before[pid]
    assert run_forked(config, ["migrate-storage"], "") == 0
    with context(config) as ctx:
        migrated_completely(ctx, pids, tmp_path)
        for pid, files in before.items():
            OcflRoot(ctx.storage.root).materialise(object_id(pid), tmp_path / f"after-{pid}", 1)
            assert read_tree(tmp_path / f"after-{pid}") == files
    assert run_forked(config, ["migrate-storage"], "") == 0  # a third run: nothing left to do


def test_a_run_killed_after_creating_finishes_without_creating_again(
    tmp_path: Path, legacy_package: LegacyMaker
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite3'}", replica=False)
    with context(config) as ctx:
        pid = legacy_package(ctx, HERITAGE, "heritage")
    assert run_forked(config, ["migrate-storage"], "migrate.after-create") == -9
    with context(config) as ctx:
        objdir = OcflRoot(ctx.storage.root).object_path(object_id(pid))
        made = os.stat(objdir / "inventory.json").st_ino
        assert legacy_path(ctx.storage.root, pid).is_dir()
        dry = migrate_storage(ctx, dry_run=True)
        assert [p.status for p in dry.packages] == [WOULD] and legacy_path(ctx.storage.root, pid).is_dir()
        report = migrate_storage(ctx)
        assert [p.status for p in report.packages] == ["resumed"], report.as_dict()
        assert os.stat(objdir / "inventory.json").st_ino == made  # the same object, not a new one
        migrated_completely(ctx, [pid], tmp_path)


def test_an_object_that_does_not_match_the_catalog_keeps_its_bag(tmp_path: Path, legacy_package: LegacyMaker) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite3'}", replica=False)
    with context(config) as ctx:
        pid = legacy_package(ctx, HERITAGE, "heritage")
    assert run_forked(config, ["migrate-storage"], "migrate.after-create") == -9
    with context(config) as ctx:
        ocfl = OcflRoot(ctx.storage.root)
        flip_byte(ocfl.content_path(object_id(pid), TIF))
        report = migrate_storage(ctx)
        assert report.exit_status == 1
        [failed] = report.failed
        assert "kept beside it" in failed.reason and failed.findings[0].path == TIF
        assert legacy_path(ctx.storage.root, pid).is_dir()


# -- any payload ---------------------------------------------------------------------------------

NAMES = st.text(
    st.characters(categories=("Lu", "Ll", "Nd")) | st.sampled_from(list(" -_é日本ßΩ")), min_size=1, max_size=8
).map(lambda s: unicodedata.normalize("NFC", s).strip() or "x")
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/".join(parts) + ".txt")
CONTENTS = st.sampled_from([b"", b"same content\n", b"\x00\xff binary", b"x" * 5000])
PAYLOADS = st.dictionaries(PATHS, CONTENTS, min_size=1, max_size=6).filter(
    lambda d: (
        not any(other.startswith(p[:-4] + "/") or other.startswith(p + "/") for p in d for other in d)
        and len({p.casefold() for p in d}) == len(d)
    )
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(payload=PAYLOADS)
@example(payload={"é/日本 Ω.txt": b"", "a.txt": b"same content\n", "b/a.txt": b"same content\n", "c.txt": b""})
def test_any_payload_migrates_to_a_v1_identical_to_the_bag(
    payload: dict[str, bytes], legacy_package: LegacyMaker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("payload")
    (tmp / "home").mkdir()
    with ArchiveContext(make_settings(tmp / "home", replicas=[str(tmp / "replica")])) as ctx:
        submission = tmp / "submission"
        submission.mkdir()
        (submission / "metadata.yaml").write_text(METADATA_YAML, encoding="utf-8")
        for rel, data in payload.items():
            (submission / rel).parent.mkdir(parents=True, exist_ok=True)
            (submission / rel).write_bytes(data)
        pid = legacy_package(ctx, submission, "heritage")
        bags = {s.name: read_tree(legacy_path(s.root, pid)) for s in ctx.all_storage}
        assert all(f"data/{rel}" in bag for bag in bags.values() for rel in payload)
        report = migrate_storage(ctx)
        assert report.exit_status == 0, report.as_dict()
        for storage in ctx.all_storage:
            out = tmp / f"v1-{storage.name}"
            OcflRoot(storage.root).materialise(object_id(pid), out, 1)
            assert read_tree(out) == bags[storage.name]
            bagit.Bag(str(out)).validate()
        migrated_completely(ctx, [pid], tmp)


def test_a_root_of_the_old_layout_with_its_ledger_becomes_a_valid_ocfl_root(
    tmp_path: Path, legacy_package: LegacyMaker
) -> None:
    """An archive from before OCFL: no root declaration, the ledger in ``<root>/ledger/``. After the
    migration the ledger is under ``extensions/``, whole, and the root validates."""
    settings = make_settings(tmp_path / "home")
    with ArchiveContext(settings) as ctx:
        pid = legacy_package(ctx, HERITAGE, "heritage")
        root = ctx.storage.root
        lines = list(ctx.ledger.lines())
    for name in ("0=ocfl_1.1", "ocfl_layout.json"):
        (root / name).unlink()
    shutil.rmtree(root / "extensions" / "0003-hash-and-id-n-tuple-storage-layout")
    os.rename(root / "extensions" / "archive-ledger", root / "ledger")
    with ArchiveContext(settings) as ctx:
        assert ctx.ledger.path.parent == root / "ledger" and list(ctx.ledger.lines()) == lines
        report = migrate_storage(ctx)
        assert report.exit_status == 0, report.as_dict()
        assert ctx.ledger.path.parent == root / "extensions" / "archive-ledger"
        migrated_completely(ctx, [pid], tmp_path)
        assert ingest(ctx, HERITAGE, "heritage").created is False  # the archive works on

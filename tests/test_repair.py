"""Repair from a good copy: every kind of damage restored and re-verified with PREMIS events; with no
good copy left the archive says so and changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.catalog.audits import Audits
from archive.cli import main
from archive.services.ledgering import verify_ledger
from tests.conftest import tree_state
from tests.support.audit import DAMAGE, PDF, TIF, audit, object_folder, stored

REPAIRABLE = sorted(DAMAGE)


@pytest.mark.parametrize("damage", REPAIRABLE)
def test_each_kind_of_damage_in_the_primary_is_repaired_from_the_replica(rctx, copy_fixture, damage: str) -> None:
    pid = stored(rctx, copy_fixture)
    replica_before = tree_state(rctx.replicas[0].original_bag(pid))
    hurt, kind, path = DAMAGE[damage]
    hurt(rctx.storage.original_bag(pid))
    result = audit(rctx, package_ids=[pid], repair=True)
    assert result.failures and result.exit_status == 0, result.as_dict()
    (repair,) = result.repairs
    assert not repair.remaining and not repair.unrepairable
    if kind == "extra":
        assert repair.quarantined == [{"copy": "primary", "path": path}]
    else:
        assert all(r["copy"] == "primary" and r["source"] == "replica1" for r in repair.restored)
        assert path == "" or path in {r["path"] for r in repair.restored}
    assert tree_state(rctx.storage.original_bag(pid)) == replica_before  # byte for byte the good copy
    assert audit(rctx, package_ids=[pid]).exit_status == 0
    events = rctx.catalog.get_package(pid).events
    replication = [e for e in events if e.type == "replication"]
    assert len(replication) == 1 and replication[0].outcome == "success"
    fixity = [e.outcome for e in events if e.type == "fixity check"]
    assert sorted(fixity) == ["failure", "success", "success"]  # the audit, the re-verification, the next audit
    assert Audits(rctx.catalog).state(pid).outcome == "success"
    assert verify_ledger(rctx).ok


def test_damage_in_the_replica_is_repaired_from_the_primary(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    DAMAGE["content-changed"][0](rctx.replicas[0].original_bag(pid))
    result = audit(rctx, all=True, repair=True)
    assert result.repairs[0].restored == [{"copy": "replica1", "path": TIF, "source": "primary"}]
    quarantined = list((rctx.settings.replicas[0] / "extensions" / "archive-quarantine" / pid).rglob("*.tif"))
    assert len(quarantined) == 1  # the damaged bytes are kept as evidence, not deleted
    assert audit(rctx, all=True).exit_status == 0


def test_no_good_copy_left_changes_nothing(ctx, copy_fixture) -> None:
    pid = stored(ctx, copy_fixture)  # no replica
    DAMAGE["content-changed"][0](ctx.storage.original_bag(pid))
    before = tree_state(ctx.settings.storage)
    result = audit(ctx, package_ids=[pid], repair=True)
    assert result.exit_status == 1
    (repair,) = result.repairs
    assert not repair.changed and repair.unrepairable == [
        {"copy": "primary", "path": TIF, "reason": "no other copy of this file still verifies"}
    ]
    ledger = ctx.settings.storage / "extensions" / "archive-ledger"
    after = tree_state(ctx.settings.storage)
    kept = "extensions/archive-ledger"
    assert [f for f in after if not f[0].startswith(kept)] == [f for f in before if not f[0].startswith(kept)]
    assert [e.type for e in ctx.catalog.get_package(pid).events].count("replication") == 0
    assert ledger.is_dir()


def test_the_same_file_damaged_in_both_copies_is_not_repaired_but_others_are(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    for storage in rctx.all_storage:
        DAMAGE["content-changed"][0](storage.original_bag(pid))
    (rctx.storage.original_bag(pid) / PDF).unlink()
    result = audit(rctx, package_ids=[pid], repair=True)
    (repair,) = result.repairs
    assert repair.restored == [{"copy": "primary", "path": PDF, "source": "replica1"}]
    assert {(u["copy"], u["path"]) for u in repair.unrepairable} == {("primary", TIF), ("replica1", TIF)}
    assert result.exit_status == 1 and {f.path for f in repair.remaining} == {TIF}


def test_cli_repair(tmp_path: Path, copy_fixture) -> None:
    home, replica = tmp_path / "home", tmp_path / "replica"
    env = {"ARCHIVE_HOME": str(home), "ARCHIVE_REPLICAS": str(replica), "ARCHIVE_WORKERS": "1"}
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    pid = cli("ingest", str(copy_fixture("submissions/heritage-minimal")), "-p", "heritage").stdout.strip()
    assert "nothing to repair" in cli("repair", pid).stdout
    shutil.rmtree(object_folder(home / "storage", pid))
    fixed = cli("repair", pid, "--json")
    assert fixed.exit_code == 0, fixed.output
    data = json.loads(fixed.stdout)
    assert data["findings"][0]["kind"] == "package-missing" and len(data["repairs"][0]["restored"]) == 10
    assert cli("audit", pid).exit_code == 0
    assert cli("repair", "not-a-uuid").exit_code == 1  # NotFound
    (object_folder(replica, pid) / "v1" / "content" / PDF).write_bytes(b"x")
    (object_folder(home / "storage", pid) / "v1" / "content" / PDF).write_bytes(b"y")
    both_bad = cli("repair", pid)
    assert both_bad.exit_code == 1 and "no other copy" in both_bad.stdout and "nothing was changed" in both_bad.stdout

"""``archive doctor``: never touches live work, settles what dead processes left, storage being the
truth; never deletes a stored package (quarantine instead); exit statuses 0 / 1 / 3; and the
start-up clean of ``ingest``, ``audit`` and ``serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from click.testing import CliRunner

from archive.cli import main
from archive.services.ingest.run import ingest
from archive.services.recovery.doctor import run_doctor
from archive.storage.local import STAGING
from archive.storage.staging import TMP_PREFIX
from tests.support.audit import TIF, flip_byte
from tests.support.crash import context, run_forked, staging_entries, write_config

SUB = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"


def _stored_not_catalogued(config: Path) -> str:
    assert run_forked(config, ["ingest", str(SUB), "--profile", "heritage"], "catalog.before-commit") == -9
    with context(config) as ctx:
        (pid,) = ctx.storage.iter_package_ids()
        return pid


def _config(tmp_path: Path, database_url: str | None = None) -> Path:
    return write_config(tmp_path, database_url or f"sqlite:///{tmp_path / 'catalog.sqlite3'}")


def test_healthy_archive(tmp_path: Path, database_url: str) -> None:
    config = _config(tmp_path, database_url)
    with context(config) as ctx:
        assert run_doctor(ctx).exit_status == 0  # nothing stored yet
        ingest(ctx, SUB, "heritage")
        report = run_doctor(ctx)
        assert report.exit_status == 0 and report.issues == [] and report.checked["catalogued"] == 1


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    pid = _stored_not_catalogued(config)
    with context(config) as ctx:
        leftovers = staging_entries(ctx)
        report = run_doctor(ctx, dry_run=True)
        assert report.exit_status == 1
        assert {i.kind for i in report.issues} >= {"staging-leftover", "uncatalogued-package"}
        assert all(i.action.startswith("would be ") for i in report.issues)
        assert staging_entries(ctx) == leftovers and ctx.catalog.count_packages() == 0
        assert run_doctor(ctx).exit_status == 1 and ctx.catalog.exists(pid)


def test_live_staging_and_claimed_packages_are_left_alone(tmp_path: Path) -> None:
    config = _config(tmp_path)
    pid = _stored_not_catalogued(config)
    with context(config) as ctx:
        run_doctor(ctx, dry_run=True)
        live = ctx.storage.new_staging("ingest")  # as a running ingest holds it
        ctx.storage.claim(live, pid)  # ... about to catalogue this package
        young = ctx.storage.root / STAGING / f"{TMP_PREFIX}{uuid.uuid4()}"
        young.mkdir()  # a staging folder being created this instant
        report = run_doctor(ctx)
        assert live.is_dir() and young.is_dir() and not ctx.catalog.exists(pid)
        assert report.checked["in_progress"] == 1
        assert "uncatalogued-package" not in {i.kind for i in report.issues}
        ctx.storage.discard(live)  # the ingest died or finished without cataloguing: now doctor acts
        assert run_doctor(ctx).exit_status == 1 and ctx.catalog.exists(pid)


def test_live_staging_of_another_process_is_left_alone(tmp_path: Path) -> None:
    config = _config(tmp_path)
    code = (
        "import sys, time; from pathlib import Path; from archive.storage import LocalStorage; "
        "s = LocalStorage(Path(sys.argv[1])); print(s.new_staging('ingest'), flush=True); time.sleep(60)"
    )
    with context(config) as ctx:
        proc = subprocess.Popen([sys.executable, "-c", code, str(ctx.storage.root)], stdout=subprocess.PIPE, text=True)
        try:
            live = Path(proc.stdout.readline().strip())  # type: ignore[union-attr]
            assert live.is_dir()
            run_doctor(ctx)
            assert live.is_dir()
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]
        report = run_doctor(ctx)  # its owner is dead now
        assert not live.exists() and [i.kind for i in report.issues] == ["staging-leftover"]


def test_uncatalogued_package_with_one_damaged_copy_is_catalogued_from_the_good_one(tmp_path: Path) -> None:
    config = _config(tmp_path)
    pid = _stored_not_catalogued(config)
    with context(config) as ctx:
        flip_byte(ctx.storage.original_bag(pid) / TIF)
        report = run_doctor(ctx)
        actions = {(i.kind, i.where): i.action for i in report.issues}
        assert "quarantined" in actions[("damaged-copy", "primary")]
        assert actions[("copy-missing", "primary")] == "replicated"
        assert actions[("uncatalogued-package", "replica1")] == "catalogued from its METS"
        assert len(list((ctx.storage.root / "extensions" / "archive-quarantine" / pid).rglob("*.tif"))) == 1
        assert run_doctor(ctx).exit_status == 0
        from archive.services.audit.run import AuditOptions, run_audit

        assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0


def test_damaged_uncatalogued_package_is_quarantined_not_deleted(tmp_path: Path) -> None:
    config = _config(tmp_path)
    pid = _stored_not_catalogued(config)
    with context(config) as ctx:
        for storage in ctx.all_storage:
            flip_byte(storage.original_bag(pid) / TIF)
        report = run_doctor(ctx)
        assert report.exit_status == 1
        issues = [i for i in report.issues if i.kind == "damaged-package"]
        assert [i.where for i in issues] == ["primary", "replica1"]
        assert all(TIF in i.message and "quarantined" in i.action for i in issues)
        assert not any(s.exists(pid) for s in ctx.all_storage) and not ctx.catalog.exists(pid)
        kept = list((ctx.storage.root / "extensions" / "archive-quarantine" / pid).rglob("*.tif"))
        assert len(kept) == 1
        withdrawn = [line for _, line in ctx.ledger.lines() if '"kind":"withdrawn"' in line and pid in line]
        assert len(withdrawn) == 1
        assert run_doctor(ctx).exit_status == 0


def test_retry_before_doctor_leaves_one_package(tmp_path: Path) -> None:
    """Killed after storing, retried at once: the retry makes the package; doctor quarantines the first."""
    config = _config(tmp_path)
    first = _stored_not_catalogued(config)
    with context(config) as ctx:
        second = ingest(ctx, SUB, "heritage")
        assert second.created and second.package_id != first
        report = run_doctor(ctx)
        assert "duplicate-package" in {i.kind for i in report.issues}
        assert ctx.catalog.package_ids() == [second.package_id]
        assert list(ctx.storage.iter_package_ids()) == [second.package_id]
        assert run_doctor(ctx).exit_status == 0


def test_catalogued_package_missing_from_storage_is_reported(tmp_path: Path, database_url: str) -> None:
    config = _config(tmp_path, database_url)
    with context(config) as ctx:
        pid = ingest(ctx, SUB, "heritage").package_id
        os.rename(ctx.replicas[0].path_of(pid), tmp_path / "elsewhere")
        report = run_doctor(ctx)
        assert report.exit_status == 1
        (issue,) = report.issues
        assert (issue.kind, issue.subject, issue.where, issue.action) == (
            "package-missing",
            pid,
            "replica1",
            "reported",
        )
        assert ctx.catalog.exists(pid)  # the catalog row stays: `archive repair` restores the copy


def test_doctor_command_exit_statuses(tmp_path: Path) -> None:
    config = _config(tmp_path)
    run = CliRunner().invoke
    nothing = run(main, ["--config", str(config), "doctor", "--json"])  # no archive there: refused, none created
    assert nothing.exit_code == 2 and "no archive at" in json.loads(nothing.output)["error"]["message"]
    assert not (tmp_path / "catalog.sqlite3").exists()
    with context(config) as ctx:
        ctx.create_archive()
    ok = run(main, ["--config", str(config), "doctor", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True
    _stored_not_catalogued(config)
    dry = run(main, ["--config", str(config), "doctor", "--dry-run", "--json"])
    assert dry.exit_code == 1 and json.loads(dry.output)["dry_run"] is True
    found = run(main, ["--config", str(config), "doctor"])
    assert found.exit_code == 1 and "uncatalogued-package" in found.output
    assert run(main, ["--config", str(config), "doctor"]).exit_code == 0
    (tmp_path / "b").mkdir()
    broken = write_config(tmp_path / "b", "postgresql://nobody@127.0.0.1:1/none")
    unreachable = run(main, ["--config", str(broken), "doctor", "--json"])
    assert unreachable.exit_code == 3 and json.loads(unreachable.output)["unchecked"]


def test_ingest_and_audit_clean_dead_staging_at_start(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with context(config) as ctx:
        ingest(ctx, SUB, "heritage")
        dead = ctx.storage.root / STAGING / f"{uuid.uuid4()}-ingest"
        (dead / "bag" / "data").mkdir(parents=True)  # no lock held: its process is gone
        (dead / "bag" / "data" / "half.tif").write_bytes(b"half")
    run = CliRunner().invoke
    assert run(main, ["--config", str(config), "list"]).exit_code == 0
    assert dead.exists()  # reading commands change nothing
    assert run(main, ["--config", str(config), "audit", "--all"]).exit_code == 0
    assert not dead.exists()
    (dead / "bag").mkdir(parents=True)
    assert run(main, ["--config", str(config), "ingest", str(SUB), "-p", "heritage"]).exit_code == 0
    assert not dead.exists()

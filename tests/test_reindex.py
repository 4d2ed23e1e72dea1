"""A lost catalog: ``archive reindex`` rebuilds it from storage alone, identical to what was lost
(``archive.catalog.dump``: every rebuilt table's rows, sorted, without surrogate keys)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from archive.catalog.dump import NOT_REBUILT, dump, unaccounted_tables
from archive.cli import main
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from archive.services.recovery.doctor import run_doctor
from archive.services.recovery.reindex import CatalogNotEmpty, reindex
from tests.conftest import DATA, REPO, make_settings
from tests.support.audit import TIF, flip_byte

VARIED = [
    ("examples/heritage-harbour-photographs", "heritage"),
    ("examples/legal-contract-dispute", "legal"),
    ("examples/research-coastal-sensors", "research"),
    ("submissions/research-bag", "research"),
    ("submissions/heritage-minimal", "heritage"),
    ("submissions/legal-minimal", "legal"),
]


def _context(home: Path, url: str, tmp: Path) -> ArchiveContext:
    return ArchiveContext(
        make_settings(home, database_url=url, replicas=[str(tmp / "replica")], orphan_grace_seconds=0)
    )


def _varied_archive(ctx: ArchiveContext, tmp: Path) -> list[str]:
    ids = []
    for rel, profile in VARIED:
        src = (DATA / rel) if (DATA / rel).exists() else (REPO / rel)
        dest = tmp / "in" / Path(rel).name
        shutil.copytree(src, dest)
        ids.append(ingest(ctx, dest, profile, agent="archivist").package_id)
    assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0
    damaged = ids[4]
    flip_byte(ctx.replicas[0].original_bag(damaged) / TIF)  # an audit that fails, then a repair
    assert run_audit(ctx, AuditOptions(all=True, repair=True)).exit_status == 0
    orphan = ctx.storage.path_of(f"0000{uuid.uuid4().hex[4:8]}-0000-4000-8000-000000000000")
    orphan.mkdir(parents=True)  # not a package: found by the audit as an orphan, then removed
    assert run_audit(ctx, AuditOptions(all=True)).exit_status == 1
    shutil.rmtree(orphan)
    run_audit(ctx, AuditOptions(all=True, max_bytes=1))  # a budgeted pass left part-way (cursor)
    return ids


def _lose_catalog(url: str, home: Path) -> None:
    if url.startswith("sqlite"):
        for p in home.glob("catalog.sqlite3*"):
            p.unlink()
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
        for p in Path(url.split("///", 1)[1]).parent.glob("*.sqlite3-*"):
            p.unlink()
        return
    schema = url.rsplit("%3D", 1)[1]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()


def test_every_table_is_either_rebuilt_or_explained() -> None:
    assert unaccounted_tables() == []
    assert all(reason for reason in NOT_REBUILT.values())


def test_reindex_rebuilds_an_identical_catalog(archive_home: Path, database_url: str, tmp_path: Path) -> None:
    with _context(archive_home, database_url, tmp_path) as ctx:
        ids = _varied_archive(ctx, tmp_path)
        before = dump(ctx.catalog)
        packages_before = {pid: ctx.catalog.get_package(pid) for pid in ids}
    assert len(before["packages"]) == len(VARIED) and before["audit_runs"] and before["audit_findings"]
    assert any(r["cursor"] for r in before["package_fixity"]) and before["search_terms"]
    assert any(e["type"] == "replication" for e in before["events"])
    _lose_catalog(database_url, archive_home)
    with _context(archive_home, database_url, tmp_path) as ctx:
        assert ctx.catalog.count_packages() == 0
        report = reindex(ctx)
        assert report.problems == [] and report.packages == len(VARIED)
        after = dump(ctx.catalog)
        for table in before:
            assert after[table] == before[table], table
        assert {pid: ctx.catalog.get_package(pid) for pid in ids} == packages_before
        assert verify_ledger(ctx).ok
        assert run_doctor(ctx).exit_status == 0
        assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0


def test_reindex_refuses_a_catalog_that_is_not_empty_unless_forced(sqlite_ctx, copy_fixture) -> None:
    ingest(sqlite_ctx, copy_fixture("submissions/heritage-minimal"), "heritage")
    before = dump(sqlite_ctx.catalog)
    with pytest.raises(CatalogNotEmpty, match="--force"):
        reindex(sqlite_ctx)
    assert reindex(sqlite_ctx, force=True, verify=True).packages == 1
    assert dump(sqlite_ctx.catalog) == before


def test_reindex_reports_a_package_that_differs_from_its_ledger_token(sqlite_ctx, copy_fixture) -> None:
    pid = ingest(sqlite_ctx, copy_fixture("submissions/heritage-minimal"), "heritage").package_id
    flip_byte(sqlite_ctx.storage.original_bag(pid) / TIF)
    report = reindex(sqlite_ctx, force=True, verify=True)
    assert report.packages == 1 and report.exit_status == 1
    assert any(p["package"] == pid and TIF in p["message"] for p in report.problems)
    assert run_audit(sqlite_ctx, AuditOptions(all=True)).exit_status == 1  # still catalogued: audit and repair see it


def test_reindex_command(tmp_path: Path, copy_fixture) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"home: {tmp_path / 'home'}\nworkers: 1\n")
    run = CliRunner().invoke
    assert (
        run(
            main, ["--config", str(settings), "ingest", str(copy_fixture("submissions/legal-minimal")), "-p", "legal"]
        ).exit_code
        == 0
    )
    refused = run(main, ["--config", str(settings), "reindex", "--json"])
    assert refused.exit_code == 1 and json.loads(refused.output)["ok"] is False
    done = run(main, ["--config", str(settings), "reindex", "--force", "--verify", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["ok"] and data["packages"] == 1 and data["ledger_entries"] > 0

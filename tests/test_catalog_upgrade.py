"""A catalog made before package versions (revision 0005) upgrades in place: every package becomes
version 1 of itself, its files hold from version 1, and a path can then change across versions."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from archive.catalog.db import alembic_config, make_engine
from archive.catalog.repository import Catalog

PID = "00000000-0000-4000-8000-0000000000aa"


def test_a_0005_catalog_upgrades_and_keeps_its_packages(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(
            text(
                "INSERT INTO packages (id, profile_id, profile_version, title, created_at, source_name, "
                "idempotency_key, access_level, access_statement, file_count, total_bytes, storage_path, "
                "mets_sha256, descriptive, dublin_core, bag_info, tag_digests) VALUES (:id, 'heritage', '1.0.0', "
                "'Old', '2026-01-01 00:00:00', 'sub', 'k', 'open', '', 1, 3, 'aa/bb/x', :m, :d, '{}', '{}', '{}')"
            ),
            {"id": PID, "m": "0" * 64, "d": '{"title": "Old"}'},
        )
        conn.execute(
            text(
                "INSERT INTO package_files (package_id, path, size, digests, format_name, format_version, mime, "
                "basis, tool, tool_version, signature_version, format_warning, original_name, file_metadata) "
                "VALUES (:id, 'a.txt', 3, '{}', '', '', '', '', '', '', '', '', 'a.txt', '{}')"
            ),
            {"id": PID},
        )
        conn.execute(
            text(
                "INSERT INTO events (id, package_id, type, occurred_at, detail, outcome, outcome_detail, agents, "
                "objects) VALUES ('e1', :id, 'ingestion', '2026-01-01 00:00:00', '', 'success', '', '[]', '[]')"
            ),
            {"id": PID},
        )
    engine.dispose()
    catalog = Catalog(database_url)  # migrates to the newest revision
    try:
        (version,) = catalog.versions(PID)
        assert (version.number, version.kind, version.title, version.file_count) == (1, "ingest", "Old", 1)
        pkg = catalog.get_package(PID)
        assert pkg.version == 1 and [f.path for f in pkg.files] == ["a.txt"] and not pkg.held
        assert [e.identifier for e in pkg.events] == ["e1"]  # no row of any child table is lost
        with catalog.engine.begin() as conn:  # the same path may now start again in a later version
            conn.execute(
                text(
                    "INSERT INTO package_files (package_id, path, size, digests, format_name, format_version, "
                    "mime, basis, tool, tool_version, signature_version, format_warning, original_name, "
                    "file_metadata, since_version) VALUES (:id, 'a.txt', 4, '{}', '', '', '', '', '', '', '', '', "
                    "'a.txt', '{}', 2)"
                ),
                {"id": PID},
            )
    finally:
        catalog.close()

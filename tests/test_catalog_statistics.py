"""SQLite's query planner gets statistics, so a search with the access filter starts from its words.

Without ``ANALYZE`` SQLite takes every index for selective, and a researcher's search (the words'
terms AND the visible profiles and levels) walked every package of the visible profiles through
``ix_packages_profile_id``: ten times slower at 10,000 packages, and growing with the catalog.
The catalog now analyses itself when it opens without statistics or after growing twofold.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import event

from archive.catalog.db import refresh_statistics
from archive.catalog.repository import Catalog
from archive.services.context import ArchiveContext
from archive.services.retrieve.listing import Filters, search_packages
from archive.services.retrieve.usage import Caller
from tests.conftest import REPO, make_settings

sys.path.insert(0, str(REPO))
from bench.api_load import _package


def _fill(ctx: ArchiveContext, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(count):
        ctx.catalog.record_package(_package(i, rng), "bench", "0" * 64, {})


def _stats(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as c:
        if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            return []
        return c.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'packages'").fetchall()


def test_a_catalog_gets_statistics_when_it_has_grown(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    db = tmp_path / "home" / "catalog.sqlite3"
    with ArchiveContext(settings) as ctx:
        assert ctx.settings.database_url.endswith(str(db))
        _fill(ctx, 150)
        assert _stats(db) == []  # a new catalog: too small to need them when it was opened
    Catalog(settings.database_url).close()  # opened again, grown: analysed
    stats = dict(_stats(db))
    assert 75 <= int(stats["ix_packages_profile_id"].split()[0]) <= 300
    catalog = Catalog(settings.database_url)
    assert not refresh_statistics(catalog.engine)  # fresh: not analysed again on every open
    catalog.close()


def test_a_researchers_search_starts_from_its_words(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    with ArchiveContext(settings) as ctx:
        _fill(ctx, 400)
    with ArchiveContext(settings) as ctx:
        seen: list[tuple[str, tuple]] = []

        @event.listens_for(ctx.catalog.engine, "before_cursor_execute")
        def _record(conn, cursor, statement, parameters, context, executemany) -> None:
            seen.append((statement, parameters))

        result = search_packages(ctx, Caller("researcher"), Filters(text="harbour"), 20, lambda: None)
        assert result.total > 0
        counting = next((s, p) for s, p in seen if s.lstrip().startswith("SELECT count(*)"))
        with sqlite3.connect(tmp_path / "home" / "catalog.sqlite3") as c:
            plan = " | ".join(row[3] for row in c.execute("EXPLAIN QUERY PLAN " + counting[0], counting[1]))
    assert "search_terms" in plan and "ix_packages_profile_id" not in plan, plan


def test_statistics_that_cannot_be_written_leave_the_catalog_as_it_was(tmp_path: Path, monkeypatch) -> None:
    """A read-only catalog, or a lock held past the busy timeout: the catalog opens and works."""
    settings = make_settings(tmp_path / "home")
    with ArchiveContext(settings) as ctx:
        _fill(ctx, 120)
    catalog = Catalog(settings.database_url, run_migrations=False)

    def fails(*args: object, **kwargs: object) -> None:
        raise sqlalchemy.exc.OperationalError(
            "ANALYZE", {}, sqlite3.OperationalError("attempt to write a readonly database")
        )

    monkeypatch.setattr(catalog.engine, "begin", fails)
    assert refresh_statistics(catalog.engine) is False
    monkeypatch.undo()
    assert catalog.count_packages() == 120
    catalog.close()


def test_a_catalog_of_one_profile_lists_its_newest_without_sorting_them_all(tmp_path: Path, monkeypatch) -> None:
    """A sample misjudges a column of few values: every package of one profile looked like a
    small share, so listing the catalog sorted every visible package for one page (86 ms instead
    of 0.2 ms at 100,000 packages). The tables of one row per package are analysed whole."""
    from archive.catalog import db

    monkeypatch.setattr(db, "ANALYSIS_LIMIT", 50)  # a sample far smaller than the catalog
    monkeypatch.setattr(db, "STATISTICS_FROM", 10)
    settings = make_settings(tmp_path / "home")
    with ArchiveContext(settings) as ctx:
        _fill(ctx, 300)  # every one of profile heritage
    with ArchiveContext(settings) as ctx:
        assert ctx.catalog.count_packages() == 300  # opened again, grown: analysed
        stats = dict(_stats(tmp_path / "home" / "catalog.sqlite3"))
        assert stats["ix_packages_profile_id"] == "300 300", stats  # exact, not the sample's ~50
        seen: list[tuple[str, tuple]] = []

        @event.listens_for(ctx.catalog.engine, "before_cursor_execute")
        def _record(conn, cursor, statement, parameters, context, executemany) -> None:
            seen.append((statement, parameters))

        result = search_packages(ctx, Caller("researcher"), Filters(), 20, lambda: None)
        assert result.total == 300 and len(result.items) == 20
        listing = next((s, p) for s, p in seen if "ORDER BY" in s and "LIMIT" in s)
        with sqlite3.connect(tmp_path / "home" / "catalog.sqlite3") as c:
            plan = " | ".join(row[3] for row in c.execute("EXPLAIN QUERY PLAN " + listing[0], listing[1]))
    assert "ix_packages_created_at" in plan, plan


def test_a_postgresql_catalog_never_analysed_gets_statistics(tmp_path: Path, database_url: str) -> None:
    """A PostgreSQL server may run without autovacuum: then nothing analyses the catalog, and at
    100,000 packages one search took over 16 s. The catalog analyses itself when PostgreSQL's own
    estimate of its packages is missing or off twofold."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's statistics")
    settings = make_settings(tmp_path / "home", database_url=database_url)
    with ArchiveContext(settings) as ctx:
        _fill(ctx, 150)
        engine = ctx.catalog.engine
        refresh_statistics(engine)  # never analysed (unless the server's autovacuum came first)
        with engine.begin() as conn:
            after = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'packages'::regclass").scalar()
        assert float(after) == 150
        assert not refresh_statistics(engine)  # fresh: not again

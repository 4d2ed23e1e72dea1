"""The catalog's operations: record a package in one transaction, read it back, list and find."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from archive.batches import batched
from archive.catalog import search_index
from archive.catalog.db import make_engine, migrate, refresh_statistics
from archive.catalog.guard import guarded
from archive.catalog.records import PackageInfo, VersionRecord, aware
from archive.catalog.tables import (
    AgentRow,
    EventRow,
    FileRow,
    MetadataValueRow,
    PackageRow,
    SearchDateRow,
    SearchTermRow,
    TombstoneRow,
    VersionRow,
)
from archive.errors import CatalogError, ChangeConflict, NotFound
from archive.faults import fault_point, register
from archive.model import Access, Agent, Event, FileRecord, FormatInfo, Package

register("catalog.before-commit", "catalog.after-commit")


class AlreadyRecorded(CatalogError):
    """The package's idempotency key is recorded already, for ``existing`` (a concurrent ingest won)."""

    code = "E701"

    def __init__(self, message: str, existing: str) -> None:
        super().__init__(message)
        self.existing = existing


#: the ``packages`` columns a :class:`PackageInfo` is made of (``PackageInfo.from_row``)
PACKAGE_INFO_COLUMNS = (
    PackageRow.id,
    PackageRow.profile_id,
    PackageRow.profile_version,
    PackageRow.title,
    PackageRow.created_at,
    PackageRow.access_level,
    PackageRow.embargo_until,
    PackageRow.access_statement,
    PackageRow.file_count,
    PackageRow.total_bytes,
    PackageRow.storage_path,
    PackageRow.mets_sha256,
    PackageRow.tag_digests,
    PackageRow.version,
    PackageRow.held,
)


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for v in value:
            yield from _flatten(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif value is not None:
        yield str(value)


#: what makes two file rows the same file: a row whose content, format or metadata changed ends
_FILE_IDENTITY = (
    "size",
    "digests",
    "puid",
    "format_name",
    "format_version",
    "mime",
    "basis",
    "original_name",
    "file_metadata",
)


def in_version(version: int | None) -> tuple[Any, ...]:
    """The conditions on ``FileRow`` for the files of ``version`` (the head when None)."""
    if version is None:
        return (FileRow.until_version.is_(None),)
    return (
        FileRow.since_version <= version,
        (FileRow.until_version.is_(None)) | (FileRow.until_version > version),
    )


#: rows inserted by one executemany when a package's files or events are recorded
INSERT_CHUNK = 1000


def _insert_chunked(s: Session, model: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert ``rows`` :data:`INSERT_CHUNK` at a time (in the session's transaction): the rows of a
    million-file package are made as they are inserted, never held all at once. Into the model's
    table, as one executemany each: the ORM's bulk insert of the same rows took twice as long."""
    statement = insert(model.__table__)
    for chunk in batched(rows, INSERT_CHUNK):
        s.execute(statement, chunk)


def _file_differs(row: FileRow, wanted: dict[str, Any]) -> bool:
    return any(getattr(row, name) != wanted[name] for name in _FILE_IDENTITY)


#: how many :meth:`Catalog.connection` blocks are open on a scope's connection (``Connection.info``)
_DEPTH = "archive.catalog.depth"


class Catalog:
    """A catalog database. ``Catalog(url)`` opens it and brings its schema up to date."""

    @guarded("open the catalog")
    def __init__(self, url: str, engine: Engine | None = None, run_migrations: bool = True) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        if run_migrations:
            migrate(self.engine)
            refresh_statistics(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: the connection of the :meth:`scope` the running code is in (None: each session takes its own)
        self._scoped: ContextVar[Connection | None] = ContextVar(f"catalog-scope-{id(self)}", default=None)

    @guarded("close the catalog")
    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        """A new ORM session, for the catalog's own modules (whose public functions are guarded);
        inside a :meth:`scope`, on the scope's connection."""
        conn = self._scoped.get()
        return self._sessions() if conn is None else self._sessions(bind=conn)

    @contextmanager
    @guarded("reach the catalog {self.url}")
    def connection(self) -> Iterator[Connection]:
        """A Core connection for the catalog's own modules: the :meth:`scope`'s, if inside one
        (what the outermost block began on it is rolled back after, as closing a connection of
        its own would; a block inside a block leaves the outer one's transaction alone), else
        one of its own."""
        conn = self._scoped.get()
        if conn is None:
            with self.engine.connect() as own:
                yield own
            return
        depth = conn.info.get(_DEPTH, 0)
        conn.info[_DEPTH] = depth + 1
        try:
            yield conn
        finally:
            conn.info[_DEPTH] = depth
            if depth == 0 and conn.in_transaction():
                conn.rollback()

    @contextmanager
    @guarded("reach the catalog {self.url}")
    def transaction(self) -> Iterator[Connection]:
        """:meth:`connection` in a transaction, committed when the block ends without an error
        (inside a block of the same scope: a savepoint, kept or not with the outer transaction)."""
        with self.connection() as conn:
            if conn.in_transaction():
                with conn.begin_nested():
                    yield conn
            else:
                with conn.begin():
                    yield conn

    @contextmanager
    @guarded("reach the catalog {self.url}")
    def scope(self) -> Iterator[None]:
        """Every session opened inside (in this thread or task) runs on one connection, taken from
        the pool once: what one answer reads (a package page: the caller, the package, its
        metadata, its formats, the access record, the last audit) costs one checkout (and, on
        PostgreSQL, one liveness ping) instead of one per session. Each session still has its
        own transaction. A scope inside a scope is the outer one."""
        if self._scoped.get() is not None:
            yield
            return
        conn = self.engine.connect()
        token = self._scoped.set(conn)
        try:
            yield
        finally:
            self._scoped.reset(token)
            conn.close()

    @contextmanager
    @guarded("lock packages in the catalog {self.url}")
    def package_locks(self, package_ids: Sequence[str]) -> Iterator[set[str]]:
        """Those of ``package_ids`` no other process holds, each locked for this one while the block
        runs (PostgreSQL session advisory locks on one connection of their own; a process that dies
        loses them with its connection). On SQLite the archive runs in one process: every id."""
        if self.engine.dialect.name != "postgresql":
            yield set(package_ids)
            return
        lock = text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))")
        unlock = text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))")
        with self.engine.connect() as conn:
            held: set[str] = set()
            try:
                for pid in package_ids:
                    if conn.execute(lock, {"key": f"archive.package:{pid}"}).scalar():
                        held.add(pid)
                conn.commit()
                yield held
            finally:
                for pid in held:
                    conn.execute(unlock, {"key": f"archive.package:{pid}"})
                conn.commit()

    @contextmanager
    @guarded("lock the catalog {self.url}")
    def lock(self, name: str, shared: bool = False) -> Iterator[bool]:
        """Whether this process got the catalog-wide lock ``name`` (shared: beside other shared
        holders), held while the block runs: a PostgreSQL session advisory lock, seen by every
        machine using the catalog and lost with a process that dies. On SQLite: True (the file
        locks of the archive's home do this there)."""
        if self.engine.dialect.name != "postgresql":
            yield True
            return
        kind = "_shared" if shared else ""
        with self.engine.connect() as conn:
            got = bool(
                conn.execute(text(f"SELECT pg_try_advisory_lock{kind}(hashtextextended(:k, 0))"), {"k": name}).scalar()
            )
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text(f"SELECT pg_advisory_unlock{kind}(hashtextextended(:k, 0))"), {"k": name})
                    conn.commit()

    @guarded("reach the catalog {self.url}")
    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- writing -------------------------------------------------------------
    @guarded("record package {pkg.id}")
    def record_package(
        self, pkg: Package, storage_path: str, mets_sha256: str, tag_digests: dict[str, dict[str, str]]
    ) -> None:
        """Record a stored package, its files, metadata, agents and events in one transaction."""
        row = PackageRow(
            id=pkg.id,
            profile_id=pkg.profile_id,
            profile_version=pkg.profile_version,
            created_at=pkg.created,
            source_name=pkg.source_name,
            idempotency_key=pkg.idempotency_key or None,
            storage_path=storage_path,
            fixity_interval_days=pkg.fixity_interval_days,
            **self._head_values(pkg, mets_sha256, tag_digests),
        )
        try:
            with self.session() as s, s.begin():
                s.add(row)
                s.flush()
                # bulk inserts (executemany): thousands of files cost milliseconds, not ORM objects
                _insert_chunked(s, FileRow, self._file_rows(pkg))
                values = self._value_rows(pkg)
                if values:
                    s.execute(insert(MetadataValueRow), values)
                    search_index.record(s, pkg.id, ((v["field"], v["value"]) for v in values))
                if pkg.agents:
                    s.execute(insert(AgentRow), self._agent_rows(pkg.id, pkg.agents))
                _insert_chunked(s, EventRow, (EventRow.values(pkg.id, e) for e in pkg.events))
                s.execute(insert(VersionRow), [self._version_row(pkg, 1, "ingest", "", mets_sha256, tag_digests)])
                fault_point("catalog.before-commit")  # everything inserted, nothing committed
        except IntegrityError as exc:
            existing = self.find_by_key(pkg.idempotency_key) if pkg.idempotency_key else None
            if existing and existing != pkg.id:
                raise AlreadyRecorded(
                    f"a package with idempotency key {pkg.idempotency_key} is already recorded: {existing}", existing
                ) from exc
            raise
        fault_point("catalog.after-commit")

    @staticmethod
    def _head_values(pkg: Package, mets_sha256: str, tag_digests: dict[str, dict[str, str]]) -> dict[str, Any]:
        """The ``packages`` columns that describe the head version (ingest and every new version)."""
        return {
            "title": pkg.title,
            "access_level": pkg.access.level,
            "embargo_until": pkg.access.embargo_until,
            "access_statement": pkg.access.statement,
            "file_count": len(pkg.files),
            "total_bytes": pkg.total_bytes,
            "mets_sha256": mets_sha256,
            "descriptive": pkg.metadata,
            "dublin_core": pkg.dublin_core,
            "bag_info": pkg.bag_info,
            "tag_digests": tag_digests,
            "held": pkg.held,
        }

    @staticmethod
    def _agent_rows(package_id: str, agents: list[Agent]) -> list[dict[str, Any]]:
        return [
            {"package_id": package_id, "identifier": a.identifier, "name": a.name, "type": a.type, "note": a.note}
            for a in agents
        ]

    @staticmethod
    def _version_row(
        pkg: Package, number: int, kind: str, reason: str, mets_sha256: str, tag_digests: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        return {
            "package_id": pkg.id,
            "number": number,
            "created_at": pkg.version_created or pkg.created,
            "kind": kind,
            "reason": reason,
            "agent": pkg.version_agent,
            "mets_sha256": mets_sha256,
            "tag_digests": tag_digests,
            "descriptive": pkg.metadata,
            "dublin_core": pkg.dublin_core,
            "bag_info": pkg.bag_info,
            "access_level": pkg.access.level,
            "embargo_until": pkg.access.embargo_until,
            "access_statement": pkg.access.statement,
            "held": pkg.held,
            "file_count": len(pkg.files),
            "total_bytes": pkg.total_bytes,
        }

    @guarded("record version {number} of package {pkg.id}")
    def record_version(
        self,
        pkg: Package,
        number: int,
        kind: str,
        reason: str,
        mets_sha256: str,
        tag_digests: dict[str, dict[str, str]],
        new_events: list[Event],
        new_agents: list[Agent],
    ) -> None:
        """Record version ``number`` of a catalogued package in one transaction: the head's columns,
        file rows (a changed or withdrawn file's row ends at ``number``; a new or changed one starts
        there), metadata and search values, the new events and agents, and the version's row.
        Raises :class:`VersionConflict` unless the catalog's head is ``number - 1``."""
        with self.session() as s, s.begin():
            moved = s.execute(
                update(PackageRow)
                .where(PackageRow.id == pkg.id, PackageRow.version == number - 1)
                .values(version=number, **self._head_values(pkg, mets_sha256, tag_digests))
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise ChangeConflict(
                    f"package {pkg.id} is no longer at version {number - 1} in the catalog: another change came first"
                )
            head = {
                r.path: r
                for r in s.scalars(select(FileRow).where(FileRow.package_id == pkg.id, FileRow.until_version.is_(None)))
            }
            wanted = {row["path"]: row for row in self._file_rows(pkg)}
            ended = [path for path, r in head.items() if path not in wanted or _file_differs(r, wanted[path])]
            if ended:
                for chunk in range(0, len(ended), 500):
                    s.execute(
                        update(FileRow)
                        .where(
                            FileRow.package_id == pkg.id,
                            FileRow.until_version.is_(None),
                            FileRow.path.in_(ended[chunk : chunk + 500]),
                        )
                        .values(until_version=number)
                    )
            replaced = set(ended)  # once: it was made again for every file the head holds
            started = (
                {**row, "since_version": number} for path, row in wanted.items() if path not in head or path in replaced
            )
            _insert_chunked(s, FileRow, started)
            s.execute(delete(MetadataValueRow).where(MetadataValueRow.package_id == pkg.id))
            s.execute(delete(SearchTermRow).where(SearchTermRow.package_id == pkg.id))
            s.execute(delete(SearchDateRow).where(SearchDateRow.package_id == pkg.id))
            values = self._value_rows(pkg)
            if values:
                s.execute(insert(MetadataValueRow), values)
                search_index.record(s, pkg.id, ((v["field"], v["value"]) for v in values))
            if new_agents:
                s.execute(insert(AgentRow), self._agent_rows(pkg.id, new_agents))
            _insert_chunked(s, EventRow, (EventRow.values(pkg.id, e) for e in new_events))
            s.execute(insert(VersionRow), [self._version_row(pkg, number, kind, reason, mets_sha256, tag_digests)])
            fault_point("catalog.before-commit")
        fault_point("catalog.after-commit")

    @guarded("read the versions of package {package_id}")
    def versions(self, package_id: str) -> list[VersionRecord]:
        with self.session() as s:
            self._row(s, package_id)
            rows = s.scalars(
                select(VersionRow).where(VersionRow.package_id == package_id).order_by(VersionRow.number)
            ).all()
            return [VersionRecord.from_row(r) for r in rows]

    @staticmethod
    def _file_rows(pkg: Package) -> Iterator[dict[str, Any]]:
        for f in pkg.files:
            fmt = f.format or FormatInfo(puid=None)
            yield (
                {
                    "package_id": pkg.id,
                    "path": f.path,
                    "size": f.size,
                    "sha256": f.digests.get("sha256"),
                    "sha512": f.digests.get("sha512"),
                    "digests": f.digests,
                    "puid": fmt.puid,
                    "format_name": fmt.name,
                    "format_version": fmt.version,
                    "mime": fmt.mime,
                    "basis": fmt.basis,
                    "tool": fmt.tool,
                    "tool_version": fmt.tool_version,
                    "signature_version": fmt.signature_version,
                    "format_warning": fmt.warning,
                    "original_name": f.original_name,
                    "file_metadata": f.metadata,
                }
            )

    @staticmethod
    def _value_rows(pkg: Package) -> list[dict[str, Any]]:
        rows = []
        for field, value in pkg.metadata.items():
            for i, v in enumerate(_flatten(value)):
                rows.append({"package_id": pkg.id, "field": field, "position": i, "value": v, "value_key": v[:255]})
        for element, values in pkg.dublin_core.items():
            for i, v in enumerate(values):
                rows.append(
                    {"package_id": pkg.id, "field": f"dc:{element}", "position": i, "value": v, "value_key": v[:255]}
                )
        return rows

    @guarded("record events for package {package_id}")
    def add_events(self, package_id: str, events: list[Event]) -> None:
        if not events:
            return
        with self.session() as s, s.begin():
            _insert_chunked(s, EventRow, (EventRow.values(package_id, e) for e in events))

    # -- reading -------------------------------------------------------------
    def _row(self, s: Session, package_id: str) -> PackageRow:
        row = s.get(PackageRow, package_id)
        if row is None:
            raise NotFound(f"no package {package_id} in the catalog")
        return row

    @guarded("look up package {package_id}")
    def exists(self, package_id: str) -> bool:
        with self.session() as s:
            return s.get(PackageRow, package_id) is not None

    @guarded("look up idempotency key {key}")
    def find_by_key(self, key: str) -> str | None:
        with self.session() as s:
            return s.scalar(select(PackageRow.id).where(PackageRow.idempotency_key == key))

    @guarded("read the tag digests of package {package_id}")
    def tag_digests(self, package_id: str, version: int | None = None) -> dict[str, dict[str, str]]:
        with self.session() as s:
            row = self._row(s, package_id)
            if version is None or version == row.version:
                return dict(row.tag_digests)
            return dict(self._version(s, package_id, version).tag_digests)

    def _version(self, s: Session, package_id: str, version: int) -> VersionRow:
        found = s.scalar(select(VersionRow).where(VersionRow.package_id == package_id, VersionRow.number == version))
        if found is None:
            raise NotFound(f"package {package_id} has no version {version}")
        return found

    @guarded("record the storage path of package {package_id}")
    def set_storage_path(self, package_id: str, storage_path: str) -> None:
        """Where the package is relative to each storage root (it moved: ``archive migrate-storage``)."""
        with self.session() as s, s.begin():
            self._row(s, package_id).storage_path = storage_path

    @guarded("look up the tombstone of package {package_id}")
    def tombstone(self, package_id: str) -> Any:
        """The package's :class:`~archive.catalog.disposals.Tombstone` if it was disposed of, else None."""
        from archive.catalog.disposals import Tombstone

        with self.session() as s:
            row = s.get(TombstoneRow, package_id)
            return Tombstone.from_row(row) if row is not None else None

    @guarded("read the storage path of package {package_id}")
    def storage_path(self, package_id: str) -> str:
        with self.session() as s:
            return self._row(s, package_id).storage_path

    @guarded("read package {package_id}")
    def get_package(
        self,
        package_id: str,
        version: int | None = None,
        *,
        files_after: str | None = None,
        limit: int | None = None,
    ) -> Package:
        """The package as its head (or ``version``) is: files, metadata, access; agents and events all.

        With ``limit``, one page of it: at most ``limit`` files by path (after the path
        ``files_after``) and the first ``limit`` events, so a package of a million files is read a
        page at a time (the package's and version's rows and :meth:`count_events` tell the totals)."""
        with self.session() as s:
            row = self._row(s, package_id)
            at = version if version is not None and version != row.version else None
            fq = select(FileRow).where(FileRow.package_id == package_id, *in_version(at))
            if files_after is not None:
                fq = fq.where(FileRow.path > files_after)
            fq = fq.order_by(FileRow.path)
            files = s.scalars(fq if limit is None else fq.limit(limit)).all()
            if at is not None:
                v = self._version(s, package_id, at)
                row = PackageRow(
                    **{
                        c: getattr(row, c) for c in ("id", "profile_id", "profile_version", "created_at", "source_name")
                    },
                    idempotency_key=row.idempotency_key,
                    fixity_interval_days=row.fixity_interval_days,
                    version=at,
                    descriptive=v.descriptive,
                    dublin_core=v.dublin_core,
                    bag_info=v.bag_info,
                    access_level=v.access_level,
                    embargo_until=v.embargo_until,
                    access_statement=v.access_statement,
                )
            agents = s.scalars(select(AgentRow).where(AgentRow.package_id == package_id).order_by(AgentRow.id)).all()
            eq = select(EventRow).where(EventRow.package_id == package_id).order_by(EventRow.occurred_at, EventRow.id)
            events = s.scalars(eq if limit is None else eq.limit(limit)).all()
        return Package(
            id=row.id,
            profile_id=row.profile_id,
            profile_version=row.profile_version,
            created=aware(row.created_at),
            metadata=row.descriptive,
            dublin_core=row.dublin_core,
            access=Access(level=row.access_level, embargo_until=row.embargo_until, statement=row.access_statement),
            files=[
                FileRecord(
                    path=f.path,
                    size=f.size,
                    digests=f.digests,
                    original_name=f.original_name,
                    metadata=f.file_metadata,
                    format=FormatInfo(
                        puid=f.puid,
                        name=f.format_name,
                        version=f.format_version,
                        mime=f.mime,
                        basis=f.basis,
                        tool=f.tool,
                        tool_version=f.tool_version,
                        signature_version=f.signature_version,
                        warning=f.format_warning,
                    ),
                )
                for f in files
            ],
            agents=[Agent(identifier=a.identifier, name=a.name, type=a.type, note=a.note) for a in agents],
            events=[e.event() for e in events],
            bag_info=row.bag_info,
            source_name=row.source_name,
            idempotency_key=row.idempotency_key or "",
            fixity_interval_days=row.fixity_interval_days,
            version=row.version,
        )

    @guarded("count the events of package {package_id}")
    def count_events(self, package_id: str) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(EventRow).where(EventRow.package_id == package_id)) or 0

    @guarded("list packages")
    def list_packages(self, profile: str | None = None, limit: int | None = None, offset: int = 0) -> list[PackageInfo]:
        q = select(*PACKAGE_INFO_COLUMNS).order_by(PackageRow.created_at, PackageRow.id)
        if profile:
            q = q.where(PackageRow.profile_id == profile)
        if limit is not None:
            q = q.limit(limit).offset(offset)
        with self.session() as s:
            return [PackageInfo.from_row(r) for r in s.execute(q)]

    @guarded("count packages")
    def count_packages(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(PackageRow)) or 0

    @guarded("list package ids")
    def package_ids(self) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(PackageRow.id).order_by(PackageRow.id)))

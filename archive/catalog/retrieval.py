"""Reads for retrieval: one package's access fields and summary, one file, pages of files and events.

These never load a whole package (``Catalog.get_package`` does), so a package of a million
files answers ``GET /packages/{id}`` as fast as one of three. Each read is of the head unless it
is given a ``version``: then the version's own row (metadata, access, tag digests) and the file
rows valid in it (``since_version <= v < until_version``, :func:`~archive.catalog.repository.in_version`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, false, func, or_, select

from archive.catalog.guard import guarded
from archive.catalog.records import PackageInfo, StoredFileInfo, aware
from archive.catalog.repository import PACKAGE_INFO_COLUMNS, Catalog, in_version
from archive.catalog.tables import EventRow, FileRow, PackageRow, VersionRow
from archive.errors import NotFound
from archive.model import title_of

# hot statements are built once; SQLAlchemy also caches their compiled SQL
_INFO_Q = select(*PACKAGE_INFO_COLUMNS).where(PackageRow.id == bindparam("pid"))
#: which packages a caller may see, as groups of ``(profile ids, access levels)``: visible when
#: the package's profile and level are in one group (``archive.access.policy.metadata_scope``)
Scope = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
_META_Q = select(PackageRow.descriptive, PackageRow.dublin_core).where(PackageRow.id == bindparam("pid"))
_VERSION_META_Q = select(VersionRow.descriptive, VersionRow.dublin_core).where(
    VersionRow.package_id == bindparam("pid"), VersionRow.number == bindparam("number")
)
#: a version as a :class:`PackageInfo`: the package's fixed columns, the version's own
_VERSION_INFO_Q = (
    select(
        PackageRow.id,
        PackageRow.profile_id,
        PackageRow.profile_version,
        PackageRow.created_at,
        PackageRow.storage_path,
        VersionRow.number.label("version"),
        VersionRow.descriptive,
        VersionRow.dublin_core,
        VersionRow.access_level,
        VersionRow.embargo_until,
        VersionRow.access_statement,
        VersionRow.file_count,
        VersionRow.total_bytes,
        VersionRow.mets_sha256,
        VersionRow.tag_digests,
        VersionRow.held,
    )
    .join(VersionRow, VersionRow.package_id == PackageRow.id)
    .where(PackageRow.id == bindparam("pid"), VersionRow.number == bindparam("number"))
)


#: the most objects one event lists in a listing (an ingest's digest event names every file of
#: the package: a million paths); ``objects_count`` always tells how many it has
EVENT_OBJECTS_SHOWN = 1000


def objects_shown(objects: list[Any]) -> dict[str, Any]:
    """An event's ``objects`` as listings give them: the first :data:`EVENT_OBJECTS_SHOWN` and
    their count (the METS lists them all)."""
    return {"objects": objects[:EVENT_OBJECTS_SHOWN], "objects_count": len(objects)}


def _formats_q(version: int | None) -> Any:
    return (
        select(FileRow.puid, func.min(FileRow.format_name), func.count(), func.sum(FileRow.size))
        .where(FileRow.package_id == bindparam("pid"), *in_version(version))
        .group_by(FileRow.puid)
        .order_by(func.count().desc(), FileRow.puid)
    )


_FORMATS_Q = _formats_q(None)


def visible_conditions(levels: Collection[str] | None, visible: Scope | None) -> list[ColumnElement[bool]]:
    """SQL conditions keeping only the packages a caller may see: at one of ``levels`` (None: any
    level) and in one group of ``visible`` (None: any package)."""
    conds: list[ColumnElement[bool]] = []
    if levels is not None:
        conds.append(PackageRow.access_level.in_(sorted(levels)))
    if visible is not None:
        groups = [
            and_(PackageRow.profile_id.in_(list(ids)), PackageRow.access_level.in_(list(lv)))
            for ids, lv in visible
            if ids and lv
        ]
        conds.append(or_(*groups) if groups else false())
    return conds


@guarded("read package {package_id}")
def package_info(
    catalog: Catalog,
    package_id: str,
    *,
    levels: Collection[str] | None = None,
    visible: Scope | None = None,
    version: int | None = None,
) -> PackageInfo:
    """The package, if the catalog holds it and it is visible (``levels``, ``visible``: see
    :func:`visible_conditions`); else ``NotFound``.

    Visibility is decided inside the query, so a hidden package costs exactly what an unknown
    id costs: the same statement, no row, the same error. Nothing of a hidden package is read,
    and its answer cannot be told from an unknown id's by its timing.

    With ``version``: that version as it was recorded (its title, access, held, files summary,
    METS and tag digests; ``version`` is its number), or ``NotFound`` if the package has no such
    version. Visibility (``levels``, ``visible``) is still the head's: authorise the head first.
    """
    if version is not None:
        return _version_info(catalog, package_id, version, levels, visible)
    query = _INFO_Q if levels is None and visible is None else _INFO_Q.where(*visible_conditions(levels, visible))

    with catalog.connection() as c:
        r = c.execute(query, {"pid": package_id}).one_or_none()
    if r is None:
        raise NotFound(f"no package {package_id}")
    return PackageInfo.from_row(r)


def _version_info(
    catalog: Catalog, package_id: str, number: int, levels: Collection[str] | None, visible: Scope | None
) -> PackageInfo:
    query = _VERSION_INFO_Q
    if levels is not None or visible is not None:
        query = query.where(*visible_conditions(levels, visible))
    with catalog.connection() as c:
        r = c.execute(query, {"pid": package_id, "number": number}).one_or_none()
    if r is None:
        raise NotFound(f"package {package_id} has no version {number}")
    # the version's own columns under the names PackageInfo.from_row reads, its title as listings derive it
    return PackageInfo.from_row(SimpleNamespace(**r._mapping, title=title_of(dict(r.descriptive), dict(r.dublin_core))))


@guarded("read package {package_id}")
def package_metadata(catalog: Catalog, package_id: str, version: int | None = None) -> dict[str, Any]:
    """Descriptive metadata, Dublin Core and the count of files per format (of the head, or of
    ``version``)."""
    with catalog.connection() as c:
        if version is None:
            r = c.execute(_META_Q, {"pid": package_id}).one_or_none()
        else:
            r = c.execute(_VERSION_META_Q, {"pid": package_id, "number": version}).one_or_none()
        if r is None:
            raise NotFound(
                f"no package {package_id}" if version is None else f"package {package_id} has no version {version}"
            )
        formats = c.execute(_FORMATS_Q if version is None else _formats_q(version), {"pid": package_id}).all()
    return {
        "metadata": r.descriptive,
        "dublin_core": r.dublin_core,
        "formats": [{"puid": p, "name": n or "", "files": int(k), "bytes": int(b or 0)} for p, n, k, b in formats],
    }


@guarded("read access levels")
def access_levels(catalog: Catalog, package_ids: list[str]) -> dict[str, str]:
    """The access level of each of these packages the catalog holds (others are left out)."""
    ids = sorted(set(package_ids))
    if not ids:
        return {}

    out: dict[str, str] = {}
    with catalog.connection() as c:
        for i in range(0, len(ids), 500):
            q = select(PackageRow.id, PackageRow.access_level).where(PackageRow.id.in_(ids[i : i + 500]))
            out.update({r.id: r.access_level for r in c.execute(q)})
    return out


@guarded("read access levels")
def access_of(catalog: Catalog, package_ids: list[str]) -> dict[str, tuple[str, str]]:
    """``(profile id, access level)`` of each of these packages the catalog holds (others are left
    out): what the access policy needs to decide whether a caller may see a package at all."""
    ids = sorted(set(package_ids))
    if not ids:
        return {}

    out: dict[str, tuple[str, str]] = {}
    with catalog.connection() as c:
        for i in range(0, len(ids), 500):
            q = select(PackageRow.id, PackageRow.profile_id, PackageRow.access_level).where(
                PackageRow.id.in_(ids[i : i + 500])
            )
            out.update({r.id: (r.profile_id, r.access_level) for r in c.execute(q)})
    return out


_FILE = (
    FileRow.package_id,
    FileRow.path,
    FileRow.size,
    FileRow.digests,
    FileRow.puid,
    FileRow.format_name,
    FileRow.mime,
    FileRow.id,
    FileRow.basis,
)


_FILE_Q = select(*_FILE).where(
    FileRow.package_id == bindparam("pid"), FileRow.path == bindparam("path"), *in_version(None)
)


def _file(r: Any) -> StoredFileInfo:
    return StoredFileInfo(
        r.package_id, r.path, r.size, dict(r.digests), r.puid, r.format_name, r.mime, r.id, r.basis or ""
    )


_FILE_PATH_Q = select(FileRow.path).where(FileRow.package_id == bindparam("pid"), FileRow.id == bindparam("key"))


@guarded("read a file of package {package_id}")
def file_path(catalog: Catalog, package_id: str, key: int) -> str | None:
    """The path of the file of ``package_id`` with row key ``key`` (None: no such file, e.g. the
    catalog was rebuilt since the key was handed out). A page cursor carries the key, not the
    path, which can be thousands of bytes long."""
    with catalog.connection() as c:
        path: str | None = c.execute(_FILE_PATH_Q, {"pid": package_id, "key": key}).scalar()
    return path


@guarded("read a file of package {package_id}")
def stored_file(catalog: Catalog, package_id: str, path: str, version: int | None = None) -> StoredFileInfo:
    """The file at ``path`` in the head (or in ``version``): its row for that version, whose size and
    digests are what the stored bytes must match."""
    query = _FILE_Q
    if version is not None:
        query = select(*_FILE).where(
            FileRow.package_id == bindparam("pid"), FileRow.path == bindparam("path"), *in_version(version)
        )
    with catalog.connection() as c:
        r = c.execute(query, {"pid": package_id, "path": path}).one_or_none()
    if r is None:
        at = "" if version is None else f" in version {version}"
        raise NotFound(f"package {package_id} has no file {path!r}{at}")
    return _file(r)


@guarded("list the files of package {package_id}")
def files_page(
    catalog: Catalog, package_id: str, after: str | None, limit: int, version: int | None = None
) -> list[StoredFileInfo]:
    """Up to ``limit`` files of the head (or of ``version``) ordered by path, after the path ``after``."""
    q = select(*_FILE).where(FileRow.package_id == package_id, *in_version(version))
    if after is not None:
        q = q.where(FileRow.path > after)
    q = q.order_by(FileRow.path).limit(limit)

    with catalog.connection() as c:
        return [_file(r) for r in c.execute(q)]


@guarded("list the events of package {package_id}")
def events_page(
    catalog: Catalog,
    package_id: str,
    after: tuple[datetime, str] | None,
    limit: int,
    event_type: str | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` PREMIS events in time order, after the key ``(occurred_at, id)``."""
    q = select(
        EventRow.id,
        EventRow.type,
        EventRow.occurred_at,
        EventRow.detail,
        EventRow.outcome,
        EventRow.outcome_detail,
        EventRow.agents,
        EventRow.objects,
    ).where(EventRow.package_id == package_id)
    if event_type:
        q = q.where(EventRow.type == event_type)
    if after is not None:
        q = q.where(
            or_(
                EventRow.occurred_at > after[0],
                and_(EventRow.occurred_at == after[0], EventRow.id > after[1]),
            )
        )
    q = q.order_by(EventRow.occurred_at, EventRow.id).limit(limit)

    with catalog.connection() as c:
        return [
            {
                "id": e.id,
                "type": e.type,
                "datetime": aware(e.occurred_at).isoformat(),
                "detail": e.detail,
                "outcome": e.outcome,
                "outcome_detail": e.outcome_detail,
                "agents": e.agents,
                **objects_shown(e.objects),
            }
            for e in c.execute(q)
        ]

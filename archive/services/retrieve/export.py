"""Reading what the archive holds: describe a package, export its bag."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from archive.audit.budget import Budget
from archive.audit.check import FileOutcome, check_copy, record_entries
from archive.catalog import retrieval
from archive.errors import ArchiveError, FixityError, Gone, StorageError
from archive.services.context import ArchiveContext
from archive.services.copies import located
from archive.services.ids import named_package_id
from archive.tree_removal import remove_tree


def _catalogued(ctx: ArchiveContext, package_id: str) -> None:
    """NotFound for an unknown package, Gone (with its tombstone) for a disposed one."""
    named_package_id(package_id)
    tomb = ctx.catalog.tombstone(package_id)
    if tomb is not None:
        when = f"{tomb.disposed_at:%Y-%m-%d}"
        raise Gone(
            f"package {package_id} was disposed of on {when} (proposed by {tomb.proposer}, approved by "
            f"{tomb.approver}): {tomb.reason}",
            tomb.document,
        )


#: files (and events) ``archive show`` lists at a time unless asked for another page size
SHOW_PAGE = 1000


def describe(
    ctx: ArchiveContext,
    package_id: str,
    version: int | None = None,
    *,
    limit: int = SHOW_PAGE,
    after: str | None = None,
) -> dict[str, Any]:
    """One package (its head, or ``version``) with one page of its files (``limit`` of them by
    path, after the path ``after``) and its first ``limit`` events: a package of a million files
    is never read whole. ``next_after`` is the path to continue from (None: the last page)."""
    _catalogued(ctx, package_id)
    pkg = ctx.catalog.get_package(package_id, version, files_after=after, limit=limit + 1)
    more = len(pkg.files) > limit
    pkg.files = pkg.files[:limit]
    totals = retrieval.package_info(ctx.catalog, package_id, version=version)  # counted at ingest, per version
    events_count = ctx.catalog.count_events(package_id)
    return {
        "id": pkg.id,
        "version": pkg.version,
        "held": pkg.held,
        "title": pkg.metadata.get("title", ""),
        "profile": pkg.profile_id,
        "profile_version": pkg.profile_version,
        "created": pkg.created.isoformat(),
        "source_name": pkg.source_name,
        "idempotency_key": pkg.idempotency_key,
        "access": {
            "level": pkg.access.level,
            "embargo_until": pkg.access.embargo_until.isoformat() if pkg.access.embargo_until else None,
            "statement": pkg.access.statement,
        },
        "metadata": pkg.metadata,
        "dublin_core": pkg.dublin_core,
        "bag_info": pkg.bag_info,
        "files_count": totals.file_count,
        "bytes": totals.total_bytes,
        "next_after": pkg.files[-1].path if more else None,
        "files": [
            {
                "path": f.path,
                "size": f.size,
                "digests": f.digests,
                "original_name": f.original_name,
                "metadata": f.metadata,
                "format": asdict(f.format) if f.format else None,
            }
            for f in pkg.files
        ],
        "events": [
            {
                "id": e.identifier,
                "type": e.type,
                "datetime": e.datetime.isoformat(),
                "detail": e.detail,
                "outcome": e.outcome,
                "outcome_detail": e.outcome_detail,
                "agents": [asdict(a) for a in e.agents],
                **retrieval.objects_shown(e.objects),
            }
            for e in pkg.events[:limit]
        ],
        "events_count": events_count,
        "agents": [asdict(a) for a in pkg.agents],
        "storage_path": ctx.catalog.storage_path(package_id),
    }


def export(ctx: ArchiveContext, package_id: str, dest: Path, version: int | None = None) -> Path:
    """Copy the bag of the head (or ``version``) to ``dest`` (must not exist), checking each file
    against the catalog as it is copied: the result is a complete bag that validates."""
    _catalogued(ctx, package_id)
    pkg = ctx.catalog.get_package(package_id, version)
    tag_digests = ctx.catalog.tag_digests(package_id, version)
    if not ctx.storage.exists(package_id):
        raise StorageError(f"package {package_id} is in the catalog but missing from storage {ctx.storage.root}")
    stored = ctx.storage.version(package_id, pkg.version)
    source = stored.folder
    if dest.exists():
        raise ArchiveError(f"{dest} already exists; export writes a new folder")
    tmp = dest.with_name(f".{dest.name}.partial")

    def refuse(outcome: FileOutcome) -> None:
        if outcome.error is not None:
            raise outcome.error  # reported below as the export failing
        if outcome.kind is not None:
            raise FixityError(
                f"stored file {outcome.entry.path} of package {package_id} does not match the catalog's digests"
            )

    try:
        entries = located(record_entries(pkg.files, tag_digests), stored)
        check_copy(source, entries, package_id, "", Budget(), on_file=refuse, copy_to=tmp)
        tmp.rename(dest)
    except OSError as exc:
        raise StorageError(f"cannot export package {package_id} to {dest}: {exc}") from exc
    finally:
        try:
            remove_tree(tmp)
        except OSError:
            pass  # a hidden .partial folder; the next export of the same package refuses to reuse it
    return dest

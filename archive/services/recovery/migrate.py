"""``archive migrate-storage``: turn every bag of the old layout into an OCFL object, in place.

The old layout keeps each package as a BagIt bag at ``<root>/<aa>/<bb>/<uuid>/``; the new one
keeps it as an OCFL 1.1 object of the same storage root (:class:`archive.storage.ocfl.OcflRoot`,
object id the package id) whose version 1 is that bag, byte for byte. For every storage root
(primary and replicas) and every package in it, in this order:

1. **verify** the legacy bag against the catalog, every byte of every payload and tag file, and
   no file the catalog does not know (:func:`archive.audit.check.check_copy` with ``extras``);
   a bag that does not verify is not migrated and is reported (exit status 1);
2. **create** the object from the bag (staged whole, renamed in: there is no half object), with
   the catalog's sha512 digests, so a copied byte that differs is refused while copying;
3. **verify** the object: its inventory against its sidecar, its logical state against the
   catalog (same paths, same sha512) and every content file's bytes against the catalog's
   digests and sizes, and no content the manifest does not list;
4. **ledger** a PREMIS ``replication`` event (a copy bit-wise identical to the original) whose
   ledger body also carries ``migration``: storage, object path, files, bytes and the sha512 of
   the new inventory; then record the event in the catalog (write-ahead, as every event);
5. **remove** the legacy folder: renamed out of the storage hierarchy into the OCFL staging area
   first (atomic: no reader ever sees half a bag as a package), then removed, and the empty
   ``aa/bb`` folders pruned.

Resumable after a crash at any point (fault points ``migrate.*``): a run first removes what
dead writers left in the OCFL staging area; an object beside its legacy folder is verified
against the catalog (never created again), ledgered if the ledger lacks its entry, and the
legacy folder removed; an object alone is reported as already migrated. See docs/migration.md.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.audit.budget import Budget
from archive.audit.check import Expected, check_copy, check_file, record_entries
from archive.audit.findings import AuditFinding, finding
from archive.durable import fsync_dir
from archive.errors import ArchiveError, StorageError
from archive.faults import fault_point, register
from archive.ids import is_package_id
from archive.ledger import KIND_EVENT, parse_line
from archive.ledger.format import LedgerFormatError
from archive.ledger.store import LEDGER_DIR
from archive.model import EVENT_REPLICATION, OUTCOME_SUCCESS, Event, EventLink, Package, utcnow
from archive.services import ledgering
from archive.services.audit.run import audit_lock
from archive.services.context import ArchiveContext
from archive.services.progress import Progress
from archive.storage import LocalStorage, package_relpath
from archive.storage import staging as staging_area
from archive.storage.local import QUARANTINE
from archive.storage.ocfl import OcflRoot, User
from archive.storage.ocfl import inventory as ocfl_inventory
from archive.storage.ocfl.layout import INVENTORY, OBJECT_NAMASTE, ROOT_NAMASTE, SIDECAR, STAGING
from archive.tree_removal import remove_tree

register(
    "migrate.after-verify",
    "migrate.after-create",
    "migrate.after-ledger",
    "migrate.bag-moved-out",
    "migrate.after-removal",
)

#: the old layout's staging folder (never a package)
LEGACY_STAGING = ".staging"
MESSAGE = "migrated from the bag layout"
#: who made version 1 of a migrated object (an OCFL ``user``: a name and a URI)
USER = User("archive migrate-storage", "urn:archive:migrate-storage")
AGENTS = [EventLink("software:archive", "executing program"), EventLink("organization", "authorizer")]
_ROOT_TMP = ".tmp-ocfl-root-"

#: a package in one storage root, as the migration leaves it
MIGRATED, RESUMED, ALREADY, WOULD, FAILED, MISSING = (
    "migrated",
    "resumed",
    "already-migrated",
    "would-migrate",
    "not-migrated",
    "missing",
)


def object_id(package_id: str) -> str:
    """The OCFL object id of a package (one place, so the layout's readers agree)."""
    return package_id


def legacy_package_ids(root: Path) -> Iterator[str]:
    """Every package folder of the old layout, ``<root>/<aa>/<bb>/<uuid>/`` (staging excluded)."""
    if not root.is_dir():
        return
    for a in sorted(os.listdir(root)):
        if len(a) != 2 or a == LEGACY_STAGING:
            continue
        pa = root / a
        for b in sorted(os.listdir(pa)) if pa.is_dir() else []:
            pb = pa / b
            for name in sorted(os.listdir(pb)) if pb.is_dir() else []:
                if is_package_id(name) and name.startswith(a + b):
                    yield name


def legacy_path(root: Path, package_id: str) -> Path:
    return root / package_id[:2] / package_id[2:4] / package_id


@dataclass
class PackageMigration:
    """What happened to one package in one storage root."""

    package: str
    storage: str
    status: str
    files: int = 0
    bytes: int = 0
    object: str = ""  # the object's folder, relative to the storage root
    inventory_sha512: str = ""
    reason: str = ""
    findings: list[AuditFinding] = field(default_factory=list)
    unreachable: bool = False  # storage refused a step (as opposed to: the package does not verify)

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "storage": self.storage,
            "status": self.status,
            "files": self.files,
            "bytes": self.bytes,
            "object": self.object,
            "inventory_sha512": self.inventory_sha512,
            "reason": self.reason,
            "findings": [f.as_dict() for f in self.findings],
            "storage_refused": self.unreachable,
        }


@dataclass
class MigrationReport:
    dry_run: bool = False
    packages: list[PackageMigration] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # storage roots (or steps) that could not be reached
    leftovers: list[str] = field(default_factory=list)  # staging folders of dead writers removed first

    def count(self, status: str) -> int:
        return sum(1 for p in self.packages if p.status == status)

    @property
    def failed(self) -> list[PackageMigration]:
        return [p for p in self.packages if p.status in (FAILED, MISSING)]

    @property
    def exit_status(self) -> int:
        if self.unreachable or any(p.unreachable for p in self.packages):
            return 3
        return 1 if self.failed else 0

    def as_dict(self) -> dict[str, Any]:
        counts = {s: self.count(s) for s in (MIGRATED, RESUMED, ALREADY, WOULD, FAILED, MISSING)}
        return {
            "ok": self.exit_status == 0,
            "dry_run": self.dry_run,
            "counts": counts,
            "packages": [p.as_dict() for p in self.packages],
            "unreachable": list(self.unreachable),
            "leftovers_removed": list(self.leftovers),
            "exit_status": self.exit_status,
        }


def migrate_storage(
    ctx: ArchiveContext, dry_run: bool = False, progress: Progress = lambda stage, done, total: None
) -> MigrationReport:
    """Migrate every package of every storage root; never raises for one package (it is reported)."""
    report = MigrationReport(dry_run=dry_run)
    with ExitStack() as stack:
        if not dry_run:
            try:
                stack.enter_context(audit_lock(ctx))
            except StorageError as exc:
                raise StorageError(
                    "an audit, a repair or another archive migrate-storage is running (they read and move the "
                    "same folders); try again when it ends"
                ) from exc
        catalogued = set(ctx.catalog.package_ids())
        ledgered = _ledgered_migrations(ctx)
        for storage in ctx.all_storage:
            try:
                _migrate_root(ctx, storage, catalogued, ledgered, report, progress)
            except StorageError as exc:
                report.unreachable.append(f"storage {storage.name} at {storage.root}: {exc.message}")
        if not dry_run:
            done = {p.package for p in report.packages if p.status in (MIGRATED, RESUMED, ALREADY)}
            for pid in sorted(done & catalogued):
                ctx.catalog.set_storage_path(pid, package_relpath(pid))
            if not report.failed and not report.unreachable:
                _move_legacy_folders(ctx, report)
    return report


#: what a storage root of the old layout kept beside its packages -> where an OCFL root keeps it
LEGACY_FOLDERS = {"ledger": LEDGER_DIR, ".quarantine": QUARANTINE}


def _move_legacy_folders(ctx: ArchiveContext, report: MigrationReport) -> None:
    """Once every package of every root is an object: the ledger and the quarantine move under
    ``extensions/`` (one rename each), an empty legacy staging folder goes, so that each root is a
    valid OCFL storage root. The ledger is reopened at its new place."""
    for storage in ctx.all_storage:
        for old, new in LEGACY_FOLDERS.items():
            source, target = storage.root / old, storage.root / new
            if source.is_dir() and not os.path.lexists(target):
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(source, target)
                    fsync_dir(storage.root, best_effort=True)
                except OSError as exc:
                    report.unreachable.append(f"cannot move {source} to {target}: {exc.strerror or exc}")
        try:
            os.rmdir(storage.root / ".staging")
        except OSError:
            pass  # absent, or not empty: doctor removes dead writers' leftovers
    ctx.__dict__.pop("ledger", None)  # the cached ledger named the old folder


def _ledgered_migrations(ctx: ArchiveContext) -> dict[tuple[str, str], str]:
    """``(package, storage) -> inventory sha512`` of every migration the ledger records."""
    found: dict[tuple[str, str], str] = {}
    try:
        for _, line in ctx.ledger.lines():
            try:
                entry = parse_line(line)
            except LedgerFormatError:
                continue  # `archive ledger verify` reports it; a migration entry is whole or absent
            body = entry.body.get("migration")
            if entry.kind == KIND_EVENT and isinstance(body, dict) and entry.package_id:
                found[(entry.package_id, str(body.get("storage", "")))] = str(body.get("inventory_sha512", ""))
    except OSError as exc:
        raise StorageError(f"cannot read the ledger {ctx.ledger.path}: {exc.strerror or exc}") from exc
    return found


def _migrate_root(
    ctx: ArchiveContext,
    storage: LocalStorage,
    catalogued: set[str],
    ledgered: dict[tuple[str, str], str],
    report: MigrationReport,
    progress: Progress,
) -> None:
    root = storage.root
    if not storage.reachable():
        raise StorageError("not a readable folder")
    ocfl = OcflRoot(root)
    declared = (root / ROOT_NAMASTE).exists()
    if not report.dry_run:
        try:
            for stale in sorted(root.glob(f"{_ROOT_TMP}*")):  # a run killed while declaring the OCFL root
                remove_tree(stale)
                report.leftovers.append(f"{storage.name}: {stale.name}")
        except OSError as exc:
            raise StorageError(f"cannot remove {root}/{_ROOT_TMP}*: {exc.strerror or exc}") from exc
        if declared:
            report.leftovers.extend(f"{storage.name}: {p.name}" for p in ocfl.remove_leftovers())
    try:
        legacy = set(legacy_package_ids(root))
    except OSError as exc:
        raise StorageError(f"cannot be listed: {exc.strerror or exc}") from exc
    ids = sorted(legacy | catalogued)
    state = _RootState(ocfl, declared)
    for done, pid in enumerate(ids, 1):
        progress(f"migrate {storage.name}", done - 1, len(ids))
        item = PackageMigration(pid, storage.name, "")
        try:
            _migrate_one(ctx, storage, state, pid, pid in legacy, pid in catalogued, ledgered, item, report.dry_run)
        except StorageError as exc:  # the file system (or the ledger) refused: could not be done, say so
            item.status, item.reason, item.unreachable = FAILED, exc.message, True
        except ArchiveError as exc:
            item.status, item.reason = FAILED, exc.message
        report.packages.append(item)
        progress(f"migrate {storage.name}", done, len(ids))
    if state.declared and not report.dry_run:
        try:
            prune_legacy_folders(root)  # what a run killed between moving a bag out and pruning left
        except OSError as exc:
            raise StorageError(f"cannot prune the empty folders of the old layout: {exc.strerror or exc}") from exc


class _RootState:
    """The OCFL root of one storage root, declared on first need (once)."""

    def __init__(self, ocfl: OcflRoot, declared: bool) -> None:
        self.ocfl = ocfl
        self.declared = declared

    def exists(self, pid: str) -> bool:
        return self.declared and self.ocfl.exists(object_id(pid))

    def declare(self) -> None:
        if not self.declared:
            initialise_in_place(self.ocfl)
            self.declared = True


def initialise_in_place(ocfl: OcflRoot) -> None:
    """Make a storage root that already holds the old layout an OCFL storage root too.

    :meth:`OcflRoot.initialise` is tried first. Where it refuses a folder that holds anything
    else, the declaration is written by it into an empty folder beside, then moved in, file by
    file, the declaration ``0=ocfl_1.1`` last (as ``initialise`` orders it): a crash leaves the
    root undeclared, and the next run does it again.
    """
    try:
        ocfl.initialise()
        return
    except StorageError:
        if (ocfl.root / ROOT_NAMASTE).exists():
            raise
    root = ocfl.root
    try:
        scratch = Path(tempfile.mkdtemp(prefix=_ROOT_TMP, dir=root))
        try:
            OcflRoot(scratch).initialise()
            made = sorted(
                (p.relative_to(scratch) for p in scratch.rglob("*") if p.is_file()),
                key=lambda rel: (rel.as_posix() == ROOT_NAMASTE, rel.as_posix()),
            )
            for rel in made:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(scratch / rel, root / rel)
                fsync_dir((root / rel).parent)
        finally:
            remove_tree(scratch)
        ocfl.initialise()  # now idempotent: makes the staging area
        ocfl.check()
    except OSError as exc:
        raise StorageError(f"cannot initialise the OCFL storage root {root}: {exc.strerror or exc}") from exc


def _migrate_one(
    ctx: ArchiveContext,
    storage: LocalStorage,
    state: _RootState,
    pid: str,
    in_legacy: bool,
    in_catalog: bool,
    ledgered: dict[tuple[str, str], str],
    item: PackageMigration,
    dry_run: bool,
) -> None:
    root = storage.root
    bag = legacy_path(root, pid)
    has_object = state.exists(pid)
    if has_object:
        item.object = state.ocfl.object_path(object_id(pid)).relative_to(root).as_posix()
    if not in_legacy:
        if has_object:
            item.status = ALREADY
        else:
            item.status, item.reason = (
                MISSING,
                "catalogued but in this storage root neither as a bag nor as an OCFL object; "
                "`archive repair` restores it from a copy that verifies",
            )
        return
    if not in_catalog:
        item.status, item.reason = (
            FAILED,
            "a bag the catalog does not know cannot be verified: run `archive doctor` first",
        )
        return
    pkg = ctx.catalog.get_package(pid)
    entries = record_entries(pkg.files, ctx.catalog.tag_digests(pid))
    item.files = len(entries)
    if has_object:
        # a run killed after the object was made: the object, not the bag, must verify now
        if not _verified_object(state.ocfl, pid, entries, storage.name, item):
            return
        if dry_run:
            item.status, item.reason = WOULD, "object verified; the bag of the old layout would be removed"
            return
        item.status = RESUMED
    else:
        checked = check_copy(bag, entries, pid, storage.name, Budget(), extras=True)
        item.bytes = checked.bytes
        if checked.findings:
            item.status, item.findings = FAILED, checked.findings
            item.reason = f"the bag does not match the catalog ({len(checked.findings)} problem(s))"
            return
        fault_point("migrate.after-verify")
        if dry_run:
            item.status = WOULD
            item.object = state.ocfl.object_path(object_id(pid)).relative_to(root).as_posix()
            return
        state.declare()
        state.ocfl.create_object(object_id(pid), bag, digests=_sha512s(entries), message=MESSAGE, user=USER)
        item.object = state.ocfl.object_path(object_id(pid)).relative_to(root).as_posix()
        fault_point("migrate.after-create")
        if not _verified_object(state.ocfl, pid, entries, storage.name, item):
            return  # both kept: the report says why; nothing is removed
        item.status = MIGRATED
    _ledger(ctx, pkg, storage.name, item, ledgered)
    remove_legacy(state.ocfl, bag, pid)
    fault_point("migrate.after-removal")


def _sha512s(entries: list[Expected]) -> dict[str, str]:
    return {e.path: e.digests["sha512"] for e in entries if "sha512" in e.digests}


def _verified_object(ocfl: OcflRoot, pid: str, entries: list[Expected], copy: str, item: PackageMigration) -> bool:
    """Check the object against the catalog; problems go into ``item`` (status not-migrated)."""
    findings, size, inventory_sha512 = verify_object(ocfl, pid, entries, copy)
    item.bytes, item.inventory_sha512 = size, inventory_sha512
    if findings:
        item.status, item.findings = FAILED, findings
        item.reason = (
            f"the OCFL object does not match the catalog ({len(findings)} problem(s)); "
            "the bag of the old layout is kept beside it"
        )
        return False
    return True


def verify_object(
    ocfl: OcflRoot, pid: str, entries: list[Expected], copy: str = "ocfl"
) -> tuple[list[AuditFinding], int, str]:
    """The object's head version against the catalog: ``(findings, bytes read, inventory sha512)``.

    The root inventory must match its sidecar; the logical state must hold exactly the
    catalog's paths with the catalog's sha512; every content file is read whole and must have
    the catalog's digests and size; no file may be in the object that the OCFL layout and the
    manifest do not account for.
    """
    oid = object_id(pid)
    objdir = ocfl.object_path(oid)
    try:
        data = (objdir / INVENTORY).read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read {objdir / INVENTORY}: {exc.strerror or exc}") from exc
    inventory_sha512 = hashlib.sha512(data).hexdigest()
    problems: list[AuditFinding] = []
    if ocfl_inventory.sidecar_digest(objdir) != inventory_sha512:
        problems.append(finding(pid, copy, INVENTORY, "tag-changed", "the inventory does not match its sidecar"))
        return problems, 0, inventory_sha512
    inventory = ocfl.inventory(oid)
    state = ocfl.state(oid)
    manifest: dict[str, list[str]] = inventory.get("manifest", {})
    expected = {e.path: e for e in entries}
    for path in sorted(set(state) - set(expected)):
        problems.append(finding(pid, copy, path, "extra", "in the OCFL object but not in the catalog"))
    size = 0
    for path, entry in expected.items():
        digest = state.get(path)
        if digest is None:
            problems.append(finding(pid, copy, path, "missing", "in the catalog but not in the OCFL object"))
            continue
        if "sha512" in entry.digests and entry.digests["sha512"] != digest:
            problems.append(
                finding(
                    pid,
                    copy,
                    path,
                    "changed",
                    "the inventory's sha512 differs from the catalog's",
                    {"sha512": entry.digests["sha512"]},
                    {"sha512": digest},
                )
            )
            continue
        stored = manifest.get(digest) or [""]
        outcome = check_file(objdir, Expected(stored[0], entry.size, {**entry.digests, "sha512": digest}))
        size += outcome.read
        if outcome.kind is not None:
            expected_values: dict[str, Any] = {"size": entry.size} if entry.size is not None else {}
            problems.append(
                finding(
                    pid,
                    copy,
                    path,
                    "changed" if outcome.kind == "tag-changed" else outcome.kind,
                    f"content {stored[0]}: {outcome.message or outcome.kind}",
                    {**expected_values, **entry.digests},
                    dict(outcome.found),
                )
            )
    listed = {p for paths in manifest.values() for p in paths}
    for extra in _unaccounted(objdir, listed):
        problems.append(finding(pid, copy, extra, "extra", "a file in the OCFL object its manifest does not list"))
    return problems, size, inventory_sha512


def _unaccounted(objdir: Path, listed: set[str]) -> list[str]:
    layout = {OBJECT_NAMASTE, INVENTORY, SIDECAR}
    out = []
    for dirpath, _, filenames in os.walk(objdir):
        rel_dir = Path(dirpath).relative_to(objdir).as_posix()
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            top = rel.split("/", 1)
            is_version_file = len(top) == 2 and ocfl_inventory.VERSION_DIR.fullmatch(top[0]) and top[1] in layout
            if rel not in listed and rel not in layout and not is_version_file:
                out.append(rel)
    return sorted(out)


def migration_event(pid: str, storage: str, item: PackageMigration) -> Event:
    return Event(
        str(uuid.uuid4()),
        EVENT_REPLICATION,
        utcnow(),
        f"Migration of copy {storage} from the bag layout to OCFL object {item.object}: version 1 is the "
        "bag as stored, verified against the catalog's digests before and after; the bag's folder removed",
        OUTCOME_SUCCESS,
        f"{item.files} files, {item.bytes} bytes; inventory sha512 {item.inventory_sha512}",
        list(AGENTS),
        [pid],
    )


def _ledger(
    ctx: ArchiveContext, pkg: Package, storage: str, item: PackageMigration, ledgered: dict[tuple[str, str], str]
) -> None:
    """Ledger the migration (once per package and storage root), then record its event in the catalog."""
    if ledgered.get((pkg.id, storage)) == item.inventory_sha512:
        _record_ledgered_event(ctx, pkg, storage)
        return
    event = migration_event(pkg.id, storage, item)
    body = {
        "storage": storage,
        "from": "bag",
        "object": item.object,
        "version": 1,
        "files": item.files,
        "bytes": item.bytes,
        "inventory_sha512": item.inventory_sha512,
    }
    ledgering.append(ctx, ledgering.event_items(pkg.id, [event], migration=body))
    ledgered[(pkg.id, storage)] = item.inventory_sha512
    fault_point("migrate.after-ledger")
    ctx.catalog.add_events(pkg.id, [event])


def _record_ledgered_event(ctx: ArchiveContext, pkg: Package, storage: str) -> None:
    """A run killed between the ledger and the catalog: the ledgered event, recorded now."""
    known = {e.identifier for e in pkg.events}
    for _, line in ctx.ledger.lines():
        try:
            entry = parse_line(line)
        except LedgerFormatError:
            continue
        body = entry.body.get("migration")
        if entry.package_id != pkg.id or not isinstance(body, dict) or body.get("storage") != storage:
            continue
        event = ledgering.event_in(entry.body.get("event"))
        if event is not None and event.identifier not in known:
            ctx.catalog.add_events(pkg.id, [event])


def remove_legacy(ocfl: OcflRoot, bag: Path, pid: str) -> None:
    """Move the bag out of the storage hierarchy in one rename, prune its empty parents, remove it.

    The rename goes into an owner-locked folder of the OCFL staging area, so a crash after it
    leaves a dead writer's leftover that the next run (or ``remove_leftovers``) removes.
    """
    staging_root = ocfl.root / STAGING
    try:
        staging_root.mkdir(parents=True, exist_ok=True)
        path, fd = staging_area.create(staging_root, f"{uuid.uuid4()}-legacy-{pid}", "legacy-bag")
    except OSError as exc:
        raise StorageError(f"cannot create a staging folder in {staging_root}: {exc.strerror or exc}") from exc
    try:
        try:
            os.rename(bag, path / "bag")
            fsync_dir(bag.parent)
            fault_point("migrate.bag-moved-out")
            prune_legacy_folders(ocfl.root, bag.parent)
        except OSError as exc:
            raise StorageError(f"cannot move the bag {bag} out of the storage root: {exc.strerror or exc}") from exc
        try:
            remove_tree(path)
        except OSError:
            pass  # a dead owner's leftover once the lock is released: the next run removes it
    finally:
        os.close(fd)


def prune_legacy_folders(root: Path, folder: Path | None = None) -> None:
    """Remove the empty ``<aa>/<bb>/`` folders of the old layout: those above ``folder``, or all."""
    chains = [[folder, folder.parent]] if folder is not None else []
    for a in [] if folder is not None else _two_hex(root):
        chains.extend([root / a / b, root / a] for b in _two_hex(root / a))
        chains.append([root / a])
    for chain in chains:
        for empty in chain:
            try:
                os.rmdir(empty)
            except OSError:
                break  # not empty: another package lives there (or it is gone already)
    fsync_dir(root)


def _two_hex(folder: Path) -> list[str]:
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in names if len(n) == 2 and all(c in "0123456789abcdef" for c in n))

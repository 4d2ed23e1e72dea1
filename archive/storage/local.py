"""A storage root on a local (or mounted) filesystem: an OCFL 1.1 storage root, one object per package.

Each package is the OCFL object whose id is the package id (layout extension 0003, see
:mod:`archive.storage.ocfl` and decision 0009), and each of its versions' logical state is a
complete BagIt bag. Work happens in ``<root>/extensions/archive-staging/`` (same filesystem, so a
finished object or version is renamed in: a reader sees a whole version or none); every staging
folder is locked by its owner for its whole life (:mod:`archive.storage.staging`), so ``archive
doctor`` removes only the leftovers of processes that died. A version, once there, is never
overwritten; damaged or unexpected entries are moved to ``<root>/extensions/archive-quarantine/``,
never deleted.

Every public method raises :class:`StorageError` (never a bare ``OSError``) when the file system
refuses: a root that is unmounted, unreadable or full is "storage cannot be reached", exit status 3
in the CLI and 503 in the API (``tests/test_boundaries.py`` injects ``OSError`` into each one).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.durable import fsync_dir
from archive.errors import FixityError, InvalidRequest, NotFound, StorageError
from archive.faults import fault_point, register
from archive.fixity import copy_and_hash
from archive.ids import check_package_id, is_package_id
from archive.storage import staging as staging_area
from archive.storage.ocfl import OcflRoot, User
from archive.storage.ocfl.inventory import version_of
from archive.storage.ocfl.layout import CONTENT, object_relpath
from archive.storage.ocfl.layout import STAGING as OCFL_STAGING
from archive.storage.ocfl.writing import current_inventory, prune_empty
from archive.tree_removal import remove_tree

register("storage.before-rename", "storage.after-rename", "repair.after-quarantine")

STAGING = str(OCFL_STAGING)
QUARANTINE = "extensions/archive-quarantine"


def package_relpath(package_id: str) -> str:
    """The package's OCFL object folder, relative to the storage root."""
    try:
        check_package_id(package_id)
    except InvalidRequest as exc:  # said in storage's terms: nothing but StorageError leaves this adapter
        raise StorageError(exc.message) from exc
    return object_relpath(package_id)


@dataclass(frozen=True)
class StoredVersion:
    """One version of a stored package: its logical files (bag paths) and where each is stored.

    A file is stored at ``v<number>/content/<logical>`` unless ``moved`` says otherwise (content
    an earlier version stored, or stored once for several files): a version that wrote its own
    files records nothing per file beyond ``state``."""

    package_id: str
    number: int
    head: int
    folder: Path  # the object folder
    moved: dict[str, str]  # logical path -> content path relative to ``folder``, where not the version's own
    state: dict[str, str]  # logical path -> sha512: every file the version holds
    created: str = ""
    message: str = ""
    user: User | None = None

    def holds(self, logical: str) -> bool:
        return logical in self.state

    def path(self, logical: str) -> Path:
        """Where the bytes of ``logical`` are; a path the version does not hold is a path that is missing."""
        return self.folder / self.stored(logical)

    def stored(self, logical: str) -> str:
        """Where ``logical`` is stored, relative to the object folder."""
        return self.moved.get(logical) or f"v{self.number}/{CONTENT}/{logical}"


def _content_path(paths: list[str], logical: str) -> str:
    """Of the content paths holding a digest, the one stored for ``logical`` itself if there is one."""
    suffix = f"/{CONTENT}/{logical}"
    return next((p for p in paths if p.endswith(suffix) and p.count("/") == logical.count("/") + 2), paths[0])


#: a package's inventory is kept in memory (to build its other versions) up to this many files
KEEP_INVENTORY_FILES = 20_000


@dataclass
class _Read:
    """What :meth:`LocalStorage.version` keeps of one package's inventory file while it is unchanged."""

    key: tuple[int, int, int]  # the file's inode, size and modification time
    head: int
    inventory: Mapping[str, Any] | None  # the inventory itself, for a package small enough
    made: dict[int, StoredVersion]  # its versions as built so far


class LocalStorage:
    def __init__(self, root: Path, name: str = "primary") -> None:
        self.root = Path(root)
        self.name = name
        self.ocfl = OcflRoot(self.root)
        self._locks: dict[Path, int] = {}  # staging folders this process owns -> their lock
        #: package -> what was read of its inventory file while it stays the same (:class:`_Read`)
        self._inventories: dict[str, _Read] = {}

    def __repr__(self) -> str:
        return f"LocalStorage({self.name}: {self.root})"

    # -- layout ----------------------------------------------------------
    def ensure(self) -> None:
        try:
            self.ocfl.initialise()
            (self.root / STAGING).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"storage {self.name} at {self.root} is not writable: {exc.strerror}") from exc
        except StorageError as exc:
            raise StorageError(f"storage {self.name} at {self.root} is not writable: {exc.message}") from exc

    def path_of(self, package_id: str) -> Path:
        return self.root / package_relpath(package_id)

    def _unreadable(self, exc: OSError, what: str = "read") -> StorageError:
        return StorageError(f"storage {self.name} at {self.root} cannot be {what}: {exc.strerror or exc}")

    def exists(self, package_id: str) -> bool:
        path = self.path_of(package_id)
        try:
            return path.is_dir()
        except OSError as exc:  # is_dir answers False for a missing path; this is a refusal (EACCES, EIO)
            raise self._unreadable(exc) from exc

    def reachable(self) -> bool:
        try:
            return self.root.is_dir() and os.access(self.root, os.R_OK | os.X_OK)
        except OSError:
            return False

    def iter_package_ids(self) -> Iterator[str]:
        """Every package object in storage (the three levels of layout 0003, then the object folder)."""
        try:
            if not self.root.is_dir():
                return
            for a in sorted(os.listdir(self.root)):
                pa = self.root / a
                if len(a) != 3 or not pa.is_dir():
                    continue
                for b in sorted(os.listdir(pa)):
                    pb = pa / b
                    for c in sorted(os.listdir(pb)) if len(b) == 3 and pb.is_dir() else []:
                        pc = pb / c
                        for name in sorted(os.listdir(pc)) if len(c) == 3 and pc.is_dir() else []:
                            if is_package_id(name) and object_relpath(name) == f"{a}/{b}/{c}/{name}":
                                yield name
        except OSError as exc:
            raise self._unreadable(exc, "listed") from exc

    # -- staging and commit ----------------------------------------------
    def new_staging(self, label: str = "") -> Path:
        """A new staging folder, locked by this process until :meth:`discard`."""
        self.ensure()
        try:
            path, fd = staging_area.create(
                self.root / STAGING, f"{uuid.uuid4()}{('-' + label) if label else ''}", label
            )
        except OSError as exc:
            raise StorageError(f"cannot create a staging folder in storage {self.name}: {exc.strerror}") from exc
        self._locks[path] = fd
        return path

    def claim(self, staging: Path, package_id: str) -> None:
        """Record in ``staging``'s lock that its owner is about to store ``package_id`` (see doctor)."""
        try:
            staging_area.write_claim(self._locks[staging], {"pid": os.getpid(), "package": package_id})
        except OSError as exc:
            raise self._unreadable(exc, "written") from exc

    def staging_leftovers(self) -> list[Path]:
        staging = self.root / STAGING
        try:
            return sorted(staging.iterdir()) if staging.is_dir() else []
        except OSError as exc:
            raise self._unreadable(exc) from exc

    def discard(self, staging: Path) -> None:
        """Remove a staging folder (holding its lock while removing), then release the lock."""
        try:
            remove_tree(staging)
        except OSError:
            pass  # what is left is a dead owner's leftover once the lock is released: doctor removes it
        finally:
            fd = self._locks.pop(staging, None)
            if fd is not None:
                os.close(fd)

    def commit(
        self,
        staging_bag: Path,
        package_id: str,
        digests: Mapping[str, str] | None = None,
        *,
        message: str = "",
        user: User | None = None,
        created: str | None = None,
    ) -> Path:
        """Store a finished bag as version 1 of the package's new object; never replaces a package.

        ``digests`` (bag path -> sha512, computed when the bag was made) lets the files be renamed
        in rather than copied: the caller reads the stored object back.
        """
        if self.exists(package_id):
            raise StorageError(f"package {package_id} already exists in storage {self.name}; packages are write-once")
        try:
            os.sync()  # the bag's bytes reach the disk before the package becomes visible
            fault_point("storage.before-rename")
            target = self.ocfl.create_object(
                package_id,
                staging_bag,
                digests=digests,
                message=message,
                user=user,
                created=created,
                move=digests is not None,
            )
            fault_point("storage.after-rename")
        except StorageError as exc:
            raise StorageError(f"cannot store package {package_id} in storage {self.name}: {exc.message}") from exc
        return target

    def add_version(
        self,
        package_id: str,
        changed: Path,
        digests: Mapping[str, str],
        carry: Mapping[str, str],
        expected_head: int,
        *,
        message: str = "",
        user: User | None = None,
        created: str | None = None,
    ) -> int:
        """Store the next version: the files in ``changed`` plus ``carry`` (bag path -> sha512 of
        content the object holds); raises VersionConflict if the head is not ``expected_head``."""
        return self.ocfl.add_version(
            package_id,
            changed,
            digests=digests,
            carry=carry,
            expected_head=expected_head,
            message=message,
            user=user,
            created=created,
            move=True,
        )

    def version(self, package_id: str, number: int | None = None) -> StoredVersion:
        """Version ``number`` (the head when None) of a stored package, as its inventory records it.

        What is read is kept while the inventory file is unchanged (same inode, size and time), so
        serving many files of one package reads, checks and indexes its inventory once. The
        inventory itself is kept only for a package of at most :data:`KEEP_INVENTORY_FILES`
        files; a bigger one's other versions read it again (its versions as built are kept)."""
        path = self.path_of(package_id) / "inventory.json"
        try:
            st = os.stat(path)
            key: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        read = self._inventories.get(package_id)
        inventory: Mapping[str, Any] | None = None
        if key is None or read is None or read.key != key:
            inventory = self.ocfl.inventory(package_id)
            read = _Read(key or (0, 0, 0), len(inventory.get("versions", {})), None, {})
            if len(inventory.get("manifest", {})) <= KEEP_INVENTORY_FILES:
                read.inventory = inventory
            if key is not None:
                if len(self._inventories) >= 64:
                    self._inventories.pop(next(iter(self._inventories)), None)
                self._inventories[package_id] = read
        chosen = read.head if number is None else number
        if not 1 <= chosen <= read.head:
            raise NotFound(f"package {package_id} has no version {chosen} (versions 1-{read.head})")
        found = read.made.get(chosen)
        if found is None:
            inventory = inventory or read.inventory or self.ocfl.inventory(package_id)
            found = self._stored_version(package_id, inventory, chosen, read.head)
            read.made[chosen] = found
        return found

    def _stored_version(self, package_id: str, inventory: Mapping[str, Any], number: int, head: int) -> StoredVersion:
        info = version_of(inventory, number)
        manifest = inventory["manifest"]
        own = f"v{number}/{CONTENT}/"
        moved = {}
        for logical, digest in info.state.items():
            stored = _content_path(manifest[digest], logical)
            if stored != own + logical:
                moved[logical] = stored
        return StoredVersion(
            package_id, number, head, self.path_of(package_id), moved, info.state, info.created, info.message, info.user
        )

    def inventory(self, package_id: str) -> dict[str, Any]:
        """The package object's current inventory (NotFound when there is no object)."""
        return self.ocfl.inventory(package_id)

    def original_bag(self, package_id: str) -> Path:
        """Version 1's content folder: the bag as ingested, complete, readable with any BagIt tool."""
        return self.path_of(package_id) / "v1" / CONTENT

    def head(self, package_id: str) -> int:
        return self.version(package_id).head  # the inventory as read and kept by version()

    def settle(self, package_id: str) -> str:
        return self.ocfl.settle(package_id)

    def remove_package(self, package_id: str) -> None:
        """Only for an ingest rolling back the package it has just stored and not catalogued."""
        target = self.path_of(package_id)
        if not os.path.lexists(target):
            return
        trash = self.new_staging(f"rollback-{package_id}")
        try:
            os.rename(target, trash / "object")
            fsync_dir(target.parent, best_effort=True)
            prune_empty(target.parent, self.root)
        except OSError as exc:
            raise StorageError(
                f"cannot roll back package {package_id} in storage {self.name}: {exc.strerror or exc}"
            ) from exc
        finally:
            self.discard(trash)

    def quarantine_package(self, package_id: str, label: str) -> Path:
        """Move a whole package object to the quarantine, ``<id>/<label>/`` (kept, never deleted)."""
        target = self._to_quarantine(package_id, "", label, f"package {package_id}")
        prune_empty(self.path_of(package_id).parent, self.root)
        return target

    # -- repair (the only time a stored file is replaced) ---------------------
    def quarantine(self, package_id: str, rel: str, label: str) -> Path:
        """Move a damaged or unexpected entry (``rel`` inside the object) to the quarantine."""
        return self._to_quarantine(package_id, rel, label, f"{rel} of package {package_id}")

    def _to_quarantine(self, package_id: str, rel: str, label: str, what: str) -> Path:
        """Rename ``rel`` of a package (the whole package when empty) under the quarantine's ``<id>/<label>/``."""
        source = self.path_of(package_id) / rel if rel else self.path_of(package_id)
        base = self.root / QUARANTINE / package_id / label
        target = base / rel if rel else base
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)
            fsync_dir(source.parent, best_effort=True)
        except OSError as exc:
            raise StorageError(f"cannot move {what} in {self.name} to quarantine: {exc.strerror}") from exc
        return target

    def restore_file(
        self, package_id: str, rel: str, source: Path, digests: dict[str, str], size: int | None, label: str
    ) -> None:
        """Copy ``source`` in as ``rel`` (verified while copying, fsync'd), the damaged entry quarantined first."""
        staging = self.new_staging("repair")
        try:
            staged = staging / "file"
            with open(source, "rb") as src:
                got_size, got = copy_and_hash(src, staged, list(digests))
            if got != digests or (size is not None and got_size != size):
                raise FixityError(f"the copy of {rel} read from {source} does not match the catalog's digests")
            target = self.path_of(package_id) / rel
            if os.path.lexists(target):
                self.quarantine(package_id, rel, label)
                fault_point("repair.after-quarantine")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, target)
            fsync_dir(target.parent, best_effort=True)
        except OSError as exc:
            raise StorageError(f"cannot restore {rel} of package {package_id} in {self.name}: {exc.strerror}") from exc
        finally:
            self.discard(staging)

    def restore_package(self, package_id: str, files: list[tuple[str, Path, dict[str, str], int | None]]) -> Path:
        """Rebuild a missing package object from ``(rel, source, digests, size)`` (``rel`` inside the
        object; ``digests`` empty for the object's own inventory files): staged, verified, renamed in."""
        staging = self.new_staging("repair")
        staged = staging / "object"
        target = self.path_of(package_id)
        try:
            for rel, source, digests, size in files:
                dest = staged / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(source, "rb") as src:
                    got_size, got = copy_and_hash(src, dest, list(digests))
                if got != digests or (size is not None and got_size != size):
                    raise FixityError(f"the copy of {rel} read from {source} does not match the catalog's digests")
            if os.path.lexists(target):
                raise StorageError(f"package {package_id} already exists in storage {self.name}")
            if current_inventory(staged).get("id") != package_id:  # a whole object, or nothing renamed in
                raise StorageError(f"the rebuilt object of package {package_id} holds another object's inventory")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.sync()
            os.rename(staged, target)
            fsync_dir(target.parent, best_effort=True)
            self.ocfl.inventory(package_id)  # the rebuilt object's inventory matches its sidecar
            return target
        except OSError as exc:
            raise StorageError(f"cannot rebuild package {package_id} in {self.name}: {exc.strerror}") from exc
        finally:
            self.discard(staging)

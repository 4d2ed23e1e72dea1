"""A storage root on a local (or mounted) filesystem.

Layout: ``<root>/<aa>/<bb>/<uuid>/`` where ``aa`` and ``bb`` are the first four hex digits of
the package id, so no folder grows past 65,536 entries however many packages there are.
Packages are built in ``<root>/.staging/`` (same filesystem) and renamed into place: a reader
sees a whole package or none. A package, once there, is never overwritten. Each staging folder
is locked by its owner for its whole life (:mod:`archive.storage.staging`), so ``archive doctor``
removes only the leftovers of processes that died.

Every public method raises :class:`StorageError` (never a bare ``OSError``) when the file system
refuses: a root that is unmounted, unreadable or full is "storage cannot be reached", exit status 3
in the CLI and 503 in the API (``tests/test_boundaries.py`` injects ``OSError`` into each one).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from archive.durable import fsync_dir
from archive.errors import FixityError, InvalidRequest, StorageError
from archive.faults import fault_point, register
from archive.fixity import copy_and_hash
from archive.ids import check_package_id, is_package_id
from archive.storage import staging as staging_area
from archive.tree_removal import remove_tree

register("storage.before-rename", "storage.after-rename", "repair.after-quarantine")

STAGING = ".staging"
QUARANTINE = ".quarantine"


def package_relpath(package_id: str) -> str:
    try:
        check_package_id(package_id)
    except InvalidRequest as exc:  # said in storage's terms: nothing but StorageError leaves this adapter
        raise StorageError(exc.message) from exc
    return f"{package_id[:2]}/{package_id[2:4]}/{package_id}"


class LocalStorage:
    def __init__(self, root: Path, name: str = "primary") -> None:
        self.root = Path(root)
        self.name = name
        self._locks: dict[Path, int] = {}  # staging folders this process owns -> their lock

    def __repr__(self) -> str:
        return f"LocalStorage({self.name}: {self.root})"

    # -- layout ----------------------------------------------------------
    def ensure(self) -> None:
        try:
            (self.root / STAGING).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"storage {self.name} at {self.root} is not writable: {exc.strerror}") from exc

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
        """Every package folder in storage (staging excluded)."""
        try:
            if not self.root.is_dir():
                return
            for a in sorted(os.listdir(self.root)):
                if len(a) != 2 or a == STAGING:
                    continue
                pa = self.root / a
                for b in sorted(os.listdir(pa)) if pa.is_dir() else []:
                    pb = pa / b
                    for name in sorted(os.listdir(pb)) if pb.is_dir() else []:
                        if is_package_id(name) and name.startswith(a + b):
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

    def commit(self, staging_bag: Path, package_id: str) -> Path:
        """Rename a finished bag from staging into place; never replaces an existing package."""
        target = self.path_of(package_id)
        try:
            if os.path.lexists(target):
                raise StorageError(
                    f"package {package_id} already exists in storage {self.name}; packages are write-once"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            os.sync()  # the bag's bytes reach the disk before the package becomes visible
            fault_point("storage.before-rename")
            os.rename(staging_bag, target)
            fault_point("storage.after-rename")
            fsync_dir(target.parent, best_effort=True)
        except OSError as exc:
            raise StorageError(f"cannot move package {package_id} into storage {self.name}: {exc.strerror}") from exc
        return target

    def remove_package(self, package_id: str) -> None:
        """Only for an ingest rolling back the package it has just stored and not catalogued."""
        target = self.path_of(package_id)
        if not os.path.lexists(target):
            return
        trash = self.new_staging(f"rollback-{package_id}")
        try:
            os.rename(target, trash / "bag")
            fsync_dir(target.parent, best_effort=True)
        except OSError as exc:
            raise StorageError(
                f"cannot roll back package {package_id} in storage {self.name}: {exc.strerror or exc}"
            ) from exc
        finally:
            self.discard(trash)

    def quarantine_package(self, package_id: str, label: str) -> Path:
        """Move a whole package folder to ``.quarantine/<id>/<label>/`` (kept, never deleted)."""
        return self._to_quarantine(package_id, "", label, f"package {package_id}")

    # -- repair (the only time a stored file is replaced) ---------------------
    def quarantine(self, package_id: str, rel: str, label: str) -> Path:
        """Move a damaged or unexpected entry out of a package, into ``.quarantine/<id>/<label>/``."""
        return self._to_quarantine(package_id, rel, label, f"{rel} of package {package_id}")

    def _to_quarantine(self, package_id: str, rel: str, label: str, what: str) -> Path:
        """Rename ``rel`` of a package (the whole package when empty) under ``.quarantine/<id>/<label>/``."""
        source = self.path_of(package_id) / rel if rel else self.path_of(package_id)
        target = (
            self.root / QUARANTINE / package_id / label / rel if rel else self.root / QUARANTINE / package_id / label
        )
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
        """Rebuild a missing package from ``(rel, source, digests, size)``: staged, verified, renamed into place."""
        staging = self.new_staging("repair")
        bag = staging / "bag"
        try:
            for rel, source, digests, size in files:
                target = bag / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(source, "rb") as src:
                    got_size, got = copy_and_hash(src, target, list(digests))
                if got != digests or (size is not None and got_size != size):
                    raise FixityError(f"the copy of {rel} read from {source} does not match the catalog's digests")
            return self.commit(bag, package_id)
        except OSError as exc:
            raise StorageError(f"cannot rebuild package {package_id} in {self.name}: {exc.strerror}") from exc
        finally:
            self.discard(staging)

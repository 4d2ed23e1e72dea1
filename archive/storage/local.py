"""A storage root on a local (or mounted) filesystem.

Layout: ``<root>/<aa>/<bb>/<uuid>/`` where ``aa`` and ``bb`` are the first four hex digits of
the package id, so no folder grows past 65,536 entries however many packages there are.
Packages are built in ``<root>/.staging/`` (same filesystem) and renamed into place: a reader
sees a whole package or none. A package, once there, is never overwritten.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from archive.errors import StorageError

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STAGING = ".staging"


def check_package_id(package_id: str) -> str:
    if not isinstance(package_id, str) or not UUID_RE.fullmatch(package_id):
        raise StorageError(f"{package_id!r} is not a package identifier (a lower-case UUID)")
    return package_id


def package_relpath(package_id: str) -> str:
    check_package_id(package_id)
    return f"{package_id[:2]}/{package_id[2:4]}/{package_id}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    def __init__(self, root: Path, name: str = "primary") -> None:
        self.root = Path(root)
        self.name = name

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

    def exists(self, package_id: str) -> bool:
        return self.path_of(package_id).is_dir()

    def reachable(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.R_OK | os.X_OK)

    def iter_package_ids(self) -> Iterator[str]:
        """Every package folder in storage (staging excluded)."""
        if not self.root.is_dir():
            return
        for a in sorted(os.listdir(self.root)):
            if len(a) != 2 or a == STAGING:
                continue
            pa = self.root / a
            for b in sorted(os.listdir(pa)) if pa.is_dir() else []:
                pb = pa / b
                for name in sorted(os.listdir(pb)) if pb.is_dir() else []:
                    if UUID_RE.fullmatch(name) and name.startswith(a + b):
                        yield name

    # -- staging and commit ----------------------------------------------
    def new_staging(self, label: str = "") -> Path:
        self.ensure()
        path = self.root / STAGING / f"{uuid.uuid4()}{('-' + label) if label else ''}"
        path.mkdir()
        return path

    def staging_leftovers(self) -> list[Path]:
        staging = self.root / STAGING
        return sorted(staging.iterdir()) if staging.is_dir() else []

    def discard(self, staging: Path) -> None:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)

    def commit(self, staging_bag: Path, package_id: str) -> Path:
        """Rename a finished bag from staging into place; never replaces an existing package."""
        target = self.path_of(package_id)
        if target.exists():
            raise StorageError(f"package {package_id} already exists in storage {self.name}; packages are write-once")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.sync()  # the bag's bytes reach the disk before the package becomes visible
            os.rename(staging_bag, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"cannot move package {package_id} into storage {self.name}: {exc.strerror}") from exc
        return target

    def remove_package(self, package_id: str) -> None:
        """Only for rolling back a package the catalog never recorded (see doctor)."""
        target = self.path_of(package_id)
        if target.exists():
            trash = self.root / STAGING / f"{package_id}-rollback-{uuid.uuid4().hex[:8]}"
            os.rename(target, trash)
            shutil.rmtree(trash, ignore_errors=True)

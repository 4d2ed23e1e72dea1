"""An OCFL 1.1 storage root of packages: create objects, add versions, read and materialise them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive.errors import FixityError, NotFound, StorageError
from archive.faults import fault_point
from archive.fixity import copy_and_hash
from archive.storage import staging as staging_area
from archive.storage.ocfl import inventory as inv
from archive.storage.ocfl import writing
from archive.storage.ocfl.inventory import User, VersionInfo
from archive.storage.ocfl.layout import STAGING, check_root, initialise_root, object_relpath, os_error
from archive.tree_removal import remove_tree


class OcflRoot:
    """The storage root at ``root``; every method raises only :mod:`archive.errors` classes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"OcflRoot({self.root})"

    # -- the root --------------------------------------------------------
    def initialise(self) -> None:
        """Make the folder an OCFL storage root (idempotent)."""
        initialise_root(self.root)

    def check(self) -> None:
        check_root(self.root)

    def object_path(self, object_id: str) -> Path:
        return self.root / object_relpath(object_id)

    def exists(self, object_id: str) -> bool:
        path = self.object_path(object_id)
        try:
            os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:  # a refusal (EACCES, EIO) is no answer
            raise os_error(exc, "look up", path) from exc
        return True

    def remove_leftovers(self) -> list[Path]:
        """Remove the staging folders of writers that died, and the empty storage hierarchy folders
        a creator killed before its rename left (its staging claim names the object); return them."""
        try:
            removed = staging_area.remove_dead(self.root / STAGING)
            for item in removed:
                if isinstance(item.claim.get("object"), str):
                    writing.prune_empty(self.object_path(str(item.claim["object"])).parent, self.root)
        except OSError as exc:
            raise os_error(exc, "clean the staging area", self.root / STAGING) from exc
        return [item.path for item in removed]

    @contextmanager
    def _staging(self, label: str, object_id: str = "") -> Iterator[Path]:
        try:
            path, fd = staging_area.create(self.root / STAGING, f"{uuid.uuid4()}-{label}", label)
            if object_id:
                staging_area.write_claim(fd, {"pid": os.getpid(), "label": label, "object": object_id})
        except OSError as exc:
            raise os_error(exc, "create a staging folder in", self.root / STAGING) from exc
        try:
            yield path
        finally:
            try:
                remove_tree(path)
            except OSError:
                pass  # a dead owner's leftover once the lock is released: remove_leftovers takes it
            os.close(fd)

    # -- writing ---------------------------------------------------------
    def create_object(
        self,
        object_id: str,
        source: Path,
        *,
        digests: Mapping[str, str] | None = None,
        message: str = "",
        user: User | None = None,
        created: str | None = None,
        move: bool = False,
    ) -> Path:
        """A new object whose version 1 is the logical state in folder ``source`` (``move``: see
        :func:`writing.stage_version`)."""
        self.check()
        objdir = self.object_path(object_id)
        if self.exists(object_id):
            raise writing.VersionConflict(f"OCFL object {object_id} exists already; objects are created once")
        block = {"message": message, "user": user, "created": created or inv.now()}
        with self._staging("create", object_id) as stage:
            try:
                files = writing.logical_files(Path(source))
                writing.stage_object(
                    stage / "object",
                    stage / "scratch",
                    object_id,
                    files,
                    digests=digests or {},
                    block=block,
                    move=move,
                )
                writing.move_object_in(stage / "object", objdir, object_id)
            except OSError as exc:
                writing.prune_empty(objdir.parent, self.root)
                raise os_error(exc, "create the OCFL object at", objdir) from exc
        return objdir

    def add_version(
        self,
        object_id: str,
        source: Path,
        *,
        digests: Mapping[str, str] | None = None,
        message: str = "",
        user: User | None = None,
        created: str | None = None,
        expected_head: int | None = None,
        carry: Mapping[str, str] | None = None,
        move: bool = False,
    ) -> int:
        """Add the logical state in ``source`` as the next version; return its number.

        Only content whose sha512 the object does not hold yet is stored. ``expected_head`` (the
        head read now when None) is the version this one follows: if another writer moved the
        head meanwhile, :class:`VersionConflict` is raised and nothing is changed. ``carry`` and
        ``move``: see :func:`writing.stage_version` (a carried path names content already held).
        """
        objdir = self._objdir(object_id)
        block = {"message": message, "user": user, "created": created or inv.now()}
        with self._staging("version") as stage:
            try:
                if len(writing.version_numbers(objdir)) > inv.head_number(writing.current_inventory(objdir)):
                    self.settle(object_id)  # a killed writer's version, moved in: roll it forward first
                prior = writing.current_inventory(objdir)
                head = inv.head_number(prior)
                if expected_head is not None and head != expected_head:
                    raise writing.VersionConflict(
                        f"OCFL object {object_id} is at v{head}, not v{expected_head}: another writer added a version"
                    )
                files = writing.logical_files(Path(source))
                number = head + 1
                _, sidecar = writing.stage_version(
                    stage / f"v{number}",
                    stage / "scratch",
                    number,
                    prior,
                    files,
                    digests or {},
                    block,
                    carry=carry,
                    move=move,
                )
                fault_point("ocfl.version-staged")
                writing.move_version_in(objdir, stage / f"v{number}", stage, head, sidecar, object_id)
                fault_point("ocfl.before-cleanup")
            except OSError as exc:
                raise os_error(exc, "add a version to the OCFL object at", objdir) from exc
        return number

    def settle(self, object_id: str) -> str:
        """Finish a version write a crash interrupted (see :func:`writing.settle_locked`); what was done."""
        objdir = self._objdir(object_id)
        with self._staging("settle") as stage:
            try:
                with writing.object_lock(objdir):
                    return writing.settle_locked(objdir, stage)
            except OSError as exc:
                raise os_error(exc, "settle the OCFL object at", objdir) from exc

    # -- reading ---------------------------------------------------------
    def _objdir(self, object_id: str) -> Path:
        objdir = self.object_path(object_id)
        if not self.exists(object_id):
            raise NotFound(f"no OCFL object {object_id} in {self.root}")
        return objdir

    def inventory(self, object_id: str) -> dict[str, Any]:
        """The object's current inventory (as readers trust it: see :func:`writing.current_inventory`)."""
        objdir = self._objdir(object_id)
        try:
            found = writing.current_inventory(objdir)
        except OSError as exc:
            raise os_error(exc, "read", objdir) from exc
        if found.get("id") != object_id:
            raise StorageError(f"{objdir} holds object {found.get('id')!r}, not {object_id!r}")
        return found

    def versions(self, object_id: str) -> list[VersionInfo]:
        """Every version: number, created, message, user and state (logical path -> sha512)."""
        return inv.versions_of(self.inventory(object_id))

    def head(self, object_id: str) -> int:
        return inv.head_number(self.inventory(object_id))

    def state(self, object_id: str, version: int | None = None) -> dict[str, str]:
        """The logical state of ``version`` (the head when None): logical path -> sha512."""
        return self._version(self.inventory(object_id), object_id, version).state

    def _version(self, inventory: Mapping[str, Any], object_id: str, version: int | None) -> VersionInfo:
        found = inv.versions_of(inventory)
        number = inv.head_number(inventory) if version is None else version
        if not 1 <= number <= len(found):
            raise NotFound(f"OCFL object {object_id} has no version {number} (versions 1-{len(found)})")
        return found[number - 1]

    def content_path(self, object_id: str, logical_path: str, version: int | None = None) -> Path:
        """Where the bytes of ``logical_path`` in ``version`` are stored."""
        inventory = self.inventory(object_id)
        digest = self._version(inventory, object_id, version).state.get(logical_path)
        if digest is None:
            raise NotFound(f"version {version or 'head'} of OCFL object {object_id} has no file {logical_path}")
        return self.object_path(object_id) / inventory["manifest"][digest][0]

    def materialise(self, object_id: str, destination: Path, version: int | None = None) -> dict[str, str]:
        """Copy ``version``'s logical state into the new folder ``destination``, verifying each file's
        sha512 as it is copied; returns the state."""
        inventory = self.inventory(object_id)
        state = self._version(inventory, object_id, version).state
        objdir = self.object_path(object_id)
        destination = Path(destination)
        try:
            destination.mkdir(parents=True)
            for logical, digest in state.items():
                target = destination / logical
                target.parent.mkdir(parents=True, exist_ok=True)
                source = objdir / inventory["manifest"][digest][0]
                with open(source, "rb") as src:
                    _, got = copy_and_hash(src, target, ["sha512"], fsync=False)
                if got["sha512"] != digest:
                    raise FixityError(f"{source} does not match its sha512 in the inventory of {object_id}")
        except OSError as exc:
            raise os_error(exc, "materialise version into", destination) from exc
        return state

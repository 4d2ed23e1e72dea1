"""Writing OCFL versions: staging a logical state (deduplicated by sha512) and moving it in, crash-safe."""

from __future__ import annotations

import copy
import errno
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive.durable import copy_new, fsync_dir, write_new
from archive.errors import FixityError, StorageError
from archive.faults import fault_point, register
from archive.fixity import copy_and_hash
from archive.storage.ocfl import inventory as inv
from archive.storage.ocfl.layout import CONTENT, INVENTORY, OBJECT_NAMASTE, SIDECAR, SPEC

register(
    "ocfl.before-object-rename",
    "ocfl.after-object-rename",
    "ocfl.version-staged",
    "ocfl.before-version-rename",
    "ocfl.after-version-rename",
    "ocfl.after-inventory-rename",
    "ocfl.before-cleanup",
)


class VersionConflict(StorageError):
    """Another writer added this version (or created this object) first; nothing of either is lost."""

    code = "E501"


def logical_files(source: Path) -> dict[str, str]:
    """Where every regular file under ``source`` is, by its logical path, in logical path order
    (strings, not path objects: a million-file bag); links and special files are refused."""
    found: dict[str, str] = {}
    pending = [(source, "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as it:
            for entry in it:
                logical = f"{prefix}{entry.name}"
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    pending.append((Path(entry.path), logical + "/"))
                elif stat.S_ISREG(mode):
                    inv.check_logical_path(logical)
                    found[logical] = entry.path
                else:
                    raise StorageError(f"{entry.path} is neither a file nor a folder: a logical state holds files")
    return {logical: found[logical] for logical in sorted(found)}


def stage_version(
    vdir: Path,
    scratch: Path,
    number: int,
    prior: Mapping[str, Any],
    files: Mapping[str, str],
    digests: Mapping[str, str],
    block: Mapping[str, Any],
    carry: Mapping[str, str] | None = None,
    move: bool = False,
) -> tuple[dict[str, Any], bytes]:
    """Write version ``number`` into ``vdir``: content not yet in ``prior``'s manifest, inventory, sidecar.

    A digest the caller gives for a logical path whose content is stored already is trusted (that
    file is not read); every file that is copied is hashed on the way and checked against it.
    ``carry`` adds logical paths without any file: each names a sha512 the object holds already
    (an unchanged file of an earlier version). With ``move``, a file whose digest the caller gives
    is renamed in rather than copied (the caller hashed it when it made it, and reads the stored
    object back); the caller's folder loses those files. Returns the new inventory and the bytes of
    it and of its sidecar.
    """
    manifest: dict[str, list[str]] = copy.deepcopy(dict(prior["manifest"]))
    held = set(manifest)  # content earlier versions stored: not stored again
    state: dict[str, str] = {}
    for logical, digest in (carry or {}).items():
        inv.check_logical_path(logical)
        if digest not in manifest:
            raise StorageError(
                f"{logical} is carried forward as sha512 {digest[:16]}..., which the object does not hold"
            )
        state[logical] = digest
    vdir.mkdir()
    for logical, source in files.items():
        known = digests.get(logical)
        if known is not None and known in held:
            state[logical] = known
            continue
        if move and known is not None:
            target = vdir / CONTENT / logical
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(source, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            else:
                state[logical] = known
                manifest.setdefault(known, []).append(f"v{number}/{CONTENT}/{logical}")
                continue
        with open(source, "rb") as src:
            _, got = copy_and_hash(src, scratch, ["sha512"])
        digest = got["sha512"]
        if known is not None and digest != known:
            raise FixityError(f"{source} has sha512 {digest}, not {known} as given for {logical}")
        state[logical] = digest
        if digest in held:
            os.unlink(scratch)
            continue
        # a content already in this version is stored again: a version's content folder holds
        # every file it adds, so version 1's is the whole bag as ingested, readable without OCFL
        target = vdir / CONTENT / logical
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(scratch, target)
        manifest.setdefault(digest, []).append(f"v{number}/{CONTENT}/{logical}")
    inventory = copy.deepcopy(dict(prior))
    inventory["manifest"] = dict(sorted(manifest.items()))
    inventory["versions"] = {**inventory["versions"], f"v{number}": inv.new_version_block(state, **block)}
    inventory["head"] = f"v{number}"
    sidecar = inv.write_pair(vdir, inventory)
    _fsync_tree(vdir)
    return inventory, sidecar


def _fsync_tree(top: Path) -> None:
    for folder, _, _ in os.walk(top, topdown=False):
        fsync_dir(Path(folder))


def stage_object(objstage: Path, scratch: Path, object_id: str, files: Mapping[str, str], **kw: Any) -> None:
    """A whole new object with version 1 in ``objstage``."""
    objstage.mkdir()
    write_new(objstage / OBJECT_NAMASTE, f"ocfl_object_{SPEC}\n".encode())
    _, sidecar = stage_version(objstage / "v1", scratch, 1, inv.new_inventory(object_id), files, **kw)
    copy_new(objstage / "v1" / INVENTORY, objstage / INVENTORY)
    write_new(objstage / SIDECAR, sidecar)
    _fsync_tree(objstage)


def move_object_in(objstage: Path, objdir: Path, object_id: str) -> None:
    """Rename a staged object into place; a present object (or one racing in) is a VersionConflict."""
    for attempt in range(3):
        objdir.parent.mkdir(parents=True, exist_ok=True)
        fault_point("ocfl.before-object-rename")
        try:
            if os.path.lexists(objdir):
                raise FileExistsError
            os.rename(objstage, objdir)
            break
        except FileNotFoundError:  # a cleaner pruned the empty parent just made: make it again
            if attempt == 2 or not os.path.lexists(objstage):
                raise
        except OSError as exc:
            if os.path.lexists(objdir):
                raise VersionConflict(f"OCFL object {object_id} exists already; objects are created once") from exc
            raise
    fault_point("ocfl.after-object-rename")
    fsync_dir(objdir.parent)


def prune_empty(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents below ``root`` while they are empty (hierarchy folders
    that a creator which failed or died made and left without an object)."""
    while folder != root and root in folder.parents:
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


@contextmanager
def object_lock(objdir: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the object folder itself (no file is added to the object)."""
    fd = os.open(objdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def version_numbers(objdir: Path) -> list[int]:
    return sorted(int(m.group(1)) for name in os.listdir(objdir) if (m := inv.VERSION_DIR.fullmatch(name)))


def current_inventory(objdir: Path) -> dict[str, Any]:
    """The root inventory, trusted when it matches its sidecar, or the sidecar of the version it
    names as head (the moment between replacing the inventory and replacing its sidecar)."""
    data = inv.read_bytes(objdir)
    digest = hashlib.sha512(data).hexdigest()
    inventory = inv.parse(data, objdir)
    if digest == inv.sidecar_digest(objdir):
        return inventory
    head = inventory.get("head")
    if isinstance(head, str) and inv.VERSION_DIR.fullmatch(head) and digest == inv.sidecar_digest(objdir / head):
        return inventory
    raise StorageError(f"{objdir / INVENTORY} matches neither its sidecar nor its head version's inventory")


def install_root_inventory(objdir: Path, scratch_dir: Path, source: Path, sidecar: bytes) -> None:
    """Replace the root inventory with a copy of ``source`` (a version's), then its sidecar: each
    written aside, fsync'd, renamed over."""
    copy_new(source, scratch_dir / INVENTORY)
    write_new(scratch_dir / SIDECAR, sidecar)
    os.rename(scratch_dir / INVENTORY, objdir / INVENTORY)
    fault_point("ocfl.after-inventory-rename")
    os.rename(scratch_dir / SIDECAR, objdir / SIDECAR)
    fsync_dir(objdir)


def settle_locked(objdir: Path, scratch_dir: Path) -> str:
    """Finish what a writer killed after moving its version in left undone (the lock held).

    A version folder is complete the moment it is renamed in, so one newer than the root
    inventory's head is rolled forward: its inventory, verified against its own sidecar, becomes
    the root's. A root sidecar left behind by its inventory is rewritten. Returns what was done.
    """
    root_data = inv.read_bytes(objdir)
    root = inv.parse(root_data, objdir)
    head = inv.head_number(root)
    numbers = version_numbers(objdir)
    if numbers != list(range(1, len(numbers) + 1)) or not head <= len(numbers) <= head + 1:
        raise StorageError(f"OCFL object {objdir} holds versions {numbers} beside an inventory of head v{head}")
    if len(numbers) == head + 1:
        vdir = objdir / f"v{head + 1}"
        newer = inv.read_verified(vdir)
        if newer.get("id") != root.get("id") or inv.head_number(newer) != head + 1:
            raise StorageError(f"{vdir / INVENTORY} is not the next version of {objdir}")
        install_root_inventory(objdir, scratch_dir, vdir / INVENTORY, (vdir / SIDECAR).read_bytes())
        return f"rolled forward to v{head + 1}"
    digest = hashlib.sha512(root_data).hexdigest()
    if digest == inv.sidecar_digest(objdir):
        return ""
    if digest != inv.sidecar_digest(objdir / f"v{head}"):
        raise StorageError(f"{objdir / INVENTORY} matches neither its sidecar nor v{head}'s inventory")
    write_new(scratch_dir / SIDECAR, (objdir / f"v{head}" / SIDECAR).read_bytes())
    os.rename(scratch_dir / SIDECAR, objdir / SIDECAR)
    fsync_dir(objdir)
    return f"sidecar of v{head} rewritten"


def move_version_in(
    objdir: Path, vstage: Path, scratch_dir: Path, expected_head: int, sidecar: bytes, object_id: str
) -> None:
    """Under the object lock: settle, check the head is still ``expected_head``, rename the version
    in (the commit point), then replace the root inventory and its sidecar."""
    with object_lock(objdir):
        settle_locked(objdir, scratch_dir)
        head = inv.head_number(current_inventory(objdir))
        if head != expected_head:
            raise VersionConflict(
                f"OCFL object {object_id} is at v{head}, not v{expected_head}: another writer added a version first"
            )
        fault_point("ocfl.before-version-rename")
        target = objdir / f"v{expected_head + 1}"
        try:
            os.rename(vstage, target)  # never replaces: a version folder is never empty
        except OSError as exc:
            if os.path.lexists(target):
                raise VersionConflict(f"OCFL object {object_id} has a v{expected_head + 1} already") from exc
            raise
        fault_point("ocfl.after-version-rename")
        fsync_dir(objdir)
        install_root_inventory(objdir, scratch_dir, target / INVENTORY, sidecar)

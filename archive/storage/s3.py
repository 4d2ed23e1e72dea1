"""A storage root in S3-compatible object storage: the same OCFL 1.1 layout as on disk, one object per file.

Keys are the paths a local storage root has (``<prefix>/<object path>/v1/content/data/...``), so
a single file is read, ranged or audited on its own, and a copy of the bucket is a storage root
that any OCFL tool reads. Nothing is renamed in object storage, so the order of writes makes a
version visible whole or not at all:

1. the version's files (content, then ``vN/inventory.json``), each uploaded write-once with its
   SHA-256, so the server refuses damaged bytes and an object is never replaced;
2. ``vN/inventory.json.sha512``: a version without it does not exist (a retry uploads again what
   is missing, and keeps what is there with the same checksum);
3. the object's declaration (version 1), then the root ``inventory.json`` and last its sidecar,
   replaced only where their ETag is still the one read (``If-Match``): the commit object. A
   package counts as stored once that sidecar is written and the inventory is read back naming
   the version.

Readers trust the root inventory as on disk (:func:`archive.storage.ocfl.writing.current_inventory`):
when it matches its sidecar, or the sidecar of the version it names as head.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from archive.batches import ordered_map
from archive.errors import FixityError, NotFound, StorageError
from archive.faults import fault_point, register
from archive.fixity.hashing import copy_and_hash, hash_file
from archive.ids import is_package_id
from archive.storage.local import QUARANTINE, StoredVersion, package_relpath
from archive.storage.objects import Bucket, Location, ObjectExists, transfer_failed
from archive.storage.ocfl import inventory as inv
from archive.storage.ocfl.layout import (
    EXTENSION,
    INVENTORY,
    LAYOUT_CONFIG,
    LAYOUT_DESCRIPTION,
    LAYOUT_FILE,
    OBJECT_NAMASTE,
    ROOT_NAMASTE,
    SIDECAR,
    SPEC,
    object_relpath,
)
from archive.storage.ocfl.writing import logical_files

register("s3.content-uploaded", "s3.version-committed", "s3.root-inventory-written")

_TUPLE = re.compile(r"[0-9a-f]{3}")
#: where a storage root keeps the tombstones of disposed packages (as archive/services/lifecycle/disposal.py)
TOMBSTONES = "extensions/archive-tombstones"
#: files uploaded at once: each upload waits mostly on the network and the server (hashing releases the GIL)
UPLOADS = 8


def _declaration() -> dict[str, bytes]:
    """The storage root's own files, byte for byte as a local root has them."""
    return {
        ROOT_NAMASTE: f"ocfl_{SPEC}\n".encode(),
        LAYOUT_FILE: json.dumps({"extension": EXTENSION, "description": LAYOUT_DESCRIPTION}, indent=2).encode() + b"\n",
        f"extensions/{EXTENSION}/config.json": json.dumps(LAYOUT_CONFIG, indent=2).encode() + b"\n",
    }


@dataclass(frozen=True)
class Held:
    """What the bucket holds of one object: its current inventory and that inventory's ETag."""

    inventory: dict[str, Any]
    etag: str | None  # of the root inventory.json, None when it is not there
    committed: bool = True  # the root sidecar vouches for this inventory (not only its head version's)


class S3Storage:
    """An OCFL storage root in a bucket (under a prefix); usable as a replica of a local root."""

    kind = "s3"

    def __init__(self, location: Location, s3: Any, name: str) -> None:
        self.bucket = Bucket(location, s3)
        self.name = name
        self.root = location  # what messages name
        self._declared = False  # ensure() has found (or made) the root once

    def __repr__(self) -> str:
        return f"S3Storage({self.name}: {self.bucket.location})"

    # -- the root ----------------------------------------------------------
    def ensure(self) -> None:
        """Make the bucket (when it lacks) and declare the storage root in it (nothing changes if it is one)."""
        if self._declared:
            return
        self.bucket.ensure_bucket()
        for rel, data in _declaration().items():
            try:
                self.bucket.put_new(rel, data, hashlib.sha256(data).hexdigest())
            except ObjectExists as exc:
                raise StorageError(
                    f"object storage {self.bucket.location} holds another {rel}: it is no storage root of this layout"
                ) from exc
        self._declared = True

    def reachable(self) -> bool:
        return self.bucket.reachable()

    def _obj(self, package_id: str) -> str:
        return package_relpath(package_id) + "/"

    # -- reading -----------------------------------------------------------
    def exists(self, package_id: str) -> bool:
        """A package is stored once its object's root sidecar is written (the commit object)."""
        return self.bucket.info(self._obj(package_id) + SIDECAR) is not None

    def _held(self, package_id: str) -> Held | None:
        obj = self._obj(package_id)
        found = self.bucket.read_tagged(obj + INVENTORY)
        if found is None:
            return None
        data, etag = found
        where = Path(f"{self.bucket.location}{obj}")
        inventory = inv.parse(data, where)
        digest = hashlib.sha512(data).hexdigest()
        root = _sidecar_digest(self.bucket.read(obj + SIDECAR))
        trusted = {root}
        head = inventory.get("head")
        if isinstance(head, str) and inv.VERSION_DIR.fullmatch(head):
            trusted.add(_sidecar_digest(self.bucket.read(f"{obj}{head}/{SIDECAR}")))
        if digest not in trusted:
            raise StorageError(f"{where}/{INVENTORY} matches neither its sidecar nor its head version's inventory")
        if inventory.get("id") != package_id:
            raise StorageError(f"{where} holds object {inventory.get('id')!r}, not {package_id!r}")
        return Held(inventory, etag, committed=digest == root)

    def inventory(self, package_id: str) -> dict[str, Any]:
        held = self._held(package_id) if self.exists(package_id) else None
        if held is None:
            raise NotFound(f"no OCFL object {package_id} in {self.bucket.location}")
        return held.inventory

    def head(self, package_id: str) -> int:
        """The newest version the commit object vouches for: a root inventory replaced by a writer
        that died before its sidecar counts one version less, so the next copy finishes it."""
        held = self._held(package_id) if self.exists(package_id) else None
        if held is None:
            raise NotFound(f"no OCFL object {package_id} in {self.bucket.location}")
        return inv.head_number(held.inventory) - (0 if held.committed else 1)

    def iter_package_ids(self) -> Iterator[str]:
        """Every stored package (the three levels of layout 0003, then the object's folder, whose
        commit object is written: what an upload cut short left is not a package)."""
        for pid in self._object_ids():
            if self.exists(pid):
                yield pid

    def leftovers(self) -> Iterator[tuple[str, float]]:
        """Objects of packages without a commit object (an upload cut short), with when the newest
        of them was written: what ``archive doctor`` finishes or removes."""
        for pid in self._object_ids():
            if not self.exists(pid):
                newest = self.bucket.newest(self._obj(pid))
                if newest:  # some servers list a prefix whose objects are all gone
                    yield pid, newest

    def _object_ids(self) -> Iterator[str]:
        for a in sorted(self.bucket.folders("")):
            if not _TUPLE.fullmatch(a):
                continue
            for b in sorted(self.bucket.folders(f"{a}/")):
                for c in sorted(self.bucket.folders(f"{a}/{b}/")) if _TUPLE.fullmatch(b) else []:
                    for name in sorted(self.bucket.folders(f"{a}/{b}/{c}/")) if _TUPLE.fullmatch(c) else []:
                        pid = unquote(name)
                        if is_package_id(pid) and object_relpath(pid) == f"{a}/{b}/{c}/{name}":
                            yield pid

    def stored_at(self, package_id: str) -> float:
        """When the package's commit object was written (seconds since the epoch; 0 if it is not)."""
        info = self.bucket.info(self._obj(package_id) + SIDECAR)
        return info.modified if info else 0.0

    def keys(self, package_id: str) -> Iterator[tuple[str, int]]:
        """Every key of the package's object, relative to the object, with its size."""
        obj = self._obj(package_id)
        for rel, size in self.bucket.keys(obj):
            yield rel[len(obj) :], size

    def object_key(self, package_id: str, location: str) -> str:
        """The key (relative to the root's prefix) of ``location`` inside the package's object."""
        return self._obj(package_id) + location

    # -- writing -----------------------------------------------------------
    def mirror(self, version: StoredVersion, on_file: Callable[[int], None] = lambda size: None) -> int:
        """Make the bucket hold every version of the package up to ``version``, as the local object
        holds them (the bytes read from there, each checked against its inventory's SHA-512 while
        its SHA-256 is computed for the upload); returns the head the bucket then has."""
        pid = version.package_id
        obj = self._obj(pid)
        local = version.folder
        self.ensure()
        for number in range(1, version.number + 1):
            vrel = f"v{number}"
            if self.bucket.info(f"{obj}{vrel}/{SIDECAR}") is not None:
                continue  # that version is stored whole
            vdir = local / vrel
            block = inv.read_verified(vdir)  # the local version, as its own sidecar vouches for it
            sha512_of = manifest_sha512(block)

            def upload(rel: str, vrel: str = vrel, vdir: Path = vdir, manifest: dict[str, str] = sha512_of) -> int:
                content = f"{vrel}/{rel}"
                got = _hashed(vdir / rel)
                expected = manifest.get(content)
                if expected is None or got["sha512"] != expected:
                    raise StorageError(
                        f"cannot replicate package {pid} to {self.name}: the stored {content} does not match its "
                        "inventory (audit the primary copy)"
                    )
                self.bucket.put_new(obj + content, vdir / rel, got["sha256"], got["sha512"])
                return (vdir / rel).stat().st_size

            content_files = (rel for rel in logical_files(vdir) if rel not in (INVENTORY, SIDECAR))
            with ThreadPoolExecutor(UPLOADS, thread_name_prefix="upload") as pool:
                for size in ordered_map(pool, upload, content_files, 4 * UPLOADS):
                    on_file(size)
            fault_point("s3.content-uploaded")
            self._put_file(obj + f"{vrel}/{INVENTORY}", vdir / INVENTORY)
            self._put_file(obj + f"{vrel}/{SIDECAR}", vdir / SIDECAR)
            fault_point("s3.version-committed")
        self._put_file(obj + OBJECT_NAMASTE, local / OBJECT_NAMASTE)
        self._install_root(pid, version.number, local / f"v{version.number}")
        return self.head(pid)

    def _put_file(self, key: str, path: Path) -> None:
        got = _hashed(path)
        self.bucket.put_new(key, path, got["sha256"], got["sha512"])

    def _install_root(self, package_id: str, number: int, vdir: Path) -> None:
        """The root inventory and then its sidecar become version ``number``'s, each replaced only
        where it is still what was read (unless the bucket is ahead); then read back."""
        obj = self._obj(package_id)
        data, sidecar = (vdir / INVENTORY).read_bytes(), (vdir / SIDECAR).read_bytes()
        digest = hashlib.sha512(data).hexdigest()
        for _ in range(3):  # another writer may replace the root between our read and our write
            current = self.bucket.read_tagged(obj + INVENTORY)
            if current is not None and _head_of(current[0]) > number:
                return
            side = self.bucket.read_tagged(obj + SIDECAR)
            try:
                if current is None or hashlib.sha512(current[0]).hexdigest() != digest:
                    self.bucket.replace(obj + INVENTORY, data, current[1] if current else None)
                fault_point("s3.root-inventory-written")
                if side is None or _sidecar_digest(side[0]) != digest:
                    self.bucket.replace(obj + SIDECAR, sidecar, side[1] if side else None)
            except ObjectExists:
                continue
            break
        if not self.exists(package_id) or self.head(package_id) < number:
            raise StorageError(f"package {package_id} did not read back from {self.name} at version {number}")

    # -- repair (the only time a stored object is replaced) -------------------
    def download(self, package_id: str, rel: str, target: Path) -> None:
        """The bytes of ``rel`` of the package's object into the new file ``target`` (streamed)."""
        try:
            with self.bucket.open(self.object_key(package_id, rel)) as body:
                copy_and_hash(body, target, [], fsync=False)
        except FileNotFoundError as exc:
            raise StorageError(f"{self.name} holds no {rel} of package {package_id}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {rel} of package {package_id} from {self.name}: {exc}") from exc
        except Exception as exc:
            if not transfer_failed(exc):
                raise
            raise StorageError(f"the read of {rel} of package {package_id} from {self.name} broke off: {exc}") from exc

    def quarantine(self, package_id: str, rel: str, label: str) -> str:
        """Move a damaged or unexpected object (``rel`` inside the package's object) to the
        quarantine, ``extensions/archive-quarantine/<id>/<label>/<rel>``: copied there, then deleted."""
        source = self.object_key(package_id, rel)
        target = f"{QUARANTINE}/{package_id}/{label}/{rel}"
        self.bucket.copy(source, target)
        self.bucket.delete([source])
        return target

    def restore_file(
        self, package_id: str, rel: str, source: Path, digests: dict[str, str], size: int | None, label: str
    ) -> None:
        """Upload ``source`` as ``rel`` once it matches ``digests``, the damaged object quarantined first."""
        got_size, got = hash_file(source, [*digests, "sha256", "sha512"])
        if {a: got[a] for a in digests} != digests or (size is not None and got_size != size):
            raise FixityError(f"the copy of {rel} read from {source} does not match the catalog's digests")
        if self.bucket.info(self.object_key(package_id, rel)) is not None:
            self.quarantine(package_id, rel, label)
            fault_point("repair.after-quarantine")
        self.bucket.put_new(self.object_key(package_id, rel), source, got["sha256"], got["sha512"])

    def restore_package(self, package_id: str, files: list[tuple[str, Path, dict[str, str], int | None]]) -> str:
        """Rebuild a missing package object from ``(rel, source, digests, size)``: content first,
        each checked as it goes up, then the object's own files with the root sidecar last."""
        if self.exists(package_id):
            raise StorageError(f"package {package_id} already exists in storage {self.name}")
        self.ensure()
        last = sorted(files, key=lambda f: (_structure_rank(f[0]), f[0]))
        for rel, source, digests, size in last:
            got_size, got = hash_file(source, [*digests, "sha256", "sha512"])
            if {a: got[a] for a in digests} != digests or (size is not None and got_size != size):
                raise FixityError(f"the copy of {rel} read from {source} does not match the catalog's digests")
            self.bucket.put_new(self.object_key(package_id, rel), source, got["sha256"], got["sha512"])
        self.inventory(package_id)  # the rebuilt object's inventory matches its sidecar
        return self.object_key(package_id, "")

    def keep_tombstone(self, package_id: str, data: bytes) -> None:
        """A disposed package's tombstone under ``extensions/archive-tombstones/``, as a folder keeps
        it (written once: the first document stands)."""
        rel = f"{TOMBSTONES}/{package_id}.json"
        if self.bucket.info(rel) is None:
            self.bucket.put_new(rel, data, hashlib.sha256(data).hexdigest())

    def tombstone(self, package_id: str) -> bytes | None:
        return self.bucket.read(f"{TOMBSTONES}/{package_id}.json")

    def remove_package(self, package_id: str) -> None:
        """Remove the package's object: its commit object first, so it stops counting as stored."""
        obj = self._obj(package_id)
        self.bucket.delete([obj + SIDECAR, obj + INVENTORY])
        self.bucket.delete([obj + rel for rel, _ in self.keys(package_id)])


def _structure_rank(rel: str) -> int:
    """Upload order of a rebuilt object: content, version inventories and their sidecars, the
    declaration, the root inventory, and its sidecar (the commit object) last."""
    if rel == SIDECAR:
        return 4
    if rel == INVENTORY:
        return 3
    if rel == OBJECT_NAMASTE:
        return 2
    return 1 if rel.endswith((INVENTORY, SIDECAR)) and rel.count("/") == 1 else 0


def _head_of(data: bytes) -> int:
    try:
        return inv.head_number(json.loads(data))
    except (ValueError, AttributeError):
        return 0


def _sidecar_digest(data: bytes | None) -> str | None:
    if data is None:
        return None
    match = inv._SIDECAR_LINE.fullmatch(data.decode("utf-8", "replace"))
    return match.group(1) if match else None


def _hashed(path: Path) -> dict[str, str]:
    return hash_file(path, ["sha256", "sha512"])[1]


def manifest_sha512(inventory: Mapping[str, Any]) -> dict[str, str]:
    """Content path -> sha512, from an inventory's manifest."""
    return {p: d for d, paths in inventory.get("manifest", {}).items() for p in paths}

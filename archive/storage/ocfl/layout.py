"""The OCFL 1.1 storage root on disk: its declaration, layout extension 0003 and the staging area."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from pathlib import Path

from archive.durable import fsync_dir, write_atomic
from archive.errors import StorageError

SPEC = "1.1"
ROOT_NAMASTE = f"0=ocfl_{SPEC}"
OBJECT_NAMASTE = f"0=ocfl_object_{SPEC}"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
INVENTORY_TYPE = f"https://ocfl.io/{SPEC}/spec/#inventory"
CONTENT = "content"
LAYOUT_FILE = "ocfl_layout.json"
EXTENSION = "0003-hash-and-id-n-tuple-storage-layout"
LAYOUT_CONFIG = {"extensionName": EXTENSION, "digestAlgorithm": "sha256", "tupleSize": 3, "numberOfTuples": 3}
LAYOUT_DESCRIPTION = (
    "Hashed Truncated N-tuple Trees with Object ID Encapsulating Directory "
    "(https://ocfl.github.io/extensions/0003-hash-and-id-n-tuple-storage-layout.html)"
)
#: staging for new objects and versions: inside the storage root (same file system, so a rename
#: moves a finished version in), under ``extensions/`` so that it is no storage hierarchy
STAGING = Path("extensions") / "archive-staging"
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def os_error(exc: OSError, what: str, path: Path | str) -> StorageError:
    """``exc`` said in storage's terms, with the path and the system's words."""
    return StorageError(f"cannot {what} {path}: {exc.strerror or exc}")


def object_relpath(object_id: str) -> str:
    """Extension 0003: three 3-character tuples of the id's sha256, then the id percent-encoded."""
    if not object_id:
        raise StorageError("an OCFL object id may not be empty")
    digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    encoded = "".join(c if c in _PLAIN else "".join(f"%{b:02x}" for b in c.encode("utf-8")) for c in object_id)
    if len(encoded) > 100:
        encoded = f"{encoded[:100]}-{digest}"
    return f"{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/{encoded}"


def initialise_root(root: Path) -> None:
    """Make ``root`` an OCFL 1.1 storage root (nothing changes if it is one already)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        if (root / ROOT_NAMASTE).exists():
            (root / STAGING).mkdir(parents=True, exist_ok=True)
            return
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # two first writers at once: one declares, the other sees it
            _declare(root)
        finally:
            os.close(fd)
    except OSError as exc:
        raise os_error(exc, "initialise the OCFL storage root", root) from exc


def _declare(root: Path) -> None:
    """Declare ``root`` an OCFL storage root (under the lock). What an archive kept there before its
    packages became OCFL objects (legacy package folders, ``ledger/``, ``.staging``, ``.quarantine``)
    may stay beside it until ``archive migrate-storage`` moves it; anything else is refused."""
    if not (root / ROOT_NAMASTE).exists():
        entries = [e for e in os.listdir(root) if not _ours(e)]
        if entries:
            raise StorageError(f"{root} is not empty and no OCFL storage root: {sorted(entries)[:5]}")
        config_dir = root / "extensions" / EXTENSION
        config_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(config_dir / "config.json", json.dumps(LAYOUT_CONFIG, indent=2).encode() + b"\n")
        layout = {"extension": EXTENSION, "description": LAYOUT_DESCRIPTION}
        write_atomic(root / LAYOUT_FILE, json.dumps(layout, indent=2).encode() + b"\n")
        write_atomic(root / ROOT_NAMASTE, f"ocfl_{SPEC}\n".encode())  # the declaration last: a root is whole
        fsync_dir(root)
    (root / STAGING).mkdir(parents=True, exist_ok=True)


#: what a storage root may hold before it is declared an OCFL root: its own files half written, and
#: what an archive kept there before its packages became OCFL objects
_LEGACY = re.compile(r"[0-9a-f]{2}|ledger|\.staging|\.quarantine|extensions|ocfl_layout\.json|\.tmp-.*")


def _ours(name: str) -> bool:
    return bool(_LEGACY.fullmatch(name))


def check_root(root: Path) -> None:
    """Raise StorageError unless ``root`` is an OCFL 1.1 storage root laid out as this module writes."""
    try:
        declared = (root / ROOT_NAMASTE).read_text(encoding="utf-8")
        layout = json.loads((root / LAYOUT_FILE).read_text(encoding="utf-8"))
        config = json.loads((root / "extensions" / EXTENSION / "config.json").read_text(encoding="utf-8"))
    except OSError as exc:
        raise os_error(exc, "read the OCFL storage root", root) from exc
    except ValueError as exc:
        raise StorageError(f"the OCFL storage root {root} has a broken layout file: {exc}") from exc
    if declared != f"ocfl_{SPEC}\n" or layout.get("extension") != EXTENSION or config != LAYOUT_CONFIG:
        raise StorageError(f"{root} is not an OCFL {SPEC} storage root with layout {EXTENSION} as configured here")

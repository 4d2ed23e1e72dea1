"""OCFL inventories: building one, writing it with its sidecar, reading it back verified."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.durable import write_new
from archive.errors import StorageError
from archive.storage.ocfl.layout import CONTENT, INVENTORY, INVENTORY_TYPE, SIDECAR, os_error

VERSION_DIR = re.compile(r"v([1-9][0-9]*)")
_SIDECAR_LINE = re.compile(r"([0-9a-f]{128})[ \t]+inventory\.json[ \t]*\n?")


@dataclass(frozen=True)
class User:
    """Who made a version: a name and an address (a URI, e.g. ``mailto:...``)."""

    name: str
    address: str = ""


@dataclass(frozen=True)
class VersionInfo:
    """One version of an object as its inventory records it."""

    number: int
    created: str
    message: str
    user: User | None
    state: dict[str, str]  # logical path -> sha512


def check_logical_path(path: str) -> None:
    """OCFL logical paths: ``/``-separated, no empty, ``.`` or ``..`` segment, valid UTF-8."""
    parts = path.split("/")
    if not path or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"{path!r} cannot be an OCFL logical path")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StorageError(f"{path!r} is not UTF-8 and cannot be an OCFL logical path") from exc


def now() -> str:
    return ocfl_time(datetime.now(UTC))


def parse_ocfl_time(value: str) -> datetime | None:
    """An inventory's ``created`` as a time (None when it is not ISO 8601)."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def ocfl_time(value: datetime) -> str:
    """An inventory's ``created``: ISO 8601 in UTC, to the second (the zone assumed UTC when none)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_version_block(state: Mapping[str, str], message: str, user: User | None, created: str) -> dict[str, Any]:
    """The ``versions`` entry of a logical state: digest -> logical paths (sorted, so bytes are stable)."""
    by_digest: dict[str, list[str]] = {}
    for path in sorted(state):
        by_digest.setdefault(state[path], []).append(path)
    block: dict[str, Any] = {"created": created, "message": message, "state": dict(sorted(by_digest.items()))}
    if user is not None:
        block["user"] = {"name": user.name, **({"address": user.address} if user.address else {})}
    return block


def new_inventory(object_id: str) -> dict[str, Any]:
    return {
        "id": object_id,
        "type": INVENTORY_TYPE,
        "digestAlgorithm": "sha512",
        "head": "v0",
        "contentDirectory": CONTENT,
        "manifest": {},
        "versions": {},
    }


def head_number(inventory: Mapping[str, Any]) -> int:
    match = VERSION_DIR.fullmatch(str(inventory.get("head", "")))
    return int(match.group(1)) if match else 0


#: pieces of JSON text gathered before they are encoded and hashed together
_ENCODE_PIECES = 4096


def _encoded(inventory: Mapping[str, Any]) -> Iterator[bytes]:
    """The inventory's UTF-8 JSON text (indented), a few thousand pieces at a time: ``json.dumps``
    with ``indent`` holds every piece of a million-file inventory, then the whole text, then its
    bytes (three times the inventory at once)."""
    pieces: list[str] = []
    for piece in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(inventory):
        pieces.append(piece)
        if len(pieces) >= _ENCODE_PIECES:
            yield "".join(pieces).encode("utf-8")
            pieces.clear()
    pieces.append("\n")
    yield "".join(pieces).encode("utf-8")


def _sidecar(digest: Any) -> bytes:
    return f"{digest.hexdigest()}  {INVENTORY}\n".encode()


def write_pair(folder: Path, inventory: Mapping[str, Any]) -> bytes:
    """``inventory.json`` and its sidecar as new files in ``folder`` (fsync'd), the text written as
    it is made; returns the sidecar's bytes."""
    digest = hashlib.sha512()
    with open(folder / INVENTORY, "xb") as out:
        for chunk in _encoded(inventory):
            out.write(chunk)
            digest.update(chunk)
        out.flush()
        os.fsync(out.fileno())
    sidecar = _sidecar(digest)
    write_new(folder / SIDECAR, sidecar)
    return sidecar


def sidecar_digest(folder: Path) -> str | None:
    """The digest ``folder``'s sidecar records, or None when it is missing or malformed."""
    try:
        line = (folder / SIDECAR).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"cannot read {folder / SIDECAR}: {getattr(exc, 'strerror', None) or exc}") from exc
    match = _SIDECAR_LINE.fullmatch(line)
    return match.group(1) if match else None


def read_bytes(folder: Path) -> bytes:
    try:
        return (folder / INVENTORY).read_bytes()
    except OSError as exc:
        raise os_error(exc, "read", folder / INVENTORY) from exc


def parse(data: bytes, where: Path) -> dict[str, Any]:
    try:
        inventory = json.loads(data)
    except ValueError as exc:
        raise StorageError(f"{where / INVENTORY} is no JSON: {exc}") from exc
    if not isinstance(inventory, dict) or inventory.get("digestAlgorithm") != "sha512":
        raise StorageError(f"{where / INVENTORY} is not an inventory this archive wrote (sha512)")
    return inventory


def read_verified(folder: Path) -> dict[str, Any]:
    """A version folder's inventory, checked against its own sidecar (version folders never change)."""
    data = read_bytes(folder)
    if hashlib.sha512(data).hexdigest() != sidecar_digest(folder):
        raise StorageError(f"{folder / INVENTORY} does not match its sidecar {SIDECAR}")
    return parse(data, folder)


def version_of(inventory: Mapping[str, Any], number: int) -> VersionInfo:
    """Version ``number`` as ``inventory`` records it (only that version's state is built);
    its block is found by number, so ``v1`` and a zero-padded ``v001`` are the same version."""
    versions = inventory.get("versions", {})
    block: Mapping[str, Any] = versions.get(f"v{number}") or next(
        (b for n, b in versions.items() if int(n[1:]) == number), {}
    )
    user = block.get("user")
    state = {path: digest for digest, paths in block.get("state", {}).items() for path in paths}
    return VersionInfo(
        number=number,
        created=block.get("created", ""),
        message=block.get("message", ""),
        user=User(user.get("name", ""), user.get("address", "")) if isinstance(user, dict) else None,
        state=dict(sorted(state.items())),
    )


def versions_of(inventory: Mapping[str, Any]) -> list[VersionInfo]:
    return [version_of(inventory, n) for n in sorted(int(name[1:]) for name in inventory.get("versions", {}))]

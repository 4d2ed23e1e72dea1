"""Read-back verification of a stored bag, and copying a stored package to a replica."""

from __future__ import annotations

from pathlib import Path

import bagit

from archive.errors import StorageError
from archive.fixity import copy_and_hash
from archive.model import FileRecord
from archive.storage import LocalStorage


def verify_stored_bag(path: Path, processes: int = 1) -> None:
    """Re-read every stored byte with bagit-python and check manifests, tag manifests and Oxum."""
    try:
        bagit.Bag(str(path)).validate(processes=processes)
    except bagit.BagValidationError as exc:
        details = "; ".join(str(d) for d in (exc.details or [])[:10])
        raise StorageError(f"stored package at {path} did not verify: {exc.message} {details}") from exc
    except (bagit.BagError, OSError) as exc:
        raise StorageError(f"stored package at {path} could not be read back: {exc}") from exc


def replicate_package(stored: Path, replica: LocalStorage, package_id: str, files: list[FileRecord],
                      tag_digests: dict[str, dict[str, str]]) -> Path:
    """Copy a stored bag to ``replica`` (staging, then rename), checking every digest on the way."""
    expected = {f.bag_path: f.digests for f in files}
    expected.update(tag_digests)
    staging = replica.new_staging("replica")
    bag = staging / "bag"
    try:
        for rel, digests in expected.items():
            target = bag / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(stored / rel, "rb") as src:
                _, found = copy_and_hash(src, target, list(digests), fsync=False)
            if found != digests:
                raise StorageError(f"copy of {rel} to {replica.name} does not match its digests")
        return replica.commit(bag, package_id)
    except OSError as exc:
        raise StorageError(f"cannot replicate package {package_id} to {replica.name}: {exc}") from exc
    finally:
        replica.discard(staging)

"""Read-back verification of a stored bag, and copying a stored package to a replica."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archive.errors import StorageError
from archive.faults import fault_point, register
from archive.fixity import copy_and_hash, hash_file
from archive.model import FileRecord
from archive.storage import LocalStorage

register("replica.staged", "replica.after-rename")


def expected_digests(files: list[FileRecord], tag_digests: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Every file of a stored bag (payload and tag files) with the digests it must have."""
    expected = {f.bag_path: f.digests for f in files}
    expected.update(tag_digests)
    return expected


def verify_stored_bag(
    path: Path, files: list[FileRecord], tag_digests: dict[str, dict[str, str]], workers: int = 1
) -> None:
    """Re-read every stored byte and compare with the digests computed while copying.

    One strong digest is enough to prove the stored bytes are the copied bytes, so the
    read-back computes only the fastest of them (sha256 where the profile has it: it runs on
    the CPU's SHA extensions); every algorithm was computed from the same read of the
    submission, and audits re-check them all. Also checks that the bag holds no file beyond
    those. Raises StorageError on any difference.
    """
    expected = expected_digests(files, tag_digests)

    def check(item: tuple[str, dict[str, str]]) -> str | None:
        rel, digests = item
        algorithm = "sha256" if "sha256" in digests else next(iter(digests))
        try:
            _, found = hash_file(path / rel, [algorithm])
        except StorageError as exc:
            return f"{rel}: {exc}"
        return None if found[algorithm] == digests[algorithm] else f"{rel}: {algorithm} differs after storing"

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        problems = [p for p in pool.map(check, expected.items()) if p]
    present = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() or p.is_symlink()}
    extra = sorted(present - set(expected))
    problems += [f"{rel}: unexpected file in the stored bag" for rel in extra]
    if problems:
        raise StorageError(f"stored package at {path} did not verify: " + "; ".join(problems[:10]))


def replicate_package(
    stored: Path,
    replica: LocalStorage,
    package_id: str,
    files: list[FileRecord],
    tag_digests: dict[str, dict[str, str]],
) -> Path:
    """Copy a stored bag to ``replica`` (staging, then rename), checking every digest on the way."""
    staging = replica.new_staging("replica")
    bag = staging / "bag"
    try:
        for rel, digests in expected_digests(files, tag_digests).items():
            target = bag / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(stored / rel, "rb") as src:
                _, found = copy_and_hash(src, target, list(digests), fsync=False)
            if found != digests:
                raise StorageError(f"copy of {rel} to {replica.name} does not match its digests")
        fault_point("replica.staged")
        replica.claim(staging, package_id)
        committed = replica.commit(bag, package_id)
        fault_point("replica.after-rename")
        return committed
    except OSError as exc:
        raise StorageError(f"cannot replicate package {package_id} to {replica.name}: {exc}") from exc
    finally:
        replica.discard(staging)

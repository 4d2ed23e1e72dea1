"""Read-back verification of a stored bag, and copying a stored package to a replica."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archive.audit.budget import Budget
from archive.audit.check import Expected, FileOutcome, check_copy, record_entries
from archive.errors import StorageError
from archive.faults import fault_point, register
from archive.model import FileRecord
from archive.storage import LocalStorage

register("replica.staged", "replica.after-rename")


def _fastest(entry: Expected) -> Expected:
    algorithm = "sha256" if "sha256" in entry.digests else next(iter(entry.digests))
    return Expected(entry.path, entry.size, {algorithm: entry.digests[algorithm]})


def verify_stored_bag(
    path: Path, files: list[FileRecord], tag_digests: dict[str, dict[str, str]], workers: int = 1
) -> None:
    """Re-read every stored byte and compare with the digests computed while copying.

    One strong digest is enough to prove the stored bytes are the copied bytes, so the
    read-back computes only the fastest of them (sha256 where the profile has it: it runs on
    the CPU's SHA extensions); every algorithm was computed from the same read of the
    submission, and audits re-check them all. Also checks that the bag holds no file beyond
    those. Raises StorageError on any difference. The check is :func:`archive.audit.check.check_copy`.
    """
    entries = [_fastest(e) for e in record_entries(files, tag_digests)]
    problems: list[str] = []

    def note(outcome: FileOutcome) -> None:
        rel = outcome.entry.path
        if outcome.error is not None:
            problems.append(f"{rel}: cannot read {path / rel}: {outcome.error.strerror}")
        elif outcome.kind == "not-regular":
            problems.append(f"{rel}: {outcome.message}")
        elif outcome.kind is not None:
            problems.append(f"{rel}: {next(iter(outcome.entry.digests))} differs after storing")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = check_copy(path, entries, "", "", Budget(), pool if workers > 1 else None, on_file=note, extras=True)
    problems += [f"{f.path}: unexpected file in the stored bag" for f in done.findings if f.kind == "extra"]
    if problems:
        raise StorageError(f"stored package at {path} did not verify: " + "; ".join(problems[:10]))


def replicate_package(
    stored: Path,
    replica: LocalStorage,
    package_id: str,
    files: list[FileRecord],
    tag_digests: dict[str, dict[str, str]],
) -> Path:
    """Copy a stored bag to ``replica`` (staging, then rename), checking every digest on the way (the one
    check, :func:`archive.audit.check.check_copy`, copying as it reads)."""
    staging = replica.new_staging("replica")
    bag = staging / "bag"

    def refuse(outcome: FileOutcome) -> None:
        if outcome.error is not None:
            raise outcome.error  # reported below as the copy failing
        if outcome.kind is not None:
            raise StorageError(f"copy of {outcome.entry.path} to {replica.name} does not match its digests")

    try:
        entries = record_entries(files, tag_digests)
        check_copy(stored, entries, package_id, replica.name, Budget(), on_file=refuse, copy_to=bag)
        fault_point("replica.staged")
        replica.claim(staging, package_id)
        committed = replica.commit(bag, package_id)
        fault_point("replica.after-rename")
        return committed
    except OSError as exc:
        raise StorageError(f"cannot replicate package {package_id} to {replica.name}: {exc}") from exc
    finally:
        replica.discard(staging)

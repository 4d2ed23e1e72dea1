"""Read-back verification of a stored version, and copying a stored version to a replica."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from archive.audit.budget import Budget
from archive.audit.check import Expected, FileOutcome, bag_files, check_copy, record_entries
from archive.audit.workers import CheckPool
from archive.errors import StorageError
from archive.faults import fault_point, register
from archive.model import FileRecord
from archive.services.progress import ByteMeter, Progress, no_progress
from archive.storage import LocalStorage
from archive.storage.local import StoredVersion
from archive.storage.s3 import S3Storage

register("replica.staged", "replica.after-rename")


def located(entries: Iterable[Expected], version: StoredVersion) -> list[Expected]:
    """``entries`` (bag paths) with where ``version`` keeps each one's bytes inside its object."""
    return [Expected(e.path, e.size, e.digests, version.stored(e.path)) for e in entries]


def sha512_of(files: Iterable[FileRecord], tag_digests: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Bag path -> sha512 of every file and tag file that has one (OCFL addresses content by it)."""
    out = {f.bag_path: f.digests["sha512"] for f in files if "sha512" in f.digests}
    out.update({name: d["sha512"] for name, d in tag_digests.items() if "sha512" in d})
    return out


def _fastest(digests: Mapping[str, str]) -> dict[str, str]:
    algorithm = "sha256" if "sha256" in digests else next(iter(digests))
    return {algorithm: digests[algorithm]}


def verify_stored_bag(
    version: StoredVersion,
    files: Sequence[FileRecord],
    tag_digests: dict[str, dict[str, str]],
    workers: int = 1,
    progress: Progress = no_progress,
) -> None:
    """Re-read every byte ``version`` stored and compare with the digests computed while copying.

    A version carries the files an earlier version stored (OCFL, by sha512): for those the
    version's state must name the expected sha512, and their bytes are not read again (they were
    when stored, and audits read them on schedule), so an amendment of a big package reads back
    only what it wrote. One strong digest is enough to prove the stored bytes are the copied bytes, so the
    read-back computes only the fastest of them (sha256 where the profile has it: it runs on
    the CPU's SHA extensions); every algorithm was computed from the same read of the
    submission, and audits re-check them all. Version 1 must also hold no file beyond those
    (a later version shares its object with earlier ones: audits look for strays there). Raises
    StorageError on any difference. The check is :func:`archive.audit.check.check_copy`.
    """
    state = version.state
    written = f"v{version.number}/"
    problems: list[str] = []
    entries: list[Expected] = []  # what this version wrote, each with its fastest digest only
    held = 0  # of the package's files, those the version holds
    for rel, size, digests in bag_files(files, tag_digests):
        stored_sha512 = state.get(rel)
        if stored_sha512 is None:
            problems.append(f"{rel}: the stored version does not hold it")
            continue
        held += 1
        sha512 = digests.get("sha512")
        if sha512 and stored_sha512 != sha512:
            problems.append(f"{rel}: the stored version names other content than the package")
        location = version.stored(rel)
        if location.startswith(written):
            entries.append(Expected(rel, size, _fastest(digests), location))
    if held != len(state):  # the version holds what the package does not: name it
        names = {rel for rel, _, _ in bag_files(files, tag_digests)}
        problems = [
            f"{rel}: the stored version holds it, the package does not" for rel in state if rel not in names
        ] + problems
    path = version.folder
    meter = ByteMeter(progress, "verifying", sum(e.size or 0 for e in entries))

    def note(outcome: FileOutcome) -> None:
        rel = outcome.entry.path
        if outcome.error is not None:
            problems.append(f"{rel}: cannot read {path / outcome.entry.location}: {outcome.error.strerror}")
        elif outcome.kind == "not-regular":
            problems.append(f"{rel}: {outcome.message}")
        elif outcome.kind is not None:
            problems.append(f"{rel}: {next(iter(outcome.entry.digests))} differs after storing")

    with CheckPool(workers) as pool:
        done = check_copy(
            path,
            entries,
            "",
            "",
            Budget(),
            pool if workers > 1 else None,
            on_file=note,
            extras=version.number == 1,
            on_bytes=meter.add,
        )
    meter.finish()
    problems += [f"{f.path}: unexpected file in the stored package" for f in done.findings if f.kind == "extra"]
    if problems:
        raise StorageError(f"stored package at {path} did not verify: " + "; ".join(problems[:10]))


def replicate_package(
    version: StoredVersion,
    replica: LocalStorage | S3Storage,
    package_id: str,
    files: list[FileRecord],
    tag_digests: dict[str, dict[str, str]],
) -> int:
    """Copy a stored version to ``replica``: version 1 makes the replica's object, a later one is
    added to it (only the content the replica does not hold yet is copied). Every copied byte is
    checked on the way (the one check, :func:`archive.audit.check.check_copy`, copying as it
    reads); the replica's version is made with the same message, user and time as the primary's.
    A root in object storage receives the primary's object file by file, byte for byte, each
    file checked against its inventory as it is read (:meth:`S3Storage.mirror`)."""
    if isinstance(replica, S3Storage):
        return replica.mirror(version)
    staging = replica.new_staging("replica")
    bag = staging / "bag"

    def refuse(outcome: FileOutcome) -> None:
        if outcome.error is not None:
            raise outcome.error  # reported below as the copy failing
        if outcome.kind is not None:
            raise StorageError(f"copy of {outcome.entry.path} to {replica.name} does not match its digests")

    digests = sha512_of(files, tag_digests)
    try:
        entries = located(record_entries(files, tag_digests), version)
        held: set[str] = set()
        if version.number > 1:
            held = set(replica.ocfl.inventory(package_id)["manifest"])
        carry = {e.path: digests[e.path] for e in entries if digests.get(e.path) in held}
        todo = [e for e in entries if e.path not in carry]
        bag.mkdir()
        check_copy(version.folder, todo, package_id, replica.name, Budget(), on_file=refuse, copy_to=bag)
        fault_point("replica.staged")
        replica.claim(staging, package_id)
        if version.number == 1:
            replica.commit(
                bag, package_id, digests, message=version.message, user=version.user, created=version.created or None
            )
            number = 1
        else:
            number = replica.add_version(
                package_id,
                bag,
                digests,
                carry,
                version.number - 1,
                message=version.message,
                user=version.user,
                created=version.created or None,
            )
        fault_point("replica.after-rename")
        return number
    except OSError as exc:
        raise StorageError(f"cannot replicate package {package_id} to {replica.name}: {exc}") from exc
    finally:
        replica.discard(staging)

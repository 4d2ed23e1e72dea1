"""Ingest: from a submission to a stored, verified, catalogued package.

prepare (scan, validate, copy+hash, identify) -> PREMIS events and agents -> METS (validated
against the bundled schemas) -> BagIt tag files -> rename into storage (atomic, write-once)
-> read-back verification of every stored byte against the copy's digests -> replicas ->
one catalog transaction. Any failure before the catalog commit leaves no visible package.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.catalog.repository import AlreadyRecorded
from archive.errors import Finding, StorageError, SubmissionRejected, error
from archive.faults import fault_point, register
from archive.model import (
    SUBMISSION_FOLDER,
    FileRecord,
    SubmittedFile,
)
from archive.packaging.bag.write import write_tag_files
from archive.profiles.access_rules import AccessOutcome
from archive.services.context import ArchiveContext
from archive.services.copies import replicate_package, sha512_of, verify_stored_bag
from archive.services.ingest.build import package_and_mets
from archive.services.ingest.prepare import Prepared, prepare
from archive.services.ledgering import ledgered
from archive.services.progress import Progress, no_progress
from archive.storage import package_relpath
from archive.storage.ocfl import User, ocfl_time
from archive.submission.scan import printable

register("ingest.start", "mets.written", "bag.tagfiles-written", "verify.done", "ingest.before-cleanup")


@dataclass
class IngestResult:
    package_id: str
    created: bool  # False: the same submission was already ingested (idempotency key matched)
    profile_id: str
    profile_version: str
    files: int
    bytes: int
    formats: dict[str, int]
    warnings: list[Finding] = field(default_factory=list)
    storage_path: str = ""
    access: AccessOutcome | None = None  # the package's access level and why
    version: int = 1  # the package's version this ingest left (above 1: a resubmission under its key)
    new_version: bool = False  # this ingest made that version (other content under a stored key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.package_id,
            "created": self.created,
            "profile": self.profile_id,
            "profile_version": self.profile_version,
            "files": self.files,
            "bytes": self.bytes,
            "formats": self.formats,
            "warnings": [w.as_dict() for w in self.warnings],
            "storage_path": self.storage_path,
            "access": self.access.as_dict() if self.access else None,
            "version": self.version,
            "new_version": self.new_version,
        }


def _fingerprint(
    profile_id: str, metadata: dict[str, Any], files: list[FileRecord], submitted: list[SubmittedFile]
) -> str:
    """A digest of what makes two submissions the same: profile, metadata, every file's content
    and per-file metadata, and what the submission brought beside its payload (a bag's tag
    files). Values go through JSON first, so a package read back from the catalog gives the
    digest its submission gave."""

    def canonical(value: Any) -> str:
        return json.dumps(json.loads(json.dumps(value, sort_keys=True, default=str)), sort_keys=True)

    h = hashlib.sha256()
    h.update(canonical({"profile": profile_id, "metadata": metadata}).encode())
    for f in sorted(files, key=lambda f: f.path):
        h.update(b"\0" + f.path.encode() + b"\0" + f.digests["sha256"].encode())
        if f.metadata:
            h.update(b"\0" + canonical(f.metadata).encode())
    for t in sorted(submitted, key=lambda t: t.path):
        h.update(b"\1" + t.path.encode() + b"\0" + t.digests.get("sha256", "").encode())
    return "sha256:" + h.hexdigest()


def idempotency_key(prepared: Prepared) -> str:
    """The key of a submission ingested without ``--key``: its content fingerprint."""
    return _fingerprint(prepared.profile.id, prepared.metadata, prepared.files, prepared.submitted)


def _submitted_of(ctx: ArchiveContext, package_id: str) -> list[SubmittedFile]:
    """What a stored package's submission brought beside its payload, from the catalog's tag digests."""
    prefix = f"{SUBMISSION_FOLDER}/"
    return [
        SubmittedFile(name[len(prefix) :], 0, digests)
        for name, digests in ctx.catalog.tag_digests(package_id).items()
        if name.startswith(prefix)
    ]


def _same_or_refuse(
    ctx: ArchiveContext, existing: str, key: str, prepared: Prepared, agent: str | None = None
) -> IngestResult:
    """The package already stored under ``key``, if it holds this very submission; else its next
    version, or E160.

    A retry with the same key returns the first package. The same key with other content (a
    changed file, a corrected ``files.csv`` or metadata) under the same profile makes a new
    version of that package (kind ``resubmit``, by ``agent``); under another profile, or where no
    new version can be made (a concurrent ingest won the race), it is refused: answering "already
    stored" would silently lose the correction.
    """
    pkg = ctx.catalog.get_package(existing)
    if _fingerprint(pkg.profile_id, pkg.metadata, pkg.files, _submitted_of(ctx, existing)) == idempotency_key(prepared):
        return _existing(ctx, existing)
    if pkg.profile_id == prepared.profile.id and agent is not None:
        from archive.services.lifecycle.changes import resubmit
        from archive.services.lifecycle.versions import Actor

        done = resubmit(ctx, existing, prepared, Actor(agent))
        result = _existing(ctx, existing)
        result.version, result.warnings, result.new_version = done.version, prepared.warnings, True
        return result
    raise SubmissionRejected(
        f"submission {printable(prepared.source_name)} was rejected",
        [
            error(
                "E160",
                "--key",
                (
                    f"the key {printable(key)!r} was used for package {existing} of profile {pkg.profile_id}, "
                    f"not {prepared.profile.id}; it is not stored again and not changed. Use a new key for a "
                    "new package (under the package's own profile, other content makes its next version)"
                )
                if pkg.profile_id != prepared.profile.id
                else (
                    f"a concurrent ingest stored other content under the key {printable(key)!r} first (package "
                    f"{existing}); nothing of this submission was kept: ingest it again to make it that "
                    "package's next version"
                ),
            )
        ],
    )


def format_counts(prepared_files: list[Any]) -> dict[str, int]:
    counts = Counter((f.format.puid or "unidentified") if f.format else "unidentified" for f in prepared_files)
    return dict(sorted(counts.items()))


def _existing(ctx: ArchiveContext, package_id: str) -> IngestResult:
    pkg = ctx.catalog.get_package(package_id)
    return IngestResult(
        package_id,
        False,
        pkg.profile_id,
        pkg.profile_version,
        len(pkg.files),
        pkg.total_bytes,
        format_counts(pkg.files),
        [],
        package_relpath(package_id),
        AccessOutcome.stored(pkg.access),
        pkg.version,
    )


def _roll_back(ctx: ArchiveContext, package_id: str) -> None:
    """Remove a package this ingest stored but did not catalogue, from every storage root."""
    for s in ctx.audited_copies:
        try:
            s.remove_package(package_id)
        except (OSError, StorageError) as exc:  # pragma: no cover - reported; doctor finishes the job
            raise StorageError(
                f"could not roll back package {package_id} in {s.name}: {exc}; run `archive doctor`"
            ) from exc


def ingest(
    ctx: ArchiveContext,
    submission: Path,
    profile: str,
    metadata_file: Path | None = None,
    agent: str | None = None,
    key: str | None = None,
    progress: Progress = no_progress,
) -> IngestResult:
    """Ingest one submission; a retry (same idempotency key) returns the package already made.

    Crash-safe at every step (docs/reliability.md): the work happens in a locked staging folder
    that claims the package id before the package is renamed into storage, so ``archive doctor``
    can tell a dead ingest's leftovers from a live one's.
    """
    storage = ctx.storage
    work = storage.new_staging("ingest")
    try:
        fault_point("ingest.start")
        p = prepare(ctx, Path(submission), profile, metadata_file, work, copy=True, progress=progress)
        assert p.copied_to is not None
        key = key or idempotency_key(p)
        existing = ctx.catalog.find_by_key(key)
        if existing:
            return _same_or_refuse(ctx, existing, key, p, agent or ctx.settings.agent)
        package_id = str(uuid.uuid4())
        progress("packaging", 0, 1)
        bag = p.copied_to
        pkg, mets = package_and_mets(ctx, p, package_id, agent or ctx.settings.agent, key, bag, progress)
        fault_point("mets.written")
        tag_digests = write_tag_files(
            bag,
            pkg.files,
            p.profile.checksums,
            pkg.bag_info,
            [*mets.names, *(f.bag_path for f in pkg.submitted)],
            known={**mets.digests, **{f.bag_path: f.digests for f in pkg.submitted}},
        )
        fault_point("bag.tagfiles-written")
        progress("storing", 0, 1)
        storage.claim(work, package_id)
        storage.commit(
            bag,
            package_id,
            sha512_of(pkg.files, tag_digests),
            message=f"ingest of {p.source_name}"[:1000],
            user=User(pkg.version_agent or agent or ctx.settings.agent),
            created=ocfl_time(pkg.created),
        )
        try:
            progress("verifying", 0, 1)
            stored = storage.version(package_id, 1)
            if ctx.settings.verify_after_store:
                verify_stored_bag(stored, pkg.files, tag_digests, ctx.settings.workers, progress)
            fault_point("verify.done")
            for replica in ctx.copy_targets:
                progress(f"replicating to {replica.name}", 0, 1)
                replicate_package(stored, replica, package_id, pkg.files, tag_digests)
            with ledgered(ctx, pkg, tag_digests):  # write-ahead: the ledger first, then the catalog
                ctx.catalog.record_package(
                    pkg, package_relpath(package_id), hashlib.sha256(mets.root).hexdigest(), tag_digests
                )
        except AlreadyRecorded as dup:
            # a concurrent ingest of the same submission committed first: keep its package, drop ours
            _roll_back(ctx, package_id)
            return _same_or_refuse(ctx, dup.existing, key, p)
        except Exception:
            # storage holds a package the catalog never recorded: roll it back everywhere
            _roll_back(ctx, package_id)
            raise
        progress("done", 1, 1)
        fault_point("ingest.before-cleanup")
        return IngestResult(
            package_id,
            True,
            p.profile.id,
            p.profile.version,
            len(p.files),
            p.total_bytes,
            format_counts(p.files),
            p.warnings,
            package_relpath(package_id),
            p.access_outcome,
        )
    finally:
        storage.discard(work)


def validate(
    ctx: ArchiveContext,
    submission: Path,
    profile: str,
    metadata_file: Path | None = None,
    progress: Progress = no_progress,
) -> Prepared:
    """Pre-flight: every check of an ingest, reading in place and writing nothing to the archive."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="archive-validate-") as tmp:
        prepared = prepare(ctx, Path(submission), profile, metadata_file, Path(tmp), copy=False, progress=progress)
    progress("packaging", 0, 1)
    package_and_mets(ctx, prepared, str(uuid.uuid4()), ctx.settings.agent, idempotency_key(prepared), None, progress)
    return prepared

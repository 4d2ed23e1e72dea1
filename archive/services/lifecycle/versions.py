"""A new version of a stored package: the one way anything about a package changes after ingest.

Every change (corrected metadata, files added or withdrawn, an access decision, a legal hold
placed or released) is made the same way, by :func:`make_version`:

1. the catalog's head (version N) is read and the change is applied to a copy of it, with its
   PREMIS events and agent; a hold blocks every change but its release;
2. the new METS is written and validated against the bundled schemas, then bag-info, the
   manifests and tag manifests: version N+1's logical state is again a complete bag;
3. only what changed is staged (new payload files, the tag files); every unchanged file is
   *carried* by its sha512, so an amendment stores O(changed) bytes;
4. the primary copy's OCFL object gets version N+1 (staged, then one rename: the commit point;
   a concurrent change finds the head moved and gets :class:`ChangeConflict`), read back, then
   every replica gets the same version;
5. the ledger gets the version's token and events (write-ahead), then the catalog records it in
   one transaction.

A crash after step 4 leaves a complete version that the catalog does not show yet: the package
still reads as version N until ``archive doctor`` verifies version N+1 and records it
(:func:`settle_version`); until then another change is refused with ChangeConflict.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.catalog.ledger_mirror import LedgerMirror
from archive.errors import ArchiveError, ChangeConflict, ChangeRefused, PackagingError, StorageError
from archive.faults import fault_point, register
from archive.ledger.format import KIND_VERSION
from archive.model import (
    AGENT_PERSON,
    LEGAL_HOLD_TAG,
    OUTCOME_SUCCESS,
    SUBMISSION_FOLDER,
    VERSION_TAG,
    Agent,
    Event,
    EventLink,
    Package,
)
from archive.packaging.bag.write import payload_oxum, tag_lines, write_tag_files
from archive.packaging.mets.parts import METS_NAME, store_mets
from archive.packaging.mets.write import iter_mets, part_fingerprints
from archive.services import ledgering
from archive.services.context import ArchiveContext
from archive.services.copies import replicate_package, sha512_of, verify_stored_bag
from archive.services.ids import named_package_id
from archive.services.recovery.stored import StoredPackage, read_stored
from archive.storage.local import StoredVersion
from archive.storage.ocfl import User, VersionConflict, ocfl_time, parse_ocfl_time

register("version.staged", "version.stored", "version.replicated", "version.ledgered")

#: the kinds of version, as the catalog, ``archive history`` and the OCFL version message name them
KINDS = ("ingest", "amend", "add", "withdraw", "resubmit", "access", "hold", "release")
_MANIFEST = re.compile(r"manifest-([a-z0-9]+)\.txt")


def version_message(kind: str, reason: str) -> str:
    """The OCFL version's ``message``: ``kind: reason`` (what ``reindex`` reads the kind back from)."""
    return f"{kind}: {reason}"[:4000] if reason else kind


def parse_version_message(message: str) -> tuple[str, str]:
    """(kind, reason) of an OCFL version message; an ingest's message names its submission."""
    kind, _, reason = message.partition(": ")
    if kind in KINDS and kind != "ingest":
        return kind, reason
    return ("ingest", "") if message.startswith("ingest") else ("amend", message)


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a name for PREMIS and the ledger, and the role they act in."""

    name: str
    role: str = "admin"  # the command line is the archive's operator

    @property
    def agent_id(self) -> str:
        return f"person:{self.name}"


@dataclass
class Change:
    """What one version changes, as :func:`make_version`'s ``apply`` leaves it.

    ``staged`` are new payload files already written under the staging bag's ``data/`` (their
    :class:`~archive.model.FileRecord` in the package's files); ``events`` the change's own PREMIS
    events; ``summary`` one line for people."""

    events: list[Event] = field(default_factory=list)
    staged: set[str] = field(default_factory=set)  # bag paths written into the staging bag
    summary: str = ""
    #: the tag files kept under ``submission/`` when the change replaces them (staged, bag path ->
    #: digests); None: the version before's are carried
    submitted: dict[str, dict[str, str]] | None = None


@dataclass
class VersionResult:
    package_id: str
    version: int
    kind: str
    reason: str
    agent: str
    created: datetime
    summary: str
    files: int
    bytes: int
    stored_bytes: int  # bytes this version added to storage (what was not carried)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.package_id,
            "version": self.version,
            "kind": self.kind,
            "reason": self.reason,
            "agent": self.agent,
            "created": self.created.isoformat(),
            "summary": self.summary,
            "files": self.files,
            "bytes": self.bytes,
            "stored_bytes": self.stored_bytes,
        }


def event(kind: str, actor: Actor, detail: str, note: str, objects: list[str], when: datetime) -> Event:
    """A PREMIS event of a change: the archive executed it, ``actor`` implemented it."""
    return Event(
        str(uuid.uuid4()),
        kind,
        when,
        detail,
        OUTCOME_SUCCESS,
        note,
        [EventLink("software:archive", "executing program"), EventLink(actor.agent_id, "implementer")],
        objects,
    )


def algorithms_of(tag_digests: dict[str, dict[str, str]]) -> list[str]:
    """The manifest algorithms a stored bag has (from its tag files' names), in a stable order."""
    return sorted(m[1] for name in tag_digests if (m := _MANIFEST.fullmatch(name)))


def make_version(
    ctx: ArchiveContext,
    package_id: str,
    kind: str,
    reason: str,
    actor: Actor,
    apply: Callable[[Package, Path, datetime], Change],
) -> VersionResult:
    """Apply ``apply`` to a copy of the package's head and store the result as its next version.

    ``apply(package, staging_bag, now)`` changes the package in place (metadata, access, files,
    bag-info) and writes any new payload files under ``staging_bag``; it raises to refuse.
    Raises ChangeRefused (a hold, a disposal), ChangeConflict (another change came first) and
    whatever ``apply`` raises; nothing is stored unless the whole version is.
    """
    named_package_id(package_id)
    gone = ctx.catalog.tombstone(package_id)
    if gone is not None:
        when = f"{gone.disposed_at:%Y-%m-%d}"
        raise ChangeRefused(f"package {package_id} was disposed of on {when}; nothing about it can change")
    head = ctx.catalog.get_package(package_id)
    if head.held and kind != "release":
        raise ChangeRefused(
            f"package {package_id} is under a legal hold: no change is allowed until the hold is released "
            "(archive hold release)"
        )
    storage = ctx.storage
    if storage.head(package_id) != head.version:
        raise ChangeConflict(
            f"package {package_id} has a version in storage that the catalog does not show yet (another change "
            "is being recorded); try again, or run `archive doctor` if no change is running"
        )
    now = datetime.now(UTC)  # to the microsecond: two changes in one second keep their order
    work = storage.new_staging(f"{kind}-{package_id}")
    try:
        storage.claim(work, package_id)
        bag = work / "bag"
        (bag / "data").mkdir(parents=True)
        before = Known.of(head)  # the head itself becomes the new version: no copy of 10,000 files
        old_tags = ctx.catalog.tag_digests(package_id)
        # the head's METS parts, as stored: the new version carries each it would make the same
        held = {n: fp for n, fp in part_fingerprints(head).items() if n in old_tags}
        new = head
        new.version = before.version + 1
        new.version_created = now
        new.version_agent = actor.name
        change = apply(new, bag, now)
        if not any(a.identifier == actor.agent_id for a in new.agents):
            new.agents.append(Agent(actor.agent_id, actor.name, AGENT_PERSON, actor.role))
        for n, ev in enumerate(change.events):
            # a microsecond apart, as an ingest's: the catalog orders events by time, and the version
            # after this one numbers them in that order (a METS part's bytes depend on it)
            ev.datetime = now + timedelta(microseconds=n)
        new.events.extend(change.events)
        new.bag_info = {
            **new.bag_info,
            "Payload-Oxum": [payload_oxum(new.files)],
            "External-Description": [str(new.metadata.get("title", ""))[:1000]],
            VERSION_TAG: [str(new.version)],
        }
        try:
            tag_lines(new.bag_info)
            mets = store_mets(iter_mets(new, unchanged=held), bag, algorithms_of(old_tags))  # one at a time
        except PackagingError as exc:
            raise PackagingError(f"version {new.version} of package {package_id} cannot be written: {exc}") from exc
        submitted = (
            {n: d for n, d in old_tags.items() if n.startswith(f"{SUBMISSION_FOLDER}/")}
            if change.submitted is None
            else change.submitted
        )
        known = {**submitted, **mets.digests, **{n: old_tags[n] for n in mets.carried}}
        tag_digests = write_tag_files(
            bag, new.files, algorithms_of(old_tags), new.bag_info, [*mets.all_names, *submitted], known=known
        )
        fault_point("version.staged")
        stored_before = storage.version(package_id, before.version)
        wanted = sha512_of(new.files, tag_digests)
        written = {"bagit.txt", "bag-info.txt", *mets.names, *(n for n in tag_digests if "manifest-" in n)}
        written |= change.staged | set(change.submitted or {})
        carry = {p: d for p, d in wanted.items() if p not in written and stored_before.state.get(p) == d}
        missing = sorted(p for p in wanted if p not in written and p not in carry)
        if missing:
            raise StorageError(
                f"package {package_id}: {missing[0]} is neither staged nor held by version {head.version}"
            )
        added = sum(f.size for f in new.files if f.bag_path in change.staged)
        try:
            number = storage.add_version(
                package_id,
                bag,
                {p: d for p, d in wanted.items() if p in written},
                carry,
                before.version,
                message=version_message(kind, reason),
                user=User(actor.name),
                created=ocfl_time(now),
            )
        except VersionConflict as exc:
            raise ChangeConflict(
                f"package {package_id} changed meanwhile (another version was stored first); read it again and retry"
            ) from exc
        fault_point("version.stored")
        record_stored_version(ctx, new, number, kind, reason, mets.root, tag_digests, before)
        return VersionResult(
            package_id,
            number,
            kind,
            reason,
            actor.name,
            now,
            change.summary,
            len(new.files),
            new.total_bytes,
            added,
        )
    finally:
        storage.discard(work)


@dataclass(frozen=True)
class Known:
    """What the version before held of a package's history: its number, event and agent ids
    (a new version's METS holds them all, plus its own)."""

    version: int
    events: frozenset[str]
    agents: frozenset[str]

    @classmethod
    def of(cls, pkg: Package) -> Known:
        return cls(
            pkg.version, frozenset(e.identifier for e in pkg.events), frozenset(a.identifier for a in pkg.agents)
        )

    def new_in(self, pkg: Package) -> tuple[list[Event], list[Agent]]:
        """The events and agents ``pkg`` has that the version before had not."""
        return (
            [e for e in pkg.events if e.identifier not in self.events],
            [a for a in pkg.agents if a.identifier not in self.agents],
        )


def as_stored(version: StoredVersion, stored: StoredPackage) -> tuple[Package, str, str]:
    """A stored version read back from its own bag as the package it is, with the kind and reason
    its OCFL version block records and who made it when (``doctor``, ``reindex``)."""
    pkg = stored.package
    kind, reason = parse_version_message(version.message)
    pkg.version = version.number
    pkg.version_agent = version.user.name if version.user else ""
    pkg.version_created = parse_ocfl_time(version.created) or pkg.created
    return pkg, kind, reason


def record_stored_version(
    ctx: ArchiveContext,
    new: Package,
    number: int,
    kind: str,
    reason: str,
    mets: bytes,
    tag_digests: dict[str, dict[str, str]],
    previous: Known,
    ledger: bool = True,
) -> None:
    """After version ``number`` is in primary storage: read it back, copy it to every replica,
    ledger it, record it in the catalog (also how ``archive doctor`` finishes a version a crash
    left unrecorded)."""
    stored = ctx.storage.version(new.id, number)
    if ctx.settings.verify_after_store:
        verify_stored_bag(stored, new.files, tag_digests, ctx.settings.workers)
    for replica in ctx.copy_targets:
        if not replica.exists(new.id) or replica.head(new.id) < number:
            replicate_package(stored, replica, new.id, new.files, tag_digests)
    fault_point("version.replicated")
    events, agents = previous.new_in(new)
    if ledger:
        items = [version_item(new, number, kind, reason, tag_digests), *ledgering.event_items(new.id, events)]
        ledgering.append(ctx, items)
    fault_point("version.ledgered")
    mets_sha256 = hashlib.sha256(mets).hexdigest()
    ctx.catalog.record_version(new, number, kind, reason, mets_sha256, tag_digests, events, agents)


def version_item(
    pkg: Package, number: int, kind: str, reason: str, tag_digests: dict[str, dict[str, str]]
) -> ledgering.Item:
    """The ledger entry of a version: its content token (as an ingest's), kind, reason and agent."""
    _, body = ledgering.package_item(pkg, tag_digests)
    body.update({"version": number, "change": kind, "reason": reason[:500], "agent": pkg.version_agent})
    return (KIND_VERSION, body)


def hold_value(actor: Actor, reason: str, when: datetime) -> str:
    """bag-info's ``Archive-Legal-Hold`` value: who placed it, when and why (one line)."""
    return " ".join(f"placed {when:%Y-%m-%dT%H:%M:%SZ} by {actor.name}: {reason}".split())[:1000]


def without_hold(bag_info: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in bag_info.items() if k != LEGAL_HOLD_TAG}


def finish_versions(ctx: ArchiveContext, package_id: str, dry_run: bool = False) -> list[tuple[str, str, str]]:
    """Finish what a change killed midway left, for one catalogued package; returns what was done as
    ``(kind, message, copy)``. Storage is the truth: an OCFL version write cut between its rename and
    its inventory is settled; a version in primary storage that the catalog does not show is read
    back from its own bag, verified, copied to the replicas that lack it, ledgered (unless it is
    already) and recorded; a replica behind the catalog gets the versions it lacks."""
    done: list[tuple[str, str, str]] = []
    for storage in ctx.all_storage:
        if storage.reachable() and storage.exists(package_id):
            try:
                settled = storage.settle(package_id) if not dry_run else ""
            except ArchiveError as exc:
                done.append(("version-unsettled", exc.message, storage.name))
                continue
            if settled:
                done.append(("version-settled", f"OCFL object {settled}", storage.name))
    head = ctx.catalog.get_package(package_id)
    primary = ctx.storage
    if not (primary.reachable() and primary.exists(package_id)):
        return done
    while primary.head(package_id) > head.version:
        number = head.version + 1
        version = primary.version(package_id, number)
        stored = read_stored(version, package_id, True, ctx.settings.workers)
        if stored.problems:
            why = "; ".join(stored.problems[:3])
            done.append(("version-damaged", f"version {number} does not verify: {why}", primary.name))
            return done
        done.append(("version-unrecorded", f"version {number} stored but not catalogued", primary.name))
        if dry_run:
            return done
        new, kind, reason = as_stored(version, stored)
        new.fixity_interval_days = head.fixity_interval_days
        ledgered = number in LedgerMirror(ctx.catalog).ledgered_versions(package_id)
        mets = version.path(METS_NAME).read_bytes()
        known = Known.of(head)
        record_stored_version(ctx, new, number, kind, reason, mets, stored.tag_digests, known, ledger=not ledgered)
        head = ctx.catalog.get_package(package_id)
    for replica in ctx.copy_targets:
        if not replica.reachable() or not replica.exists(package_id):
            continue
        behind = replica.head(package_id)
        while behind < head.version:
            behind += 1
            done.append(("copy-behind", f"version {behind} copied from {primary.name}", replica.name))
            if dry_run:
                break
            at = ctx.catalog.get_package(package_id, behind)
            tags = ctx.catalog.tag_digests(package_id, behind)
            replicate_package(primary.version(package_id, behind), replica, package_id, at.files, tags)
    return done

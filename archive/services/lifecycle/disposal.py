"""Disposal with two people: one proposes, a different one approves, then the content goes.

Execution of an approved proposal, for each package (crash-safe, idempotent):

1. nothing may be held (a hold placed after the proposal blocks it);
2. the **tombstone** (what was disposed of: every version, every stored file's sha512 and size;
   why, who proposed, who approved; the PREMIS ``deaccession`` and ``deletion`` events) is
   ledgered, then written durably to ``extensions/archive-tombstones/<id>.json`` in every storage
   root. The primary root's tombstone file is the **commit point**: from then on the package is
   disposed of, and whatever a crash leaves undone is finished by ``archive dispose execute`` or
   ``archive doctor``;
3. the OCFL object is removed from every copy (renamed out of the storage hierarchy first, so no
   half object is ever visible as a package, then removed);
4. the catalog deletes the package's rows and records its tombstone, in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.catalog import retrieval
from archive.catalog.audits import Audits
from archive.catalog.disposals import Disposals, Proposal
from archive.durable import fsync_dir, write_atomic
from archive.errors import ArchiveError, ChangeRefused, InvalidRequest, NotFound, StorageError
from archive.faults import fault_point, register
from archive.ledger.format import KIND_DISPOSAL
from archive.model import EVENT_DEACCESSION, EVENT_DELETION, OUTCOME_SUCCESS
from archive.services import ledgering
from archive.services.context import ArchiveContext
from archive.services.ids import named_package_id
from archive.services.lifecycle.changes import decider, reason_of
from archive.services.lifecycle.versions import Actor
from archive.storage import LocalStorage
from archive.storage.ocfl.writing import prune_empty

register("dispose.ledgered", "dispose.tombstone-written", "dispose.object-removed")

TOMBSTONES = Path("extensions") / "archive-tombstones"
PROPOSED, APPROVED, EXECUTED, WITHDRAWN = "proposed", "approved", "executed", "withdrawn"


def _held(ctx: ArchiveContext, package_id: str) -> bool:
    """Whether a legal hold is on the package (its catalog row; NotFound when there is none)."""
    return retrieval.package_info(ctx.catalog, package_id).held


def _now() -> datetime:
    return datetime.now(UTC)


def _ledger(ctx: ArchiveContext, package_id: str | None, body: dict[str, Any]) -> None:
    ledgering.append(ctx, [(KIND_DISPOSAL, {"package": package_id, **body} if package_id else body)])


def propose(ctx: ArchiveContext, package_ids: list[str], reason: str | None, actor: Actor) -> Proposal:
    """Record a proposal to dispose of ``package_ids`` (every one catalogued, none held)."""
    decider(actor, "proposing a disposal")
    why = reason_of(reason, "proposing a disposal")
    ids = list(dict.fromkeys(package_ids))
    if not ids:
        raise InvalidRequest("name at least one package to dispose of")
    for pid in ids:
        named_package_id(pid)
        if ctx.catalog.tombstone(pid) is not None:
            raise ChangeRefused(f"package {pid} was disposed of already")
        if _held(ctx, pid):
            raise ChangeRefused(f"package {pid} is under a legal hold: it cannot be proposed for disposal")
    proposal = Proposal(str(uuid.uuid4()), _now(), actor.name, why, PROPOSED, ids, "", None, None, "")
    body = {"proposal": proposal.id, "action": PROPOSED, "by": actor.name, "reason": why, "ids": ids}
    _ledger(ctx, None, {**body, "at": proposal.created_at.isoformat()})
    Disposals(ctx.catalog).add_proposal(proposal)
    return proposal


def withdraw(ctx: ArchiveContext, proposal_id: str, reason: str | None, actor: Actor) -> Proposal:
    decider(actor, "withdrawing a disposal proposal")
    why = reason_of(reason, "withdrawing a disposal proposal")
    disposals = Disposals(ctx.catalog)
    proposal = disposals.proposal(proposal_id)
    if proposal.state != PROPOSED:
        raise ChangeRefused(f"disposal proposal {proposal_id} is {proposal.state}: only a proposal can be withdrawn")
    _ledger(ctx, None, {"proposal": proposal_id, "action": WITHDRAWN, "by": actor.name, "reason": why})
    disposals.update(proposal_id, state=WITHDRAWN, note=why)
    return disposals.proposal(proposal_id)


def approve(ctx: ArchiveContext, proposal_id: str, reason: str | None, actor: Actor) -> Proposal:
    """A second person approves; the disposal is then executed."""
    decider(actor, "approving a disposal")
    disposals = Disposals(ctx.catalog)
    proposal = disposals.proposal(proposal_id)
    if proposal.state != PROPOSED:
        raise ChangeRefused(f"disposal proposal {proposal_id} is {proposal.state}, not awaiting approval")
    if actor.name == proposal.proposer:
        raise ChangeRefused(
            f"{actor.name} proposed this disposal: a different person must approve it (two people decide)"
        )
    _refuse_held(ctx, proposal)
    note = " ".join((reason or "").split())[:2000]
    at = _now()
    _ledger(
        ctx, None, {"proposal": proposal_id, "action": APPROVED, "by": actor.name, "reason": note, "at": at.isoformat()}
    )
    disposals.update(proposal_id, state=APPROVED, approver=actor.name, approved_at=at, note=note)
    return execute(ctx, proposal_id)


def _refuse_held(ctx: ArchiveContext, proposal: Proposal) -> None:
    held = [pid for pid in proposal.package_ids if ctx.catalog.tombstone(pid) is None and _held(ctx, pid)]
    if held:
        raise ChangeRefused(f"under a legal hold, so not disposed of: {', '.join(held)}; release the hold first")


def execute(ctx: ArchiveContext, proposal_id: str) -> Proposal:
    """Dispose of every package of an approved proposal (finishing what a crash left)."""
    disposals = Disposals(ctx.catalog)
    proposal = disposals.proposal(proposal_id)
    if proposal.state not in (APPROVED, EXECUTED):
        raise ChangeRefused(f"disposal proposal {proposal_id} is {proposal.state}: it must be approved first")
    for pid in proposal.package_ids:
        dispose_one(ctx, proposal, pid)
    if proposal.state != EXECUTED:
        at = _now()
        _ledger(ctx, None, {"proposal": proposal_id, "action": "completed", "at": at.isoformat()})
        disposals.update(proposal_id, state=EXECUTED, executed_at=at)
    return disposals.proposal(proposal_id)


def tombstone_path(storage: LocalStorage, package_id: str) -> Path:
    return storage.root / TOMBSTONES / f"{package_id}.json"


def read_tombstone(storage: LocalStorage, package_id: str) -> dict[str, Any] | None:
    path = tombstone_path(storage, package_id)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read the tombstone {path}: {exc}") from exc
    return data if isinstance(data, dict) and data.get("package") == package_id else None


def stored_tombstones(storage: LocalStorage) -> list[dict[str, Any]]:
    """Every tombstone a storage root keeps (``archive reindex``, ``archive doctor``)."""
    folder = storage.root / TOMBSTONES
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        found = read_tombstone(storage, path.stem)
        if found is not None:
            out.append(found)
    return out


def _document(ctx: ArchiveContext, proposal: Proposal, package_id: str, actor: str) -> dict[str, Any]:
    pkg = ctx.catalog.get_package(package_id)
    versions = ctx.catalog.versions(package_id)
    inventory = ctx.storage.ocfl.inventory(package_id) if ctx.storage.exists(package_id) else {}
    manifest = inventory.get("manifest", {}) if isinstance(inventory, dict) else {}
    # every file row of every version, in one query (not a whole package read per version)
    sizes = {digests.get("sha512"): size for _, _, _, size, digests in Audits(ctx.catalog).package(package_id).history}
    content = sorted(
        (
            {"path": path, "sha512": digest, "size": sizes.get(digest)}
            for digest, paths in manifest.items()
            for path in paths
        ),
        key=lambda c: c["path"],
    )
    now = _now()
    agents = [
        {"agent": f"person:{proposal.proposer}", "role": "implementer"},
        {"agent": f"person:{actor}", "role": "authorizer"},
    ]
    events = [
        {
            "id": str(uuid.uuid4()),
            "type": kind,
            "datetime": now.isoformat(),
            "detail": detail,
            "outcome": OUTCOME_SUCCESS,
            "outcome_detail": proposal.reason,
            "agents": agents,
            "objects": [package_id],
        }
        for kind, detail in (
            (EVENT_DEACCESSION, f"Disposal proposal {proposal.id} approved: the package leaves the archive"),
            (EVENT_DELETION, f"Every version of the package removed from {len(ctx.audited_copies)} storage root(s)"),
        )
    ]
    return {
        "package": package_id,
        "title": str(pkg.metadata.get("title", "")),
        "profile": pkg.profile_id,
        "access_level": pkg.access.level,
        "created": pkg.created.isoformat(),
        "disposed": now.isoformat(),
        "proposal": {
            "id": proposal.id,
            "reason": proposal.reason,
            "proposer": proposal.proposer,
            "proposed": proposal.created_at.isoformat(),
            "approver": actor,
            "approved": (proposal.approved_at or now).isoformat(),
        },
        "versions": [{"version": v.number, "created": v.created_at.isoformat(), "kind": v.kind} for v in versions],
        "content": content,
        "events": events,
    }


def _encoded(document: dict[str, Any]) -> bytes:
    """A tombstone's bytes: the same document always gives the same bytes (its ledgered sha256)."""
    return json.dumps(document, sort_keys=True, indent=1).encode() + b"\n"


def _write_tombstone(storage: LocalStorage, document: dict[str, Any], data: bytes) -> None:
    path = tombstone_path(storage, document["package"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return  # written by the run a crash interrupted: the first document stands
        write_atomic(path, data)
    except OSError as exc:
        raise StorageError(f"cannot write the tombstone {path}: {exc.strerror or exc}") from exc


def _remove_object(storage: LocalStorage, package_id: str) -> None:
    if not storage.exists(package_id):
        return
    target = storage.path_of(package_id)
    trash = storage.new_staging(f"disposal-{package_id}")
    try:
        os.rename(target, trash / "object")  # out of the hierarchy in one step
        fsync_dir(target.parent, best_effort=True)
        prune_empty(target.parent, storage.root)
    except OSError as exc:
        raise StorageError(f"cannot remove package {package_id} from {storage.name}: {exc.strerror or exc}") from exc
    finally:
        storage.discard(trash)


def dispose_one(
    ctx: ArchiveContext, proposal: Proposal, package_id: str, document: dict[str, Any] | None = None
) -> bool:
    """Dispose of one package of an approved proposal; False if it was disposed of already."""
    if ctx.catalog.tombstone(package_id) is not None:
        return False
    document = document or read_tombstone(ctx.storage, package_id)
    if document is None:  # not begun: everything still as it was
        if _held(ctx, package_id):
            raise ChangeRefused(f"package {package_id} is under a legal hold: not disposed of")
        document = _document(ctx, proposal, package_id, proposal.approver)
        data = _encoded(document)
        _ledger(
            ctx,
            package_id,
            {
                "proposal": proposal.id,
                "action": "executed",
                "tombstone_sha256": hashlib.sha256(data).hexdigest(),
                "events": document["events"],
            },
        )
        fault_point("dispose.ledgered")
        _write_tombstone(ctx.storage, document, data)  # the commit point
    data = _encoded(document)
    for replica in ctx.replicas:
        _write_tombstone(replica, document, data)
    fault_point("dispose.tombstone-written")
    for storage in ctx.all_storage:
        _remove_object(storage, package_id)
    for copy in ctx.object_replicas:  # the tombstone beside the object, then the object, commit object first
        copy.keep_tombstone(package_id, data)
        copy.remove_package(package_id)
    fault_point("dispose.object-removed")
    Disposals(ctx.catalog).record_disposal(document)
    return True


def finish_disposals(ctx: ArchiveContext, dry_run: bool = False) -> list[tuple[str, str]]:
    """What ``archive doctor`` finishes: packages whose tombstone is in primary storage but whose
    object or catalog rows are still there (a disposal a crash interrupted)."""
    done = []
    for document in stored_tombstones(ctx.storage):
        pid = str(document["package"])
        if ctx.catalog.tombstone(pid) is not None and not any(s.exists(pid) for s in ctx.audited_copies):
            continue
        done.append((pid, "disposal begun (tombstone written) but not finished"))
        if dry_run:
            continue
        try:
            proposal = Disposals(ctx.catalog).proposal(str(document["proposal"]["id"]))
        except NotFound:
            proposal = Proposal(str(document["proposal"]["id"]), _now(), "", "", APPROVED, [pid], "", None, None, "")
        try:
            dispose_one(ctx, proposal, pid, document)
        except ArchiveError as exc:
            done.append((pid, f"could not finish: {exc.message}"))
    return done

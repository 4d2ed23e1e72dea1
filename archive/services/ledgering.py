"""Append what the archive records to the ledger (storage) and its catalog mirror, and verify it.

Write-ahead: an event reaches the ledger *before* the catalog transaction that records it. A
crash in between leaves a ledgered event the catalog lacks (reported by ``ledger verify`` as
a warning; an ingest also appends a ``withdrawn`` entry when its catalog record fails), never a
catalogued event the ledger lacks. See docs/decisions/0002-fixity-audits-and-ledger.md.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from archive.catalog.ledger_mirror import LedgerMirror
from archive.errors import ArchiveError
from archive.faults import fault_point, register
from archive.ledger import (
    KIND_EVENT,
    KIND_PACKAGE,
    KIND_WITHDRAWN,
    LedgerEntry,
    LedgerReport,
    iso_utc,
    package_token,
    parse_line,
    verify,
)
from archive.model import Event, Package
from archive.services.context import ArchiveContext

Item = tuple[str, dict[str, Any]]
register("ledger.before-append", "ledger.after-append")


def event_body(package_id: str, event: Event) -> dict[str, Any]:
    """The ledger body of one PREMIS event (the same from the model and from the catalog)."""
    return {"package": package_id, "event": {
        "id": event.identifier, "type": event.type, "datetime": iso_utc(event.datetime), "detail": event.detail,
        "outcome": event.outcome, "outcome_detail": event.outcome_detail,
        "agents": [{"agent": a.agent, "role": a.role} for a in event.agents], "objects": list(event.objects)}}


def event_items(package_id: str, events: list[Event], **extra: Any) -> list[Item]:
    """Ledger items for ``events``; ``extra`` keys (an audit's ``run``, ``findings``, ``fixity``)
    go into the body of the last one, so the catalog can be rebuilt from the ledger (docs/ledger.md)."""
    items = [(KIND_EVENT, event_body(package_id, e)) for e in events]
    if items and extra:
        items[-1][1].update({k: v for k, v in extra.items() if v is not None})
    return items


def package_item(pkg: Package, tag_digests: dict[str, dict[str, str]]) -> Item:
    token = package_token(((f.path, f.size, f.digests) for f in pkg.files), tag_digests)
    body = {"package": pkg.id, "profile": pkg.profile_id, "files": len(pkg.files), "bytes": pkg.total_bytes,
            "token": token}
    if pkg.fixity_interval_days is not None:  # so that `archive reindex` restores it without the profile
        body["fixity_interval_days"] = pkg.fixity_interval_days
    return (KIND_PACKAGE, body)


def append(ctx: ArchiveContext, items: list[Item]) -> list[LedgerEntry]:
    """Append to the ledger in storage (flock, fsync, replica copies) and mirror in the catalog."""
    return ctx.ledger.append(items, LedgerMirror(ctx.catalog))


@contextmanager
def ledgered(ctx: ArchiveContext, pkg: Package, tag_digests: dict[str, dict[str, str]]) -> Iterator[None]:
    """Around an ingest's catalog record: ledger the package's token and events first; if the
    record then fails, ledger that the package was withdrawn (and let the error through)."""
    fault_point("ledger.before-append")
    append(ctx, [package_item(pkg, tag_digests), *event_items(pkg.id, pkg.events)])
    fault_point("ledger.after-append")
    try:
        yield
    except BaseException as exc:
        try:
            append(ctx, [(KIND_WITHDRAWN, {"package": pkg.id, "reason": f"{type(exc).__name__}: {exc}"[:500]})])
        except ArchiveError:
            pass  # the original error matters more; verify reports the dangling entries
        raise


def verify_ledger(ctx: ArchiveContext, witnessed: str | None = None) -> LedgerReport:
    """Check the ledger chain, its replica copies, its catalog mirror, a witnessed head, and that every
    catalogued event is ledgered unchanged."""
    ledger = ctx.ledger
    copies: dict[str, Iterable[tuple[int, str]] | None] = {}
    for storage, path in zip(ctx.replicas, ledger.copies):
        copies[storage.name] = ledger.lines(path) if storage.reachable() else None
    mirror = LedgerMirror(ctx.catalog)
    report = verify(ledger.lines(), copies, mirror.hashes(), witnessed)
    _compare_events(mirror, report)
    return report


def _compare_events(mirror: LedgerMirror, report: LedgerReport) -> None:
    same = unledgered = 0
    for package_id, event, line in mirror.events_with_lines():
        if line is None:
            unledgered += 1
            continue
        body = parse_line(line).body
        if {"package": body.get("package"), "event": body.get("event")} != event_body(package_id, event):
            report.add("catalog", parse_line(line).seq,
                       f"event {event.identifier} ({event.type}) of package {package_id} differs from its ledger entry")
        else:
            same += 1
    report.checked["catalog_events_matching"] = same
    if unledgered:
        report.checked["catalog_events_unledgered"] = unledgered
        report.add("catalog", None, f"{unledgered} catalogued events are not in the ledger (recorded before the "
                   "ledger existed, or inserted into the catalog directly)", "warning")

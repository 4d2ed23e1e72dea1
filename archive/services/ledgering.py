"""Append what the archive records to the ledger (storage) and its catalog mirror, and verify it.

Write-ahead: an event reaches the ledger *before* the catalog transaction that records it. A
crash in between leaves a ledgered event the catalog lacks (reported by ``ledger verify`` as
a warning; an ingest also appends a ``withdrawn`` entry when its catalog record fails), never a
catalogued event the ledger lacks. See docs/decisions/0002-fixity-audits-and-ledger.md.

Beside their PREMIS events, audits and repairs ledger what rebuilds the audit tables. An
``event`` entry written by an audit or a repair carries, besides ``package`` and ``event``:
``run`` (the audit run id), ``findings`` (what that package's check found) and ``fixity`` (the
package's fixity state after it). An ``audit-run`` entry carries ``run`` (the summary),
``options`` and the run's ``findings`` that belong to no package event (orphans). With them the
catalog's audit tables can be rebuilt from storage alone (``archive reindex``). Entries written
before these keys existed simply lack them. Format: docs/ledger.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from itertools import chain
from typing import Any

from archive.audit.findings import KINDS, AuditFinding
from archive.catalog.ledger_mirror import LedgerMirror
from archive.catalog.records import AuditRun, FixityState
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
from archive.model import Event, EventLink, Package
from archive.services.context import ArchiveContext

Item = tuple[str, dict[str, Any]]
register("ledger.before-append", "ledger.after-append")


def event_body(package_id: str, event: Event) -> dict[str, Any]:
    """The ledger body of one PREMIS event (the same from the model and from the catalog)."""
    return {
        "package": package_id,
        "event": {
            "id": event.identifier,
            "type": event.type,
            "datetime": iso_utc(event.datetime),
            "detail": event.detail,
            "outcome": event.outcome,
            "outcome_detail": event.outcome_detail,
            "agents": [{"agent": a.agent, "role": a.role} for a in event.agents],
            "objects": list(event.objects),
        },
    }


def event_items(package_id: str, events: list[Event], **extra: Any) -> list[Item]:
    """Ledger items for ``events``; ``extra`` keys (an audit's ``run``, ``findings``, ``fixity``)
    go into the body of the last one, so the catalog can be rebuilt from the ledger (docs/ledger.md)."""
    items = [(KIND_EVENT, event_body(package_id, e)) for e in events]
    if items and extra:
        items[-1][1].update({k: v for k, v in extra.items() if v is not None})
    return items


def package_item(pkg: Package, tag_digests: dict[str, dict[str, str]]) -> Item:
    token = package_token(((f.path, f.size, f.digests) for f in pkg.files), tag_digests)
    body = {
        "package": pkg.id,
        "profile": pkg.profile_id,
        "files": len(pkg.files),
        "bytes": pkg.total_bytes,
        "token": token,
    }
    if pkg.fixity_interval_days is not None:  # so that `archive reindex` restores it without the profile
        body["fixity_interval_days"] = pkg.fixity_interval_days
    return (KIND_PACKAGE, body)


def append(ctx: ArchiveContext, items: Iterable[Item]) -> LedgerEntry | None:
    """Append to the ledger in storage (flock, fsync, replica copies) and mirror in the catalog."""
    return ctx.ledger.append(items, LedgerMirror(ctx.catalog))


@contextmanager
def ledgered(ctx: ArchiveContext, pkg: Package, tag_digests: dict[str, dict[str, str]]) -> Iterator[None]:
    """Around an ingest's catalog record: ledger the package's token and events first; if the
    record then fails, ledger that the package was withdrawn (and let the error through)."""
    fault_point("ledger.before-append")
    # one event at a time into the ledger (it writes them in chunks): flat memory for a million files
    append(ctx, chain([package_item(pkg, tag_digests)], ((KIND_EVENT, event_body(pkg.id, e)) for e in pkg.events)))
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
    for storage, path in zip(ctx.replicas, ledger.copies, strict=False):
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
            report.add(
                "catalog",
                parse_line(line).seq,
                f"event {event.identifier} ({event.type}) of package {package_id} differs from its ledger entry",
            )
        else:
            same += 1
    report.checked["catalog_events_matching"] = same
    if unledgered:
        report.checked["catalog_events_unledgered"] = unledgered
        report.add(
            "catalog",
            None,
            f"{unledgered} catalogued events are not in the ledger (recorded before the "
            "ledger existed, or inserted into the catalog directly)",
            "warning",
        )


# -- what audits and repairs ledger beside their events, and reading it back --

#: findings written into one ledger entry; beyond this the entry says how many were left out
MAX_FINDINGS = 10_000
_TIMES = ("checked_at", "verified_at", "pass_started_at")


def findings_out(findings: list[AuditFinding]) -> dict[str, Any]:
    """``{"findings": [...]}`` (and ``findings_omitted`` when over :data:`MAX_FINDINGS`)."""
    out: dict[str, Any] = {"findings": [f.as_dict() for f in findings[:MAX_FINDINGS]]}
    if len(findings) > MAX_FINDINGS:
        out["findings_omitted"] = len(findings) - MAX_FINDINGS
    return out


def findings_in(items: Any) -> list[AuditFinding]:
    """Findings read back from a ledger body (unknown kinds are skipped, not guessed)."""
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            continue
        out.append(
            AuditFinding(
                str(item.get("package", "")),
                str(item.get("copy", "")),
                str(item.get("path", "")),
                str(item["kind"]),
                str(item.get("message", "")),
                dict(item.get("expected") or {}),
                dict(item.get("found") or {}),
            )
        )
    return out


def fixity_out(state: FixityState) -> dict[str, Any]:
    data = {f.name: getattr(state, f.name) for f in fields(FixityState) if f.name != "package_id"}
    for name in _TIMES:
        data[name] = iso_utc(data[name]) if data[name] else None
    return data


def fixity_in(package_id: str, data: Any) -> FixityState | None:
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {
        f.name: data[f.name] for f in fields(FixityState) if f.name != "package_id" and f.name in data
    }
    for name in _TIMES:
        if isinstance(values.get(name), str):
            values[name] = datetime.fromisoformat(values[name])
    return FixityState(package_id, **values)


def run_options(jobs: int, max_seconds: int | None, max_bytes: int | None) -> dict[str, Any]:
    return {"jobs": jobs, "max_seconds": max_seconds, "max_bytes": max_bytes}


def run_in(body: dict[str, Any]) -> AuditRun | None:
    """The audit run an ``audit-run`` entry describes (``notified`` is not ledgered: it stays empty)."""
    run, options = body.get("run"), body.get("options") or {}
    if not isinstance(run, dict) or not run.get("id") or not run.get("started_at"):
        return None
    finished = run.get("finished_at")
    return AuditRun(
        id=str(run["id"]),
        started_at=datetime.fromisoformat(run["started_at"]),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        status=str(run.get("status", "")),
        outcome=str(run.get("outcome", "")),
        selection=str(run.get("selection", "")),
        jobs=int(options.get("jobs") or 1),
        max_seconds=options.get("max_seconds"),
        max_bytes=options.get("max_bytes"),
        packages=int(run.get("packages", 0)),
        files=int(run.get("files", 0)),
        bytes=int(run.get("bytes", 0)),
        failures=int(run.get("failures", 0)),
        unchecked=int(run.get("unchecked", 0)),
        repaired=int(run.get("repaired", 0)),
        stop_reason=str(run.get("stop_reason", "")),
        notified="",
    )


def event_in(data: Any) -> Event | None:
    """The PREMIS event of an ``event`` entry's body (None if it is not one)."""
    if not isinstance(data, dict) or not data.get("id") or not data.get("datetime"):
        return None
    return Event(
        identifier=str(data["id"]),
        type=str(data.get("type", "")),
        datetime=datetime.fromisoformat(data["datetime"]),
        detail=str(data.get("detail", "")),
        outcome=str(data.get("outcome", "")),
        outcome_detail=str(data.get("outcome_detail", "")),
        agents=[
            EventLink(str(a.get("agent", "")), str(a.get("role", "")))
            for a in data.get("agents") or []
            if isinstance(a, dict)
        ],
        objects=[str(o) for o in data.get("objects") or []],
    )

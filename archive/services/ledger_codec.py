"""What audits and repairs write into the ledger beside their PREMIS events, and reading it back.

An ``event`` entry written by an audit or a repair carries, besides ``package`` and ``event``:
``run`` (the audit run id), ``findings`` (what that package's check found) and ``fixity`` (the
package's fixity state after it). An ``audit-run`` entry carries ``run`` (the summary),
``options`` and the run's ``findings`` that belong to no package event (orphans). With them the
catalog's audit tables can be rebuilt from storage alone (``archive reindex``). Entries written
before these keys existed simply lack them. Format: docs/ledger.md.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from archive.audit.findings import KINDS, AuditFinding
from archive.catalog.audits import AuditRun, FixityState
from archive.ledger import iso_utc
from archive.model import Event, EventLink

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
        out.append(AuditFinding(str(item.get("package", "")), str(item.get("copy", "")), str(item.get("path", "")),
                                str(item["kind"]), str(item.get("message", "")), dict(item.get("expected") or {}),
                                dict(item.get("found") or {})))
    return out


def fixity_out(state: FixityState) -> dict[str, Any]:
    data = {f.name: getattr(state, f.name) for f in fields(FixityState) if f.name != "package_id"}
    for name in _TIMES:
        data[name] = iso_utc(data[name]) if data[name] else None
    return data


def fixity_in(package_id: str, data: Any) -> FixityState | None:
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {f.name: data[f.name] for f in fields(FixityState)
                              if f.name != "package_id" and f.name in data}
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
    return AuditRun(id=str(run["id"]), started_at=datetime.fromisoformat(run["started_at"]),
                    finished_at=datetime.fromisoformat(finished) if finished else None,
                    status=str(run.get("status", "")), outcome=str(run.get("outcome", "")),
                    selection=str(run.get("selection", "")), jobs=int(options.get("jobs") or 1),
                    max_seconds=options.get("max_seconds"), max_bytes=options.get("max_bytes"),
                    packages=int(run.get("packages", 0)), files=int(run.get("files", 0)),
                    bytes=int(run.get("bytes", 0)), failures=int(run.get("failures", 0)),
                    unchecked=int(run.get("unchecked", 0)), repaired=int(run.get("repaired", 0)),
                    stop_reason=str(run.get("stop_reason", "")), notified="")


def event_in(data: Any) -> Event | None:
    """The PREMIS event of an ``event`` entry's body (None if it is not one)."""
    if not isinstance(data, dict) or not data.get("id") or not data.get("datetime"):
        return None
    return Event(identifier=str(data["id"]), type=str(data.get("type", "")),
                 datetime=datetime.fromisoformat(data["datetime"]), detail=str(data.get("detail", "")),
                 outcome=str(data.get("outcome", "")), outcome_detail=str(data.get("outcome_detail", "")),
                 agents=[EventLink(str(a.get("agent", "")), str(a.get("role", ""))) for a in data.get("agents") or []
                         if isinstance(a, dict)],
                 objects=[str(o) for o in data.get("objects") or []])

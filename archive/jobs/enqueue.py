"""Putting work on the queue: ``archive ingest --enqueue``, ``archive audit --enqueue`` and the scheduler's."""

from __future__ import annotations

import uuid
from pathlib import Path

from archive.errors import InvalidRequest
from archive.jobs.queue import opened
from archive.model import utcnow
from archive.services.context import ArchiveContext

#: packages one audit job checks (one audit run): small enough that several workers share an audit
AUDIT_BATCH = 50


def enqueue_ingest(
    ctx: ArchiveContext,
    submission: Path,
    profile: str,
    metadata_file: Path | None = None,
    agent: str | None = None,
    key: str | None = None,
) -> int:
    """Queue one ingest; the worker checks the submission (it must be at the same path on its machine)."""
    ctx.profiles.get(profile)  # an unknown profile is refused here, not an hour later
    where = Path(submission).resolve()
    if not where.exists():
        raise InvalidRequest(f"submission {where} does not exist")
    with opened(ctx.settings) as app:
        job_id: int = app.tasks["archive:ingest"].defer(
            submission=str(where),
            profile=profile,
            metadata_file=str(Path(metadata_file).resolve()) if metadata_file else None,
            agent=agent or ctx.settings.agent,
            key=key,
        )
    return job_id


def enqueue_audit(
    ctx: ArchiveContext,
    package_ids: list[str],
    due: bool,
    repair: bool = False,
    batch: int = AUDIT_BATCH,
) -> list[int]:
    """Queue the audit of these packages (or of all, or of those due) in jobs of ``batch`` packages:
    every package in one job only, so workers sharing the queue audit each once."""
    from archive.catalog.audits import Audits
    from archive.services.audit.run import AuditOptions, select

    audits = Audits(ctx.catalog)
    now = utcnow()
    opts = AuditOptions(package_ids=package_ids, all=not package_ids and not due, due=due)
    chosen = [pid for pid in select(ctx, audits, opts, now, str(uuid.uuid4())) if audits.exists(pid)]
    if package_ids and len(chosen) < len(set(package_ids)):
        unknown = sorted(set(package_ids) - set(chosen))
        raise InvalidRequest(f"no package {unknown[0]} in the catalog")
    ids = []
    with opened(ctx.settings) as app:
        task = app.tasks["archive:audit"]
        for start in range(0, len(chosen), batch):
            ids.append(
                task.defer(package_ids=chosen[start : start + batch], enqueued_at=now.isoformat(), repair=repair)
            )
    return ids


def enqueue_due_audits(ctx: ArchiveContext) -> list[int] | None:
    """What ``archive scheduler --enqueue`` does each time the window is open: queue the audits of
    the packages due, unless audit jobs are still waiting or running (None then)."""
    from archive.jobs.queue import pending

    with opened(ctx.settings) as app:
        if pending(app, "archive:audit"):
            return None
    return enqueue_audit(ctx, [], due=True)

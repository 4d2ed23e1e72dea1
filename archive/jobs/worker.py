"""``archive worker``: a process that runs queued jobs, one at a time, and finds jobs whose worker died.

procrastinate runs the jobs (a heartbeat every ``job_heartbeat_seconds``; a worker silent for three
heartbeats counts as dead). Beside it, this worker looks every heartbeat for jobs a dead worker
held (``doing``, their worker gone) and puts them back on the queue: delivery is at least once,
and every job is safe to run again (:mod:`archive.jobs.tasks`). SIGTERM or SIGINT stop the worker
after the job it is running; a second one stops it at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from archive.jobs.queue import ensure_schema, new_app, record_outcome_async
from archive.jobs.tasks import WORKER
from archive.services.context import ArchiveContext

QUEUES = ("ingest", "audit")
log = logging.getLogger("archive.worker")


async def _recover(app: Any, catalog: Any, heartbeat: float, stop: asyncio.Event) -> None:
    """Every heartbeat: jobs held by a worker that stopped beating go back on the queue. One worker
    at a time does it (a catalog lock): two would each find the same job and put it back twice,
    the second time while a live worker already runs it."""
    while not stop.is_set():
        try:
            with catalog.lock("archive.jobs.recover") as mine:
                for job in (
                    await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=3 * heartbeat) if mine else []
                ):
                    await _requeue(app, job)
        except Exception as exc:  # the database away for a moment: the next round tries again
            log.warning("could not look for jobs of dead workers: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), heartbeat)
        except TimeoutError:
            pass


async def _requeue(app: Any, job: Any) -> None:
    """A dead worker's job back on the queue; failed once workers died under it ``job_attempts``
    times (a job that kills its worker each time, say out of memory, is not run for ever)."""
    from procrastinate.jobs import Status

    if job.attempts + 1 >= WORKER.attempts:
        why = f"its worker died while running it, {job.attempts + 1} time(s): not tried again"
        log.warning("job %s (%s) failed: %s", job.id, job.task_name, why)
        await record_outcome_async(app, job.id, job.attempts + 1, False, f"{job.task_name}: {why}")
        await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        return
    log.warning("job %s (%s) was held by a worker that died: queued again", job.id, job.task_name)
    await app.job_manager.retry_job(job)


async def _run(app: Any, catalog: Any, queues: Sequence[str], once: bool, heartbeat: float) -> None:
    stop = asyncio.Event()
    async with app.open_async():
        recover = asyncio.create_task(_recover(app, catalog, heartbeat, stop))
        try:
            await app.run_worker_async(
                queues=list(queues),
                concurrency=1,
                wait=not once,
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=3 * heartbeat,
                install_signal_handlers=True,
                listen_notify=True,
                fetch_job_polling_interval=max(1.0, heartbeat),
            )
        finally:
            stop.set()
            await recover


def run(ctx: ArchiveContext, queues: Sequence[str] = QUEUES, once: bool = False) -> None:
    """Run jobs of ``queues`` until stopped (``once``: until none is left to run)."""
    settings = ctx.settings
    app = new_app(settings)
    with app.open():
        ensure_schema(app)
    WORKER.ctx = ctx
    WORKER.attempts = settings.job_attempts
    WORKER.retry_seconds = settings.job_retry_seconds
    try:
        asyncio.run(_run(app, ctx.catalog, queues, once, float(settings.job_heartbeat_seconds)))
    finally:
        WORKER.ctx = None

"""The queue itself: procrastinate on the catalog's own PostgreSQL database, and what jobs left behind.

procrastinate (https://procrastinate.readthedocs.io) keeps jobs in tables of the catalog's
database (``procrastinate_*``): a job is enqueued in one transaction, taken by one worker under
a row lock, retried on failure, and found again when its worker stops sending heartbeats. The
archive adds one table of its own beside them, ``archive_job_outcomes``: what each finished (or
finally failed) job did, in words and as JSON, since procrastinate keeps no result. Both are
created the first time the queue is used (:func:`ensure_schema`). With SQLite there is no queue:
the archive runs ingest and audit in the process that asks for them, as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import make_url

from archive.catalog.guard import redact
from archive.config import Settings
from archive.errors import CatalogError, ConfigError

_OUTCOMES = """
CREATE TABLE IF NOT EXISTS archive_job_outcomes (
    job_id bigint PRIMARY KEY,
    finished_at timestamptz NOT NULL DEFAULT now(),
    attempt integer NOT NULL,
    ok boolean NOT NULL,
    summary text NOT NULL,
    detail jsonb NOT NULL
)
"""


def conninfo(settings: Settings) -> str:
    """The catalog's database as libpq reads it; refused unless it is PostgreSQL."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            "the job queue needs the catalog on PostgreSQL (setting database_url); with SQLite the archive "
            "runs ingests and audits in the process that asks for them: leave out --enqueue"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def new_app(settings: Settings) -> Any:
    """A procrastinate app with the archive's tasks, on the catalog's database (not opened yet)."""
    where = conninfo(settings)  # before the import: a SQLite archive needs no procrastinate
    try:
        import procrastinate
    except ImportError as exc:  # pragma: no cover - the postgres extra installs it
        raise ConfigError("the job queue needs procrastinate: pip install 'archive-preservation[postgres]'") from exc

    from archive.jobs.tasks import blueprint

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=where))
    app.add_tasks_from(blueprint(), namespace="archive")
    return app


def ensure_schema(app: Any) -> None:
    """procrastinate's tables and the archive's outcomes table, once per database."""
    connector = app.connector.get_sync_connector()
    found = connector.execute_query_one("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS there")
    if not found["there"]:
        app.schema_manager.apply_schema()
    connector.execute_query(_OUTCOMES)


@contextmanager
def opened(settings: Settings) -> Iterator[Any]:
    """The queue opened for enqueueing and listing (synchronously), its schema in place."""
    try:
        app = new_app(settings)
        with app.open():
            ensure_schema(app)
            yield app
    except ConfigError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "procrastinate")):
            raise CatalogError(redact(f"the job queue cannot be reached: {exc}")) from exc
        raise


@dataclass(frozen=True)
class JobView:
    """One job as ``archive jobs`` shows it: procrastinate's row and the archive's outcome."""

    id: int
    task: str
    queue: str
    status: str
    attempts: int
    scheduled_at: datetime | None
    arguments: dict[str, Any]
    outcome: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "queue": self.queue,
            "status": self.status,
            "attempts": self.attempts,
            "scheduled_at": self.scheduled_at.isoformat() if self.scheduled_at else None,
            "arguments": self.arguments,
            "outcome": self.outcome,
        }


_RECORD = (
    "INSERT INTO archive_job_outcomes (job_id, attempt, ok, summary, detail) "
    "VALUES (%(job_id)s, %(attempt)s, %(ok)s, %(summary)s, %(detail)s) "
    "ON CONFLICT (job_id) DO UPDATE SET finished_at = now(), attempt = EXCLUDED.attempt, ok = EXCLUDED.ok, "
    "summary = EXCLUDED.summary, detail = EXCLUDED.detail"
)


def _outcome_args(job_id: int, attempt: int, ok: bool, summary: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "attempt": attempt,
        "ok": ok,
        "summary": summary[:4000],
        "detail": json.dumps(detail, default=str),
    }


def record_outcome(app: Any, job_id: int, attempt: int, ok: bool, summary: str, detail: dict[str, Any]) -> None:
    """What a job's attempt ended with (the last attempt's word is kept); from a job's own thread."""
    app.connector.get_sync_connector().execute_query(_RECORD, **_outcome_args(job_id, attempt, ok, summary, detail))


async def record_outcome_async(app: Any, job_id: int, attempt: int, ok: bool, summary: str) -> None:
    """:func:`record_outcome` from the worker's event loop."""
    await app.connector.execute_query_async(_RECORD, **_outcome_args(job_id, attempt, ok, summary, {}))


def jobs(app: Any, job_id: int | None = None, status: str | None = None, limit: int = 100) -> list[JobView]:
    """Jobs newest first (``limit`` of them), with their outcomes."""
    rows = app.connector.get_sync_connector().execute_query_all(
        "SELECT j.id, j.task_name, j.queue_name, j.status::text AS status, j.attempts, j.scheduled_at, j.args, "
        "o.ok, o.summary, o.detail, o.finished_at, o.attempt "
        "FROM procrastinate_jobs j LEFT JOIN archive_job_outcomes o ON o.job_id = j.id "
        "WHERE (%(id)s::bigint IS NULL OR j.id = %(id)s) AND (%(status)s::text IS NULL OR j.status::text = %(status)s) "
        "ORDER BY j.id DESC LIMIT %(limit)s",
        id=job_id,
        status=status,
        limit=limit,
    )
    out = []
    for r in rows:
        outcome = None
        if r["ok"] is not None:
            outcome = {
                "ok": r["ok"],
                "summary": r["summary"],
                "detail": r["detail"],
                "finished_at": r["finished_at"].isoformat(),
                "attempt": r["attempt"],
            }
        out.append(
            JobView(
                r["id"],
                r["task_name"],
                r["queue_name"],
                r["status"],
                r["attempts"],
                r["scheduled_at"],
                r["args"],
                outcome,
            )
        )
    return out


def pending(app: Any, task: str) -> int:
    """Jobs of ``task`` waiting or running."""
    row = app.connector.get_sync_connector().execute_query_one(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE task_name = %(task)s AND status IN ('todo', 'doing')",
        task=task,
    )
    return int(row["n"])

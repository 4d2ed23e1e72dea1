"""The job queue on PostgreSQL (procrastinate): ``--enqueue``, ``archive worker`` processes sharing
work, a worker killed mid-job, a failing job retried and then reported. On SQLite there is no queue."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from archive.services.ingest.run import ingest
from tests.conftest import pg_schema
from tests.support.crash import ARCHIVE, REPO, context, run_cli, write_config

SUB = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"


@pytest.fixture
def pg_config(tmp_path: Path):
    """An archive whose catalog (and so its queue) is a PostgreSQL schema of its own; workers beat every second."""
    with pg_schema() as url:
        yield write_config(tmp_path, url, replica=False, job_heartbeat_seconds=1, job_retry_seconds=0, job_attempts=2)


def _submissions(tmp_path: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        target = tmp_path / f"sub{i}"
        shutil.copytree(SUB, target)
        (target / "note.txt").write_text(f"submission {i}\n")
        out.append(target)
    return out


def _jobs(config: Path) -> list[dict]:
    done = run_cli(config, "jobs", "list", "--json", "--limit", "1000")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)["jobs"]


def _worker_until(config: Path, status: str, seconds: float = 120) -> None:
    """Run a waiting ``archive worker`` until the newest job is in ``status`` (or the time is up)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    worker = subprocess.Popen(
        [ARCHIVE, "--config", str(config), "worker"], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and _jobs(config)[0]["status"] != status:
            time.sleep(1)
    finally:
        worker.terminate()
        worker.communicate(timeout=60)


def _fixity_events(config: Path) -> dict[str, int]:
    with context(config) as ctx:
        return {
            pid: sum(1 for e in ctx.catalog.get_package(pid).events if e.type == "fixity check")
            for pid in ctx.catalog.package_ids()
        }


def test_sqlite_has_no_queue_and_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite3'}", replica=False)
    done = run_cli(config, "ingest", str(SUB), "--profile", "heritage", "--enqueue")
    assert done.returncode == 2, done.stderr
    assert "the job queue needs the catalog on PostgreSQL" in done.stderr and "Traceback" not in done.stderr


def test_an_enqueued_ingest_is_run_by_a_worker_and_the_same_submission_twice_is_one_package(
    pg_config: Path, tmp_path: Path
) -> None:
    (sub,) = _submissions(tmp_path, 1)
    first = run_cli(pg_config, "ingest", str(sub), "--profile", "heritage", "--enqueue")
    second = run_cli(pg_config, "ingest", str(sub), "--profile", "heritage", "--enqueue")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    ran = run_cli(pg_config, "worker", "--once")
    assert ran.returncode == 0, ran.stderr
    jobs = _jobs(pg_config)
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"]
    created = sorted(j["outcome"]["detail"]["created"] for j in jobs)
    assert created == [False, True]  # delivered twice, stored once
    with context(pg_config) as ctx:
        assert ctx.catalog.count_packages() == 1
    shown = run_cli(pg_config, "jobs", "show", str(jobs[0]["id"]), "--json")
    assert json.loads(shown.stdout)["outcome"]["ok"] is True


def test_two_workers_share_an_audit_and_no_package_is_audited_twice(pg_config: Path, tmp_path: Path) -> None:
    with context(pg_config) as ctx:
        for sub in _submissions(tmp_path, 8):
            ingest(ctx, sub, "heritage")
        from archive.jobs.enqueue import enqueue_audit

        assert len(enqueue_audit(ctx, [], due=False, batch=2)) == 4
        assert len(enqueue_audit(ctx, [], due=False, batch=3)) == 3  # the same packages asked for again
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    args = [ARCHIVE, "--config", str(pg_config), "worker", "--once"]
    workers = [subprocess.Popen(args, env=env, cwd=REPO, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    jobs = _jobs(pg_config)
    assert all(j["status"] == "succeeded" for j in jobs), [j["outcome"] for j in jobs]
    assert set(_fixity_events(pg_config).values()) == {1}  # every package once, whichever job asked


def test_a_worker_killed_mid_job_leaves_its_job_to_another_which_finishes_it(pg_config: Path, tmp_path: Path) -> None:
    with context(pg_config) as ctx:
        for sub in _submissions(tmp_path, 5):
            ingest(ctx, sub, "heritage")
        from archive.jobs.enqueue import enqueue_audit

        (job_id,) = enqueue_audit(ctx, [], due=False, batch=10)
    killed = run_cli(pg_config, "worker", "--once", fault="audit.mid-package@3")  # dies in its third package
    assert killed.returncode == -9
    (job,) = _jobs(pg_config)
    assert job["status"] == "doing"  # held by a worker that is gone
    events = _fixity_events(pg_config)
    assert sorted(events.values()) == [0, 0, 0, 1, 1]  # two packages audited before the kill
    _worker_until(pg_config, "succeeded")
    (job,) = _jobs(pg_config)
    assert (job["id"], job["status"]) == (job_id, "succeeded")
    assert job["outcome"]["detail"]["skipped"] == 2  # what the killed attempt did is not done again
    assert set(_fixity_events(pg_config).values()) == {1}


def test_a_job_that_keeps_failing_is_retried_then_reported_and_can_be_retried_by_hand(
    pg_config: Path, tmp_path: Path
) -> None:
    (sub,) = _submissions(tmp_path, 1)
    with context(pg_config) as ctx:
        ingest(ctx, SUB, "heritage")  # the archive exists
        storage = ctx.settings.storage
    assert run_cli(pg_config, "ingest", str(sub), "--profile", "heritage", "--enqueue").returncode == 0
    shutil.rmtree(storage)
    storage.write_text("not a folder\n")  # storage that cannot be written: the job fails, is tried again
    ran = run_cli(pg_config, "worker", "--once")
    assert ran.returncode == 0, ran.stderr
    (job,) = _jobs(pg_config)
    assert (job["status"], job["attempts"]) == ("failed", 2)
    assert job["outcome"]["ok"] is False and "storage" in job["outcome"]["summary"]
    listed = run_cli(pg_config, "jobs", "list")
    assert listed.returncode == 1 and "failed" in listed.stdout  # cron sees it
    assert run_cli(pg_config, "jobs", "retry", str(job["id"])).returncode == 0
    assert _jobs(pg_config)[0]["status"] == "todo"


def test_the_scheduler_queues_the_due_audits_once_until_they_are_run(pg_config: Path, tmp_path: Path) -> None:
    with context(pg_config) as ctx:
        for sub in _submissions(tmp_path, 3):
            ingest(ctx, sub, "heritage")
        from archive.services.audit.run import AuditOptions, run_audit

        run_audit(ctx, AuditOptions(all=True))  # audited now: nothing due yet
    quiet = run_cli(pg_config, "scheduler", "--once", "--enqueue")
    assert quiet.returncode == 0 and _jobs(pg_config) == [], quiet.stderr
    with context(pg_config) as ctx:  # a year later, for the profile's interval: everything is due
        from sqlalchemy import text

        with ctx.catalog.transaction() as conn:
            conn.execute(
                text(
                    "UPDATE package_fixity SET checked_at = checked_at - interval '400 days', "
                    "verified_at = verified_at - interval '400 days', "
                    "pass_started_at = pass_started_at - interval '400 days'"
                )
            )
    first = run_cli(pg_config, "scheduler", "--once", "--enqueue")
    assert "1 audit job(s) queued" in first.stderr, first.stderr
    second = run_cli(pg_config, "scheduler", "--once", "--enqueue")
    assert "still queued or running: none added" in second.stderr and len(_jobs(pg_config)) == 1
    assert run_cli(pg_config, "worker", "--once").returncode == 0
    assert set(_fixity_events(pg_config).values()) == {2}


def test_catalog_locks_are_seen_across_connections_and_their_failures_are_catalog_errors() -> None:
    from archive.catalog import Catalog
    from archive.errors import CatalogError
    from tests.test_boundaries import failing

    with pg_schema() as url:
        one, two = Catalog(url), Catalog(url)
        try:
            with one.lock("archive.audit") as got:
                assert got
                with two.lock("archive.audit") as other, two.lock("archive.audit", shared=True) as shared:
                    assert (other, shared) == (False, False)  # held alone: nobody else
            with one.lock("archive.audit", shared=True) as a, two.lock("archive.audit", shared=True) as b:
                assert a and b  # queued audits side by side
                with one.lock("archive.audit") as alone:
                    assert not alone
            with one.package_locks(["p1", "p2"]) as mine, two.package_locks(["p2", "p3"]) as theirs:
                assert mine == {"p1", "p2"} and theirs == {"p3"}
            with two.package_locks(["p2"]) as after:
                assert after == {"p2"}  # released with the block
            for call in (lambda c: c.lock("x").__enter__(), lambda c: c.package_locks(["p"]).__enter__()):
                with failing(one, "sqlalchemy-error"), pytest.raises(CatalogError):
                    call(one)
        finally:
            one.close()
            two.close()


def test_which_failures_a_job_tries_again() -> None:
    from types import SimpleNamespace

    from archive.errors import CatalogError, StorageError, SubmissionRejected
    from archive.jobs.tasks import WORKER, _Retry
    from archive.services.audit.run import AuditBusy
    from archive.storage.objects import ObjectExists
    from archive.storage.ocfl import VersionConflict

    retry = _Retry()
    first, last = SimpleNamespace(attempts=0), SimpleNamespace(attempts=WORKER.attempts - 1)

    def again(exc: BaseException, job: SimpleNamespace) -> bool:
        return retry.get_retry_decision(exception=exc, job=job) is not None

    assert again(StorageError("storage unreachable"), first) and again(CatalogError("catalog away"), first)
    assert again(OSError(5, "EIO"), first)
    assert not again(StorageError("still unreachable"), last)  # job_attempts tries in all
    assert not again(SubmissionRejected("rejected", []), first)  # another try meets the same findings
    assert not again(ObjectExists("other bytes"), first) and not again(VersionConflict("v2 taken"), first)
    assert again(AuditBusy("an audit by hand runs"), last)  # waits for it, whatever the tries


def test_a_job_whose_worker_dies_each_time_fails_after_job_attempts_deaths(pg_config: Path, tmp_path: Path) -> None:
    with context(pg_config) as ctx:
        for sub in _submissions(tmp_path, 2):
            ingest(ctx, sub, "heritage")
        from archive.jobs.enqueue import enqueue_audit

        (job_id,) = enqueue_audit(ctx, [], due=False)
    assert run_cli(pg_config, "worker", "--once", fault="audit.mid-package").returncode == -9
    # the next worker puts the job back, takes it, and dies under it too (job_attempts is 2 here)
    assert run_cli(pg_config, "worker", fault="audit.mid-package", timeout=60).returncode == -9
    _worker_until(pg_config, "failed")
    (job,) = _jobs(pg_config)
    assert (job["id"], job["status"]) == (job_id, "failed")
    assert "its worker died while running it, 2 time(s)" in job["outcome"]["summary"]

"""Fixity audits: every kind of damage detected against the catalog's digests and named, outcomes
recorded as PREMIS events and audit runs, budgets that resume, due selection, exit statuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from archive.audit.findings import KINDS
from archive.catalog.audits import Audits
from archive.catalog.tables import FileRow
from archive.cli import main
from archive.services.audit.report import coverage_report, get_audit_run, last_fixity_outcomes, list_audit_runs
from archive.services.audit.run import AuditOptions, select
from archive.services.ingest.run import ingest
from tests.support.audit import (
    DAMAGE,
    HERITAGE,
    PDF,
    TIF,
    audit,
    forged,
    later,
    object_folder,
    rewrite_consistently,
    stored,
)


def test_clean_audit_records_a_fixity_event_per_package_and_a_run(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    result = audit(rctx, all=True)
    assert result.exit_status == 0 and result.outcome == "success" and result.status == "complete"
    assert result.packages == 1 and result.files == 2 * 10  # 7 tag files, metadata.yaml kept, 2 payload; 2 copies
    events = [e for e in rctx.catalog.get_package(pid).events if e.type == "fixity check"]
    assert len(events) == 1 and events[0].outcome == "success" and result.run_id in events[0].detail
    run = get_audit_run(rctx, result.run_id)
    assert run["status"] == "complete" and run["files"] == 20 and run["findings"] == []
    assert run["bytes"] == result.bytes > 0 and run["finished_at"]
    assert list_audit_runs(rctx)["count"] == 1
    assert last_fixity_outcomes(rctx, [pid])[pid]["outcome"] == "success"


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_each_kind_of_damage_is_detected_and_named(rctx, copy_fixture, damage: str) -> None:
    pid = stored(rctx, copy_fixture)
    before_replica = sorted(p.read_bytes() for p in rctx.replicas[0].original_bag(pid).rglob("*") if p.is_file())
    hurt, kind, path = DAMAGE[damage]
    hurt(rctx.storage.original_bag(pid))
    result = audit(rctx, package_ids=[pid])
    assert result.exit_status == 1 and result.outcome == "failure"
    named = {(f.copy, f.kind, f.path) for f in result.findings}
    assert ("primary", kind, path) in named, named
    assert all(f.copy == "primary" for f in result.findings)  # the replica is intact and says so
    event = next(e for e in rctx.catalog.get_package(pid).events if e.type == "fixity check")
    assert event.outcome == "failure" and KINDS[kind][0] in event.outcome_detail
    if path.startswith("data/") and kind != "extra":
        assert path[5:] in event.objects
    stored_findings = get_audit_run(rctx, result.run_id)["findings"]
    assert any(f["kind"] == kind and f["path"] == path for f in stored_findings)
    assert last_fixity_outcomes(rctx, [pid])[pid]["outcome"] == "failure"
    after_replica = sorted(p.read_bytes() for p in rctx.replicas[0].original_bag(pid).rglob("*") if p.is_file())
    assert after_replica == before_replica  # an audit never rewrites a stored package


def test_consistent_rewrite_passes_bag_validation_but_not_the_audit(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    bag = rctx.storage.original_bag(pid)
    rewrite_consistently(bag, PDF, forged(bag / PDF))
    bagit.Bag(str(bag)).validate()  # the bag's own manifests agree with the forgery
    result = audit(rctx, package_ids=[pid])
    kinds = {(f.kind, f.path) for f in result.findings}
    assert ("changed", PDF) in kinds
    assert {("tag-changed", "manifest-sha256.txt"), ("tag-changed", "tagmanifest-sha256.txt")} <= kinds
    changed = next(f for f in result.findings if f.path == PDF)
    assert changed.expected["sha256"] != changed.found["sha256"]


def test_catalog_rewritten_too_is_caught_by_the_ledger_token(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    forged = b"%PDF-1.4 forged\n"
    import hashlib

    for storage in rctx.all_storage:
        rewrite_consistently(storage.original_bag(pid), PDF, forged)
    with rctx.catalog.session() as s, s.begin():
        digests = {a: hashlib.new(a, forged).hexdigest() for a in ("sha256", "sha512")}
        s.execute(
            update(FileRow)
            .where(FileRow.package_id == pid, FileRow.path == PDF[5:])
            .values(digests=digests, sha256=digests["sha256"], sha512=digests["sha512"], size=len(forged))
        )
    result = audit(rctx, package_ids=[pid])
    assert result.exit_status == 1
    assert [f.kind for f in result.findings if f.kind == "catalog-changed"] == ["catalog-changed"]


def test_orphan_package_in_storage_is_reported(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    ghost = "00000000-0000-4000-8000-000000000001"
    target = rctx.storage.path_of(ghost)
    target.parent.mkdir(parents=True)
    shutil.copytree(rctx.storage.path_of(pid), target)
    result = audit(rctx, all=True)
    assert result.exit_status == 1
    assert [(f.package_id, f.kind, f.copy) for f in result.findings] == [(ghost, "orphan", "primary")]
    assert audit(rctx, package_ids=[ghost]).findings[0].kind == "orphan"


def test_permission_denied_is_could_not_check_not_failure(rctx, copy_fixture, monkeypatch) -> None:
    pid = stored(rctx, copy_fixture)
    import archive.audit.check as check

    real = check._open

    def deny(path: Path) -> int:
        if str(path).endswith(TIF) and rctx.settings.storage in path.parents:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(check, "_open", deny)
    result = audit(rctx, package_ids=[pid])
    assert result.exit_status == 3 and result.outcome == "could-not-check" and result.failures == 0
    assert [(f.kind, f.severity, f.path) for f in result.findings] == [("unreadable", "unchecked", TIF)]
    assert result.files == 20  # everything else was still checked
    state = Audits(rctx.catalog).state(pid)
    assert state.outcome == "could-not-check" and state.checked_at is None  # still due: not verified


def test_unreachable_replica_is_could_not_check_and_the_run_goes_on(rctx, copy_fixture, tmp_path) -> None:
    pid = stored(rctx, copy_fixture)
    other = stored(rctx, copy_fixture, "submissions/legal-minimal", "legal")
    replica = rctx.settings.replicas[0]
    shutil.rmtree(replica)
    replica.write_text("a storage root that is a file")
    result = audit(rctx, all=True)
    assert result.exit_status == 3 and result.failures == 0 and result.packages == 2
    assert {(f.package_id, f.kind, f.copy) for f in result.findings} == {
        (pid, "unreachable", "replica1"),
        (other, "unreachable", "replica1"),
    }


def test_budget_stops_between_files_and_resumes_until_everything_is_covered(rctx, copy_fixture, monkeypatch) -> None:
    ids = [
        stored(rctx, copy_fixture),
        stored(rctx, copy_fixture, "submissions/legal-minimal", "legal"),
        stored(rctx, copy_fixture, "submissions/research-bag", "research"),
    ]
    import archive.audit.check as check

    reads: list[tuple[str, str]] = []
    real = check.check_file
    monkeypatch.setattr(
        check, "check_file", lambda bag, entry, *more: reads.append((str(bag), entry.path)) or real(bag, entry, *more)
    )
    audits = Audits(rctx.catalog)
    runs, stopped_mid_package = 0, False
    while not all(s.checked_at for s in audits.last_fixity(ids).values()):
        runs += 1
        result = audit(rctx, all=True, max_bytes=3000, now=later(minutes=runs))
        assert result.exit_status == 0 and result.status in ("budget", "complete")
        stopped_mid_package |= any(s.cursor for s in audits.last_fixity(ids).values())
        assert runs < 50
    assert runs > 2 and stopped_mid_package
    everything = {
        (str(s.path_of(i)), e)
        for i in ids
        for s in rctx.all_storage
        for e in [*rctx.catalog.tag_digests(i), *(f"data/{f.path}" for f in rctx.catalog.get_package(i).files)]
    }
    first_cycle = reads[: len(everything)]
    assert len(set(first_cycle)) == len(first_cycle) and set(first_cycle) == everything  # each read once, all read
    assert audit(rctx, all=True, now=later(minutes=99)).status == "complete"  # no budget: the rest in one go


def test_due_selects_by_profile_interval_oldest_first(rctx, copy_fixture) -> None:
    heritage = stored(rctx, copy_fixture)  # 90 days
    legal = stored(rctx, copy_fixture, "submissions/legal-minimal", "legal")  # 30 days
    assert audit(rctx, due=True).packages == 0  # just ingested: verified at ingest
    first = audit(rctx, due=True, now=later(days=40))
    assert first.packages == 1 and Audits(rctx.catalog).state(legal).checked_at is not None
    assert audit(rctx, due=True, now=later(days=41)).packages == 0
    order = list(select(rctx, Audits(rctx.catalog), AuditOptions(due=True), later(days=100), "no-run"))
    assert order == [heritage, legal]  # never audited (ingest) is older than day 40


def test_jobs_2_finds_the_same(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    DAMAGE["content-changed"][0](rctx.storage.original_bag(pid))
    one = audit(rctx, package_ids=[pid], jobs=1)
    two = audit(rctx, package_ids=[pid], jobs=2)
    assert [f.as_dict() for f in one.findings] == [f.as_dict() for f in two.findings]
    assert one.files == two.files and one.bytes == two.bytes


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "worker-processes"])
def test_jobs_2_on_many_small_files_finds_the_same_in_the_same_order(
    rctx, copy_fixture, monkeypatch, processes: bool
) -> None:
    """Small files go to the pool in batches, on threads or (a big copy) to worker processes:
    damage in different batches, at their edges and in the last, partial one, is found exactly
    as one thread finds it."""
    import archive.audit.check as check
    from archive.audit.workers import CheckPool

    sub = copy_fixture(HERITAGE)
    for n in range(300):
        (sub / "letters" / f"{n // 100}").mkdir(parents=True, exist_ok=True)
        (sub / "letters" / f"{n // 100}" / f"letter-{n:03d}.txt").write_text(f"letter {n}\n" * (n % 7 + 1))
    pid = ingest(rctx, sub, "heritage").package_id
    data = rctx.storage.original_bag(pid) / "data" / "letters"
    (data / "0" / "letter-000.txt").unlink()  # the first file of the first batch
    for changed in (data / "0" / "letter-063.txt", data / "2" / "letter-299.txt"):  # a batch's last; the last batch
        changed.write_bytes(b"X" * changed.stat().st_size)
    (data / "1" / "letter-164.txt").write_text("")  # truncated, another batch
    one = audit(rctx, package_ids=[pid], jobs=1)
    handed: list[int] = []
    real = CheckPool.processes.fget
    monkeypatch.setattr(CheckPool, "processes", property(lambda self: handed.append(1) or real(self)))
    monkeypatch.setattr(check, "PROCESS_MIN_FILES", 1 if processes else 10**9)
    two = audit(rctx, package_ids=[pid], jobs=2)
    assert bool(handed) == processes  # the batches went to worker processes, or stayed here
    assert [f.as_dict() for f in two.findings] == [f.as_dict() for f in one.findings]
    assert len(one.findings) == 4 and {f.kind for f in one.findings} == {"missing", "changed", "truncated"}
    assert (two.files, two.bytes, two.exit_status) == (one.files, one.bytes, one.exit_status)


def test_jobs_2_stops_within_its_byte_budget_and_resumes_where_it_stopped(rctx, copy_fixture) -> None:
    sub = copy_fixture(HERITAGE)
    for n in range(200):
        (sub / f"note-{n:03d}.txt").write_text("x" * 1000)
    pid = ingest(rctx, sub, "heritage").package_id
    first = audit(rctx, package_ids=[pid], jobs=2, max_bytes=50_000)
    assert first.status == "budget" and 0 < first.files < 200
    rest = audit(rctx, package_ids=[pid], jobs=2)
    assert rest.exit_status == 0 and first.files + rest.files >= 200


def test_coverage_report(rctx, copy_fixture) -> None:
    good = stored(rctx, copy_fixture, "submissions/legal-minimal", "legal")
    bad = stored(rctx, copy_fixture)
    DAMAGE["missing-file"][0](rctx.storage.original_bag(bad))
    audit(rctx, all=True)
    report = coverage_report(rctx)
    by = {p["profile"]: p for p in report["profiles"]}
    assert by["legal"]["covered_files"] == 1 and by["legal"]["covered_percent"] == 100.0
    assert by["heritage"]["covered_files"] == 0 and by["heritage"]["open_failures"] == 1
    assert [f["package"] for f in report["open_failures"]] == [bad]
    assert report["totals"]["never_audited"] == 0 and report["runs"]["runs"] == 1
    stale = coverage_report(rctx, now=later(days=60))  # legal's 30-day interval has passed since
    assert {p["profile"]: p["covered_files"] for p in stale["profiles"]}["legal"] == 0
    assert good


def _cli(home: Path, replica: Path, *args: str):
    env = {"ARCHIVE_HOME": str(home), "ARCHIVE_REPLICAS": str(replica), "ARCHIVE_WORKERS": "1"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_exit_statuses_json_and_report(tmp_path: Path, copy_fixture) -> None:
    home, replica = tmp_path / "home", tmp_path / "replica"
    sub = copy_fixture(HERITAGE_PATH)
    pid = _cli(home, replica, "ingest", str(sub), "-p", "heritage").stdout.strip()
    clean = _cli(home, replica, "audit", "--all")
    assert clean.exit_code == 0 and clean.stdout == ""  # quiet when clean and not on a terminal (cron)
    ok = json.loads(_cli(home, replica, "audit", pid, "--json").stdout)
    assert ok["ok"] and ok["exit_status"] == 0 and ok["run"]["files"] == 20
    assert _cli(home, replica, "audit").exit_code == 2  # nothing selected: usage error
    assert _cli(home, replica, "audit", "--all", "--due").exit_code == 2
    (object_folder(home / "storage", pid) / "v1" / "content" / PDF).unlink()
    failed = _cli(home, replica, "audit", "--due", "--json")
    assert failed.exit_code == 0  # not due yet: nothing checked
    failed = _cli(home, replica, "audit", pid)
    assert failed.exit_code == 1 and "E603" in failed.stdout and PDF in failed.stdout
    report = json.loads(_cli(home, replica, "audit", "report", "--json").stdout)
    assert report["totals"]["open_failures"] == 1
    since = json.loads(_cli(home, replica, "audit", "report", "--since", "2000-01-01", "--json").stdout)
    assert since["since"].startswith("2000-01-01")
    assert "open failure" in _cli(home, replica, "audit", "report").stdout
    shutil.rmtree(replica)
    replica.write_text("not a folder")
    both = _cli(home, replica, "audit", pid, "--json")
    assert both.exit_code == 1  # a failure and a could-not-check: the failure decides


def test_cli_could_not_check_is_exit_3(tmp_path: Path, copy_fixture) -> None:
    home, replica = tmp_path / "home", tmp_path / "replica"
    pid = _cli(home, replica, "ingest", str(copy_fixture(HERITAGE_PATH)), "-p", "heritage").stdout.strip()
    shutil.rmtree(replica)
    replica.write_text("not a folder")
    result = _cli(home, replica, "audit", "--all", "--json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["run"]["outcome"] == "could-not-check" and data["run"]["failures"] == 0
    assert {f["kind"] for f in data["findings"]} == {"unreachable"} and data["findings"][0]["package"] == pid


HERITAGE_PATH = "submissions/heritage-minimal"


# -- a fresh archive: nothing stored yet ---------------------------------------------------------
def _fresh_home(tmp_path: Path, with_storage: bool) -> Path:
    """An archive with a catalog and nothing in it; its storage root made (as ``ingest`` does
    before its submission is rejected) or not made at all (a storage setting not used yet)."""
    from archive.services.context import ArchiveContext
    from tests.conftest import make_settings

    home = tmp_path / "home"
    with ArchiveContext(make_settings(home)) as ctx:
        ctx.catalog.ping()  # creates and migrates it
        if with_storage:
            ctx.storage.ensure()
        else:
            assert not ctx.settings.storage.exists()
    return home


@pytest.mark.parametrize("with_storage", [True, False], ids=["storage-made", "no-storage-yet"])
def test_a_fresh_archive_audits_clean_with_nothing_to_audit(tmp_path: Path, with_storage: bool) -> None:
    home = _fresh_home(tmp_path, with_storage)
    env = {"ARCHIVE_HOME": str(home), "ARCHIVE_WORKERS": "1"}

    def cli(*args: str):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    for selection in ("--all", "--due"):
        result = cli("audit", selection)
        assert result.exit_code == 0, (selection, result.output)
        assert "nothing to audit" in result.stdout
        data = json.loads(cli("audit", selection, "--json").stdout)
        assert data["ok"] and data["nothing_to_audit"] and data["exit_status"] == 0 and data["findings"] == []
    report = cli("audit", "report", "--json")
    assert report.exit_code == 0 and json.loads(report.stdout)["totals"]["packages"] == 0
    assert cli("audit", "report").exit_code == 0
    verify = cli("ledger", "verify")
    assert verify.exit_code == 0, verify.output
    doctor = cli("doctor")
    assert doctor.exit_code == 0 and "healthy" in doctor.stdout, doctor.output
    assert json.loads(cli("audit", "--all", "--json").stdout)["nothing_to_audit"]  # doctor changed nothing
    assert not (home / "storage" / "extensions" / "archive-ledger" / "ledger.jsonl").exists()  # no run was ledgered


def test_nothing_to_audit_is_not_said_when_storage_is_gone(tmp_path: Path) -> None:
    """An archive that has recorded something whose storage root is missing (unmounted) still
    exits 3: "nothing to audit" is for an archive that never stored anything."""
    from archive.catalog.ledger_mirror import LedgerMirror
    from archive.ledger import GENESIS, KIND_WITHDRAWN
    from archive.ledger.format import make_entry
    from archive.services.context import ArchiveContext
    from tests.conftest import make_settings

    home = _fresh_home(tmp_path, with_storage=False)
    with ArchiveContext(make_settings(home)) as ctx:
        entry = make_entry(1, GENESIS, KIND_WITHDRAWN, {"package": "x", "reason": "test"}, later())
        LedgerMirror(ctx.catalog).add([entry])
    result = CliRunner().invoke(main, ["audit", "--all"], env={"ARCHIVE_HOME": str(home)}, catch_exceptions=False)
    assert result.exit_code == 3 and "nothing to audit" not in result.stdout


def test_a_first_audit_after_the_first_ingest_records_a_run(rctx, copy_fixture) -> None:
    from archive.services.audit.run import is_fresh

    assert is_fresh(rctx, Audits(rctx.catalog))
    assert audit(rctx, all=True).nothing_to_audit
    stored(rctx, copy_fixture)
    assert not is_fresh(rctx, Audits(rctx.catalog))
    result = audit(rctx, all=True)
    assert not result.nothing_to_audit and result.packages == 1 and result.run_id


def test_an_audit_reports_the_bytes_it_reads(rctx, copy_fixture, monkeypatch) -> None:
    """An audit says how far it is in bytes (a big file shows its progress), rising to what it read."""
    from archive.services import progress as progress_module
    from archive.services.audit.run import run_audit

    monkeypatch.setattr(progress_module, "REPORT_EVERY", 0.0)
    stored(rctx, copy_fixture)
    reports: list[tuple[str, int, int]] = []
    result = run_audit(rctx, AuditOptions(all=True), progress=lambda s, d, t: reports.append((s, d, t)))
    read = [(d, t) for s, d, t in reports if s == "auditing bytes"]
    assert read and [d for d, _ in read] == sorted(d for d, _ in read)
    assert read[-1][0] == result.bytes and all(d <= t for d, t in read)

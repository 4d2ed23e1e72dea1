"""SIGKILL at every fault point, in a real child process, on SQLite and PostgreSQL.

After each kill: no half-written package is visible (the catalog holds none, or the whole one);
``archive doctor`` removes the staging leftovers and completes or rolls back what was stored;
a second doctor finds nothing; every stored package verifies (``audit --all``); the ledger
verifies without a warning; and running the interrupted command again succeeds, leaving exactly
one package. The journeys: ingest (one replica configured, so replication points are reached),
audit, repair, and doctor itself.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from archive import faults
from archive.catalog.dump import dump
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from archive.services.recovery.doctor import run_doctor
from tests.support.audit import TIF, flip_byte
from tests.support.crash import context, run_cli, run_forked, staging_entries, write_config

for _module in (
    "archive.cli",
    "archive.formats.identify",
    "archive.services.recovery.doctor",
    "archive.services.recovery.reindex",
    "archive.storage.ocfl",
):
    importlib.import_module(_module)  # importing a module registers its fault points

SUB = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"
POINTS = sorted(faults.POINTS)
FAULT_CALL = re.compile(r"""fault_point\(\s*["']([^"']+)["']""")

#: ingest points after which the package is catalogued (visible, complete)
CATALOGUED = {"catalog.after-commit", "ingest.before-cleanup"}
#: ingest points where the package is in primary storage but not in the catalog: doctor catalogues it
STORED = {
    "storage.after-rename",
    "verify.done",
    "replica.staged",
    "replica.after-rename",
    "ledger.before-append",
    "ledger.after-write",
    "ledger.after-append",
    "catalog.before-commit",
}
#: ... of which the replica does not hold its copy yet: doctor copies it
NOT_REPLICATED = {"storage.after-rename", "verify.done", "replica.staged"}
#: ingest points before anything is in storage: doctor removes the staging folder, nothing else
NOT_STORED = {
    "ingest.start",
    "copy.midway",
    "copy.file-written",
    "identify.start",
    "identify.done",
    "mets.written",
    "bag.manifests-written",
    "bag.tagfiles-written",
    "storage.before-rename",
}


#: journeys whose kills are tested beside their own code: ocfl.* in tests/test_ocfl.py, version.* (a change
#: of a stored package) in tests/test_lifecycle_crash.py, migrate.* in tests/test_migrate_storage.py,
#: dispose.* in tests/test_disposal.py, s3.* (a copy going up to object storage) in tests/test_object_storage.py
ELSEWHERE = ("ocfl", "version", "migrate", "dispose", "s3")


def journey(point: str) -> str:
    first = point.split(".")[0]
    return first if first in ("audit", "repair", "doctor", *ELSEWHERE) else "ingest"


def test_every_fault_point_in_the_code_is_registered_and_has_a_case() -> None:
    sources = [p for p in Path(faults.__file__).parent.rglob("*.py") if p.name != "faults.py"]
    called = {m for path in sources for m in FAULT_CALL.findall(path.read_text())}
    assert called == set(faults.POINTS)
    assert len(faults.POINTS) >= 20
    ingest_points = {p for p in POINTS if journey(p) == "ingest"}
    assert ingest_points == CATALOGUED | STORED | NOT_STORED


def _kinds(report) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[str]] = {}
    for issue in report.issues:
        out.setdefault(issue.kind, []).append(issue.action)
    return out


def _healthy_afterwards(ctx, expect_packages: int = 1) -> None:  # type: ignore[no-untyped-def]
    assert staging_entries(ctx) == []
    again = run_doctor(ctx)
    assert again.exit_status == 0, again.as_dict()
    audited = run_audit(ctx, AuditOptions(all=True))
    assert audited.exit_status == 0, audited.as_dict()
    ledger = verify_ledger(ctx)
    assert ledger.ok and not ledger.problems, [str(p) for p in ledger.problems]
    assert ctx.catalog.count_packages() == expect_packages


def _ingest_case(tmp_path: Path, config: Path, point: str) -> None:
    assert run_forked(config, ["ingest", str(SUB), "--profile", "heritage"], point) == -9
    with context(config) as ctx:
        visible = dump(ctx.catalog)
        if point in CATALOGUED:
            (row,) = visible["packages"]
            assert len(visible["package_files"]) == 2 and row["file_count"] == 2
        else:  # nothing half-written: no row in any table a listing, a search or the API reads
            assert not any(visible[t] for t in ("packages", "package_files", "events", "search_terms", "agents"))
        stored = list(ctx.storage.iter_package_ids())
        assert len(stored) == (0 if point in NOT_STORED else 1)
        report = run_doctor(ctx)
        kinds = _kinds(report)
        assert report.exit_status == 1 and "staging-leftover" in kinds, report.as_dict()
        if point in STORED:
            assert kinds["uncatalogued-package"] == ["catalogued from its METS"], report.as_dict()
            assert ("copy-missing" in kinds) == (point in NOT_REPLICATED)
        else:
            assert "uncatalogued-package" not in kinds
        if point == "ledger.after-write":
            assert kinds["ledger-mirror-behind"] == ["mirrored"]
        _healthy_afterwards(ctx, 0 if point in NOT_STORED else 1)
        again = ingest(ctx, SUB, "heritage")
        assert again.created == (point in NOT_STORED)
        assert again.package_id == (stored[0] if stored else again.package_id)
        _healthy_afterwards(ctx)


def _audit_case(config: Path, point: str) -> None:
    with context(config) as ctx:
        pid = ingest(ctx, SUB, "heritage").package_id
    assert run_forked(config, ["audit", "--all"], point) == -9
    with context(config) as ctx:
        report = run_doctor(ctx)
        kinds = _kinds(report)
        assert kinds.get("audit-run-stale") == ["closed as interrupted"], report.as_dict()
        assert ("event-missing" in kinds) == (point == "audit.before-record")
        _healthy_afterwards(ctx)
        fixity = [e for e in ctx.catalog.get_package(pid).events if e.type == "fixity check"]
        assert len(fixity) == (1 if point == "audit.mid-package" else 2)  # the killed run's, when ledgered


def _repair_case(config: Path, point: str) -> None:
    with context(config) as ctx:
        pid = ingest(ctx, SUB, "heritage").package_id
        flip_byte(ctx.storage.original_bag(pid) / TIF)
    assert run_forked(config, ["repair", pid], point) == -9
    with context(config) as ctx:
        report = run_doctor(ctx)
        assert "audit-run-stale" in _kinds(report), report.as_dict()
        repaired = run_audit(ctx, AuditOptions([pid], repair=True, selection="repair"))
        assert repaired.exit_status == 0, repaired.as_dict()
        _healthy_afterwards(ctx)


def _doctor_case(config: Path, point: str) -> None:
    assert run_forked(config, ["ingest", str(SUB), "--profile", "heritage"], "storage.after-rename") == -9
    assert run_forked(config, ["doctor"], point) == -9
    with context(config) as ctx:
        assert ctx.catalog.count_packages() == 0
        report = run_doctor(ctx)
        assert _kinds(report)["uncatalogued-package"] == ["catalogued from its METS"]
        (pid,) = ctx.storage.iter_package_ids()
        ledgered = [
            line for _, line in ctx.ledger.lines() if f'"package":"{pid}"' in line and '"kind":"package"' in line
        ]
        assert len(ledgered) == 1  # the killed doctor's ledger entries are reused, not written twice
        _healthy_afterwards(ctx)
        assert not ingest(ctx, SUB, "heritage").created


@pytest.mark.parametrize("point", [p for p in POINTS if journey(p) not in ELSEWHERE])
def test_sigkill_at_fault_point(point: str, database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url)
    case = journey(point)
    if case == "ingest":
        _ingest_case(tmp_path, config, point)
    elif case == "audit":
        _audit_case(config, point)
    elif case == "repair":
        _repair_case(config, point)
    else:
        _doctor_case(config, point)


def test_sigkill_through_the_installed_command(tmp_path: Path) -> None:
    """The same, with ``archive`` exec'd as an operator runs it, and doctor through its command line."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    killed = run_cli(config, "ingest", str(SUB), "--profile", "heritage", fault="catalog.before-commit")
    assert killed.returncode == -9, killed.stderr
    assert '"count": 0' in run_cli(config, "list", "--json").stdout
    doctor = run_cli(config, "doctor", "--json")
    assert doctor.returncode == 1 and '"uncatalogued-package"' in doctor.stdout, doctor.stdout
    assert run_cli(config, "doctor").returncode == 0
    assert run_cli(config, "audit", "--all").returncode == 0
    again = run_cli(config, "ingest", str(SUB), "--profile", "heritage", "--json")
    assert again.returncode == 0 and '"created": false' in again.stdout
    assert '"count": 1' in run_cli(config, "list", "--json").stdout

"""SIGKILL at every step of a version write (a change of a stored package), in a real child process.

After each kill: the catalog shows the old version or the whole new one, never part of it;
version 1 is intact and exports as a valid bag; ``archive doctor`` settles the OCFL object,
records a version that was stored but not catalogued, copies it to a replica that lacks it;
afterwards audits pass on every version, the ledger verifies, the storage root validates
with ocfl-py, and the next change works.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import bagit
import ocfl
import pytest
import yaml

from archive import faults
from archive.catalog.dump import dump
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from archive.services.lifecycle import changes
from archive.services.lifecycle.versions import Actor
from archive.services.recovery.doctor import run_doctor
from archive.services.retrieve.export import export
from tests.support.crash import context, run_forked, staging_entries, write_config

importlib.import_module("archive.cli")
SUB = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"
#: every point a change passes, in order; after CATALOGUED the new version is recorded
POINTS = [
    "version.staged",
    "ocfl.version-staged",
    "ocfl.before-version-rename",
    "ocfl.after-version-rename",
    "ocfl.after-inventory-rename",
    "ocfl.before-cleanup",
    "version.stored",
    "replica.staged",
    "version.replicated",
    "version.ledgered",
    "catalog.before-commit",
    "catalog.after-commit",
]
CATALOGUED = {"catalog.after-commit"}
#: points at which primary storage holds the new version already (doctor records it)
STORED = set(POINTS[POINTS.index("ocfl.after-version-rename") :]) - CATALOGUED


def test_every_version_point_is_registered_and_listed() -> None:
    assert {p for p in faults.POINTS if p.startswith("version.")} <= set(POINTS)
    assert set(POINTS) <= set(faults.POINTS)


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_while_amending(point: str, database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url)
    meta = tmp_path / "amended.yaml"
    data = yaml.safe_load((SUB / "metadata.yaml").read_text())
    meta.write_text(yaml.safe_dump({**data, "title": "Amended title"}))
    with context(config) as ctx:
        pid = ingest(ctx, SUB, "heritage").package_id
    assert run_forked(config, ["amend", pid, "--metadata", str(meta), "--reason", "crash test"], point) == -9
    with context(config) as ctx:
        pkg = ctx.catalog.get_package(pid)
        assert pkg.version == (2 if point in CATALOGUED else 1)
        assert pkg.metadata["title"] == ("Amended title" if point in CATALOGUED else data["title"])
        assert len([r for r in dump(ctx.catalog)["package_versions"] if r["package_id"] == pid]) == pkg.version
        export(ctx, pid, tmp_path / "v1", 1)
        bagit.Bag(str(tmp_path / "v1")).validate()  # version 1 intact whatever happened
        report = run_doctor(ctx)
        kinds = {i.kind for i in report.issues}
        assert ("version-unrecorded" in kinds) == (point in STORED), report.as_dict()
        assert staging_entries(ctx) == []
        again = run_doctor(ctx)
        assert again.exit_status == 0, again.as_dict()
        head = ctx.catalog.get_package(pid).version
        assert head == (2 if point in STORED | CATALOGUED else 1)
        for storage in ctx.all_storage:
            assert storage.head(pid) == head
            root = ocfl.StorageRoot(root=str(storage.root))
            assert root.validate(), str(root.log)
        audited = run_audit(ctx, AuditOptions(all=True))
        assert audited.exit_status == 0, audited.as_dict()
        ledger = verify_ledger(ctx)
        assert ledger.ok and not ledger.problems, [str(p) for p in ledger.problems]
        after = changes.place_hold(ctx, pid, "next change works", Actor("alice", "archivist"))
        assert after.version == head + 1

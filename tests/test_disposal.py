"""Disposal with two people: proposed, approved by someone else, executed; a tombstone remains.

What a user relies on: one person alone cannot dispose of anything; a legal hold blocks it at
every step; afterwards no byte of the package is left in primary storage or any replica, every
root keeps the tombstone, the API answers 410 with it (404 to whoever could not see the
package), search, listings and audits no longer see it, the ledger verifies, ``reindex`` from
storage alone restores the tombstone and the proposal, and a SIGKILL at any step leaves a
disposal either not begun or finished by ``archive doctor``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ocfl
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.api import create_app
from archive.catalog.disposals import Disposals
from archive.catalog.dump import dump
from archive.catalog.maintenance import Maintenance
from archive.catalog.search import SearchQuery, search
from archive.cli import main
from archive.errors import AccessDenied, ChangeRefused, Gone
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from archive.services.lifecycle import changes, disposal
from archive.services.lifecycle.versions import Actor
from archive.services.recovery.doctor import run_doctor
from archive.services.recovery.reindex import reindex
from archive.services.retrieve.export import describe
from tests.conftest import DATA, make_settings
from tests.support.crash import context, run_forked, write_config

ALICE, BOB = Actor("alice", "archivist"), Actor("bob", "archivist")
SUB = DATA / "submissions" / "heritage-minimal"


def _ingested(ctx: ArchiveContext, tmp: Path, n: int = 1) -> list[str]:
    out = []
    for i in range(n):
        sub = tmp / f"sub{i}-{len(list(tmp.glob('sub*')))}"
        shutil.copytree(SUB, sub)
        (sub / f"extra-{i}.txt").write_text(f"package {i}\n")
        out.append(ingest(ctx, sub, "heritage").package_id)
    return out


def test_two_people_dispose_and_a_tombstone_remains_everywhere(rctx, tmp_path: Path) -> None:
    keep, gone = _ingested(rctx, tmp_path, 2)
    changes.amend(rctx, gone, _amended(tmp_path), "typo", ALICE)  # several versions, all go
    proposal = disposal.propose(rctx, [gone], "retention schedule fell due", ALICE)
    with pytest.raises(ChangeRefused, match="different person"):
        disposal.approve(rctx, proposal.id, "", ALICE)
    with pytest.raises(AccessDenied):
        disposal.approve(rctx, proposal.id, "", Actor("rita", "researcher"))
    assert rctx.catalog.get_package(gone).version == 2  # nothing changed yet
    done = disposal.approve(rctx, proposal.id, "checked the schedule", BOB)
    assert (done.state, done.approver) == ("executed", "bob")

    for storage in rctx.all_storage:
        assert not storage.exists(gone) and storage.exists(keep)
        stone = disposal.read_tombstone(storage, gone)
        assert stone is not None and stone["proposal"]["proposer"] == "alice" and stone["proposal"]["approver"] == "bob"
        assert [e["type"] for e in stone["events"]] == ["deaccession", "deletion"]
        assert [v["version"] for v in stone["versions"]] == [1, 2]
        assert all(len(c["sha512"]) == 128 for c in stone["content"]) and stone["content"]
        root = ocfl.StorageRoot(root=str(storage.root))
        assert root.validate(), str(root.log)
    assert rctx.catalog.package_ids() == [keep]
    assert [i.id for i in search(rctx.catalog, SearchQuery()).items] == [keep]
    with pytest.raises(Gone) as told:
        describe(rctx, gone)
    assert told.value.tombstone["proposal"]["reason"] == "retention schedule fell due"
    with pytest.raises(ChangeRefused, match="disposed of"):
        changes.amend(rctx, gone, _amended(tmp_path), "", ALICE)
    with pytest.raises(ChangeRefused):
        disposal.propose(rctx, [gone], "again", ALICE)
    audited = run_audit(rctx, AuditOptions(all=True))
    assert audited.exit_status == 0 and not audited.findings, audited.as_dict()
    assert run_doctor(rctx).exit_status == 0
    ledger = verify_ledger(rctx)
    assert ledger.ok and not ledger.problems


def _amended(tmp: Path) -> Path:
    path = tmp / f"amended-{len(list(tmp.glob('amended-*')))}.yaml"
    path.write_text((SUB / "metadata.yaml").read_text().replace("Test collection", f"Collection {path.stem}"))
    return path


def test_a_hold_blocks_proposal_approval_and_execution(sqlite_ctx, tmp_path: Path) -> None:
    held, free = _ingested(sqlite_ctx, tmp_path, 2)
    changes.place_hold(sqlite_ctx, held, "matter 1", ALICE)
    with pytest.raises(ChangeRefused, match="legal hold"):
        disposal.propose(sqlite_ctx, [held, free], "due", ALICE)
    proposal = disposal.propose(sqlite_ctx, [free], "due", ALICE)
    changes.place_hold(sqlite_ctx, free, "matter 2: placed after the proposal", BOB)
    with pytest.raises(ChangeRefused, match="legal hold"):
        disposal.approve(sqlite_ctx, proposal.id, "", BOB)
    assert sqlite_ctx.storage.exists(free) and sqlite_ctx.catalog.get_package(free).held
    assert Disposals(sqlite_ctx.catalog).proposal(proposal.id).state == "proposed"
    withdrawn = disposal.withdraw(sqlite_ctx, proposal.id, "the matter is open", ALICE)
    assert withdrawn.state == "withdrawn"
    with pytest.raises(ChangeRefused):
        disposal.approve(sqlite_ctx, proposal.id, "", BOB)


def test_the_api_answers_410_with_the_tombstone(tmp_path: Path) -> None:
    from tests.support.api import build_archive

    a = build_archive(tmp_path, ("open", "restricted"))
    with ArchiveContext(a.settings) as ctx:
        for pid in a.packages.values():
            p = disposal.propose(ctx, [pid], "weeded", ALICE)
            disposal.approve(ctx, p.id, "", BOB)
    with TestClient(create_app(a.settings)) as c:
        r = c.get(f"/packages/{a.packages['open']}")
        assert r.status_code == 410
        body = r.json()["error"]
        assert body["code"] == "E010" and body["tombstone"]["reason"] == "weeded"
        assert c.get(f"/packages/{a.packages['open']}/files").status_code == 410
        hidden = c.get(f"/packages/{a.packages['restricted']}")  # anonymous never saw it: unknown
        assert hidden.status_code == 404 and "tombstone" not in hidden.json()["error"]
        seen = c.get(
            f"/packages/{a.packages['restricted']}", headers={"Authorization": f"Bearer {a.tokens['archivist']}"}
        )
        assert seen.status_code == 410
        assert c.get("/packages").json()["total"] == 0


def test_reindex_restores_tombstones_and_proposals_from_storage(tmp_path: Path) -> None:
    settings_ = make_settings(tmp_path / "home", replicas=[str(tmp_path / "replica")])
    with ArchiveContext(settings_) as ctx:
        keep, gone = _ingested(ctx, tmp_path, 2)
        p = disposal.propose(ctx, [gone], "due", ALICE)
        disposal.approve(ctx, p.id, "ok", BOB)
        other = disposal.propose(ctx, [keep], "maybe", ALICE)
        disposal.withdraw(ctx, other.id, "no", BOB)
        before = dump(ctx.catalog)
        Maintenance(ctx.catalog).wipe()
        reindex(ctx)
        after = dump(ctx.catalog)
        for table in ("tombstones", "disposal_proposals", "packages"):
            assert after[table] == before[table], table
        with pytest.raises(Gone):
            describe(ctx, gone)


def test_cli_dispose(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()

    def run(*args: str) -> tuple[int, dict]:
        r = runner.invoke(main, ["--home", str(home), *args, "--json"])
        return r.exit_code, json.loads(r.output)

    code, data = run("ingest", str(SUB), "--profile", "heritage")
    pid = data["id"]
    code, data = run("dispose", "propose", pid, "--reason", "due", "--agent", "alice")
    assert code == 0 and data["state"] == "proposed"
    proposal = data["id"]
    code, data = run("dispose", "approve", proposal, "--agent", "alice")
    assert code == 1 and data["error"]["code"] == "E800"
    code, data = run("dispose", "approve", proposal, "--agent", "bob")
    assert code == 0 and data["state"] == "executed"
    code, data = run("show", pid)
    assert code == 1 and data["error"]["code"] == "E010" and data["error"]["tombstone"]["package"] == pid
    code, data = run("dispose", "list")
    assert [p["state"] for p in data["proposals"]] == ["executed"]
    code, data = run("dispose", "execute", proposal)
    assert code == 0  # nothing left to do: idempotent
    for command in ("propose", "approve", "execute", "withdraw", "list"):
        assert runner.invoke(main, ["dispose", command, "--help"]).exit_code == 0


POINTS = ["dispose.ledgered", "dispose.tombstone-written", "dispose.object-removed", "catalog.before-commit"]


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_while_disposing(point: str, database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url)
    with context(config) as ctx:
        pid = ingest(ctx, SUB, "heritage").package_id
        proposal = disposal.propose(ctx, [pid], "due", ALICE).id
    assert run_forked(config, ["dispose", "approve", proposal, "--agent", "bob"], point) == -9
    with context(config) as ctx:
        begun = disposal.read_tombstone(ctx.storage, pid) is not None
        assert begun == (point != "dispose.ledgered")
        if not begun:  # not begun: the package is whole and catalogued; executing again finishes
            assert ctx.catalog.get_package(pid).version == 1 and ctx.storage.exists(pid)
            assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0
            disposal.execute(ctx, proposal)
        else:  # begun: doctor finishes it
            report = run_doctor(ctx)
            assert "disposal-unfinished" in {i.kind for i in report.issues}, report.as_dict()
        assert ctx.catalog.tombstone(pid) is not None and ctx.catalog.package_ids() == []
        assert not any(s.exists(pid) for s in ctx.all_storage)
        assert all(disposal.read_tombstone(s, pid) is not None for s in ctx.all_storage)
        assert run_doctor(ctx).exit_status == 0
        assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0
        ledger = verify_ledger(ctx)
        assert ledger.ok and not ledger.problems, [str(p) for p in ledger.problems]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=4))
def test_exactly_the_approved_unheld_packages_go(tmp_path_factory, plan: list[tuple[bool, bool]]) -> None:
    """(proposed, held after proposing) per package: exactly the proposed, unheld ones are disposed
    of; every other package is untouched and audits clean."""
    tmp = tmp_path_factory.mktemp("plan")
    with ArchiveContext(make_settings(tmp / "home")) as ctx:
        pids = _ingested(ctx, tmp, len(plan))
        proposed = [pid for pid, (p, _) in zip(pids, plan, strict=True) if p]
        held = {pid for pid, (p, h) in zip(pids, plan, strict=True) if p and h}
        for pid in proposed:
            proposal = disposal.propose(ctx, [pid], "due", ALICE)
            if pid in held:
                changes.place_hold(ctx, pid, "matter", BOB)
                with pytest.raises(ChangeRefused):
                    disposal.approve(ctx, proposal.id, "", BOB)
            else:
                disposal.approve(ctx, proposal.id, "", BOB)
        gone = set(proposed) - held
        assert set(ctx.catalog.package_ids()) == set(pids) - gone
        assert {pid for pid in pids if ctx.storage.exists(pid)} == set(pids) - gone
        assert {t.package_id for t in Disposals(ctx.catalog).tombstones()} == gone
        assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0

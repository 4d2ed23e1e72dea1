"""A package's life after ingest: every change a new OCFL version whose state is a complete bag.

Checked against what a user relies on: each version exports as a bag bagit-python validates, the
storage root validates with ocfl-py, an amendment stores O(changed) bytes, audits read every
version, reindex rebuilds versions and holds identically, and refusals (a hold, a bad metadata
file, an unknown path, a decision without a decider's role) write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import bagit
import ocfl
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.catalog.maintenance import Maintenance
from archive.catalog.search import SearchQuery, search
from archive.cli import main
from archive.errors import AccessDenied, ChangeRefused, InvalidRequest, RejectedError
from archive.services.context import ArchiveContext
from archive.services.lifecycle import changes
from archive.services.lifecycle.history import history
from archive.services.lifecycle.versions import Actor
from archive.services.recovery.reindex import reindex
from archive.services.retrieve.export import export
from tests.conftest import make_settings
from tests.support.audit import HERITAGE, audit, stored

ALICE = Actor("alice", "archivist")
RESEARCHER = Actor("rita", "researcher")


def _metadata(tmp_path: Path, **changes_: str) -> Path:
    base = yaml.safe_load((Path(__file__).parent / "data" / HERITAGE / "metadata.yaml").read_text())
    base.update(changes_)
    path = tmp_path / f"meta-{len(list(tmp_path.glob('meta-*')))}.yaml"
    path.write_text(yaml.safe_dump(base), encoding="utf-8")
    return path


def _storage_valid(root: Path) -> None:
    storage = ocfl.StorageRoot(root=str(root))
    assert storage.validate(), str(storage.log)


def _exported_valid(ctx: ArchiveContext, pid: str, version: int, dest: Path) -> bagit.Bag:
    export(ctx, pid, dest, version)
    bag = bagit.Bag(str(dest))
    bag.validate()
    return bag


def _content_files(ctx: ArchiveContext, pid: str) -> dict[str, int]:
    folder = ctx.storage.path_of(pid)
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and "/content/" in p.relative_to(folder).as_posix()
    }


def test_every_change_is_a_version_and_every_version_a_valid_bag(rctx, copy_fixture, tmp_path: Path) -> None:
    pid = stored(rctx, copy_fixture)
    r = changes.amend(rctx, pid, _metadata(tmp_path, title="Corrected title"), "typo", ALICE)
    assert (r.version, r.kind, r.stored_bytes) == (2, "amend", 0)
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "note.txt").write_text("a note\n")
    assert changes.add_files(rctx, pid, extra, "a note", ALICE).version == 3
    assert changes.withdraw_files(rctx, pid, ["note.txt"], "added by mistake", ALICE).version == 4
    assert changes.set_access(rctx, pid, "restricted", "donor asked", ALICE).version == 5

    pkg = rctx.catalog.get_package(pid)
    assert pkg.version == 5 and pkg.metadata["title"] == "Corrected title" and pkg.access.level == "restricted"
    assert [i.id for i in search(rctx.catalog, SearchQuery(text="corrected")).items] == [pid]  # re-indexed
    assert search(rctx.catalog, SearchQuery(text="photograph")).items == []  # the old title's words are gone
    assert "note.txt" not in {f.path for f in pkg.files}
    assert "note.txt" in {f.path for f in rctx.catalog.get_package(pid, 3).files}
    assert rctx.catalog.get_package(pid, 1).metadata["title"] != "Corrected title"

    for version, payload in [(1, 2), (2, 2), (3, 3), (4, 2), (5, 2)]:
        bag = _exported_valid(rctx, pid, version, tmp_path / f"v{version}")
        assert len(list(bag.payload_entries())) == payload
        assert bag.info.get("Archive-Version") == (str(version) if version > 1 else None)
    for storage in rctx.all_storage:
        _storage_valid(storage.root)
        assert storage.head(pid) == 5
    # later versions store only what changed: no payload file is stored twice
    content = _content_files(rctx, pid)
    assert sorted(p for p in content if "/content/data/" in p) == sorted(
        p for p in content if p.startswith("v1/content/data/") or p == "v3/content/data/note.txt"
    )
    result = audit(rctx, package_ids=[pid])
    assert result.exit_status == 0, [f.line() for f in result.findings]
    assert result.files == 2 * len(content)  # every version's every stored file, in both copies


def test_history_names_who_when_and_why(sqlite_ctx, copy_fixture, tmp_path: Path) -> None:
    pid = stored(sqlite_ctx, copy_fixture)
    changes.place_hold(sqlite_ctx, pid, "matter 42", ALICE)
    changes.release_hold(sqlite_ctx, pid, "matter closed", Actor("bea", "admin"))
    h = history(sqlite_ctx, pid)
    assert [(v["version"], v["kind"], v["agent"], v["reason"]) for v in h["versions"]] == [
        (1, "ingest", sqlite_ctx.settings.agent, ""),  # the submitter, recorded at ingest
        (2, "hold", "alice", "matter 42"),
        (3, "release", "bea", "matter closed"),
    ]
    assert [d["type"] for d in h["decisions"]] == ["policy assignment", "policy assignment"]
    assert h["decisions"][0]["agents"][1] == {"agent": "alice", "role": "implementer"}
    assert not h["held"]


def test_a_hold_blocks_every_change_until_released(sqlite_ctx, copy_fixture, tmp_path: Path) -> None:
    pid = stored(sqlite_ctx, copy_fixture)
    changes.place_hold(sqlite_ctx, pid, "litigation", ALICE)
    assert sqlite_ctx.catalog.get_package(pid).held
    for attempt in (
        lambda: changes.amend(sqlite_ctx, pid, _metadata(tmp_path, title="x"), "", ALICE),
        lambda: changes.withdraw_files(sqlite_ctx, pid, ["HHM_2024_900_001.tif"], "why", ALICE),
        lambda: changes.set_access(sqlite_ctx, pid, "confidential", "why", ALICE),
        lambda: changes.place_hold(sqlite_ctx, pid, "again", ALICE),
    ):
        with pytest.raises(ChangeRefused):
            attempt()
    assert sqlite_ctx.catalog.get_package(pid).version == 2 and sqlite_ctx.storage.head(pid) == 2
    changes.release_hold(sqlite_ctx, pid, "settled", ALICE)
    assert changes.amend(sqlite_ctx, pid, _metadata(tmp_path, title="x"), "", ALICE).version == 4


def test_refusals_write_nothing(sqlite_ctx, copy_fixture, tmp_path: Path) -> None:
    pid = stored(sqlite_ctx, copy_fixture)
    bad = _metadata(tmp_path, title="")
    bad.write_text("title: ''\nunknown_field: 1\n", encoding="utf-8")
    with pytest.raises(RejectedError) as rejected:
        changes.amend(sqlite_ctx, pid, bad, "", ALICE)
    assert len([f for f in rejected.value.findings if f.is_error]) >= 2  # every problem at once
    with pytest.raises(RejectedError) as unknown:
        changes.withdraw_files(sqlite_ctx, pid, ["no/such/file.tif", "nor.this"], "why", ALICE)
    assert [f.code for f in unknown.value.findings] == ["E462", "E462"]
    with pytest.raises(AccessDenied):
        changes.set_access(sqlite_ctx, pid, "open", "why", RESEARCHER)
    with pytest.raises(AccessDenied):
        changes.place_hold(sqlite_ctx, pid, "why", RESEARCHER)
    with pytest.raises(InvalidRequest):
        changes.set_access(sqlite_ctx, pid, "open", "  ", ALICE)
    with pytest.raises(InvalidRequest):
        changes.set_access(sqlite_ctx, pid, "wide-open", "why", ALICE)
    with pytest.raises(RejectedError):
        changes.amend(sqlite_ctx, pid, _metadata(tmp_path), "", ALICE)  # the same metadata: E460
    assert sqlite_ctx.catalog.get_package(pid).version == 1 and sqlite_ctx.storage.head(pid) == 1
    assert not any(sqlite_ctx.storage.root.joinpath("extensions", "archive-staging").iterdir())


def test_reindex_rebuilds_versions_and_holds_from_storage_alone(tmp_path: Path, copy_fixture) -> None:
    home = tmp_path / "home"
    with ArchiveContext(make_settings(home)) as ctx:
        pid = stored(ctx, copy_fixture)
        changes.amend(ctx, pid, _metadata(tmp_path, title="Second title"), "typo", ALICE)
        changes.place_hold(ctx, pid, "matter 7", ALICE)
        before = [v.as_dict() for v in ctx.catalog.versions(pid)]
        files_before = {n: [f.path for f in ctx.catalog.get_package(pid, n).files] for n in (1, 2, 3)}
        events_before = sorted(e.identifier for e in ctx.catalog.get_package(pid).events)
        Maintenance(ctx.catalog).wipe()
        reindex(ctx)
        after = [v.as_dict() for v in ctx.catalog.versions(pid)]
        assert [{k: v for k, v in d.items() if k != "created"} for d in after] == [
            {k: v for k, v in d.items() if k != "created"} for d in before
        ]
        assert ctx.catalog.get_package(pid).held
        assert {n: [f.path for f in ctx.catalog.get_package(pid, n).files] for n in (1, 2, 3)} == files_before
        assert sorted(e.identifier for e in ctx.catalog.get_package(pid).events) == events_before


def test_cli_lifecycle_commands(tmp_path: Path, copy_fixture) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    sub = copy_fixture(HERITAGE)
    out = runner.invoke(main, ["--home", str(home), "ingest", str(sub), "--profile", "heritage", "--json"])
    pid = json.loads(out.output)["id"]
    meta = _metadata(tmp_path, title="Amended")

    def run(*args: str) -> tuple[int, dict]:
        r = runner.invoke(main, ["--home", str(home), *args, "--json"])
        return r.exit_code, json.loads(r.output)

    code, data = run("amend", pid, "--metadata", str(meta), "--reason", "typo", "--agent", "alice")
    assert code == 0 and data["version"] == 2 and data["kind"] == "amend"
    code, data = run("hold", "place", pid, "--reason", "matter 9")
    assert code == 0 and data["version"] == 3
    code, data = run("access", "set", pid, "restricted", "--reason", "why")
    assert code == 1 and data["error"]["code"] == "E800"
    code, data = run("hold", "release", pid, "--reason", "done")
    assert code == 0
    code, data = run("withdraw-files", pid, "nothing.here", "--reason", "why")
    assert code == 1 and data["error"]["code"] == "E110"
    code, data = run("show", pid, "--versions")
    assert [v["kind"] for v in data["versions"]] == ["ingest", "amend", "hold", "release"]
    code, data = run("show", pid, "--version", "1")
    assert data["version"] == 1 and data["title"] != "Amended"
    code, data = run("history", pid)
    assert code == 0 and len(data["decisions"]) == 3
    code, data = run("export", pid, str(tmp_path / "v2"), "--version", "2")
    assert code == 0
    bagit.Bag(str(tmp_path / "v2")).validate()
    for command in (["amend"], ["add"], ["withdraw-files"], ["access", "set"], ["hold", "place"], ["history"]):
        assert runner.invoke(main, [*command, "--help"]).exit_code == 0


titles = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
    lambda t: t.strip() == t and t
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(titles, min_size=1, max_size=4, unique=True))
def test_any_sequence_of_amendments_keeps_every_version(tmp_path_factory, titles: list[str]) -> None:
    """Whatever titles are amended in, each version keeps its own, exports as a valid bag, and the
    storage root stays a valid OCFL root; the payload is stored once."""
    tmp = tmp_path_factory.mktemp("amend")
    import shutil

    from tests.conftest import DATA

    sub = tmp / "sub"
    shutil.copytree(DATA / HERITAGE, sub)
    with ArchiveContext(make_settings(tmp / "home")) as ctx:
        from archive.services.ingest.run import ingest

        pid = ingest(ctx, sub, "heritage").package_id
        first = ctx.catalog.get_package(pid).metadata["title"]
        wanted = [first]
        for title in titles:
            if title == wanted[-1]:
                continue
            changes.amend(ctx, pid, _metadata(tmp, title=title), "", ALICE)
            wanted.append(title)
        for number, title in enumerate(wanted, 1):
            assert ctx.catalog.get_package(pid, number).metadata["title"] == title
            bag = _exported_valid(ctx, pid, number, tmp / f"out{number}")
            assert title in (bag.info.get("External-Description") or "") or number == 1
        _storage_valid(ctx.storage.root)
        payload = [p for p in _content_files(ctx, pid) if "/content/data/" in p]
        assert all(p.startswith("v1/") for p in payload)

"""The archive command: exit statuses scripts can act on, --json shapes, human output."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import main
from tests.support.audit import object_folder

REPO = Path(__file__).resolve().parent.parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def fixture(tmp_path: Path, rel: str) -> Path:
    dest = tmp_path / "in" / Path(rel).name
    shutil.copytree(REPO / rel, dest)
    return dest


def test_help_everywhere(cli) -> None:
    assert cli("--help").exit_code == 0
    for cmd in (["ingest"], ["validate"], ["list"], ["show"], ["export"], ["bag", "validate"], ["profiles", "export"]):
        result = cli(*cmd, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_usage_error_is_exit_2(cli) -> None:
    assert cli("ingest").exit_code == 2
    assert cli("ingest", "x", "--profile").exit_code == 2
    assert cli("frobnicate").exit_code == 2


def test_ingest_list_show_export(cli, tmp_path: Path) -> None:
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    result = cli("ingest", str(sub), "--profile", "heritage", "--agent", "Ada")
    assert result.exit_code == 0, result.output
    package_id = UUID.search(result.stdout).group(0)
    assert result.stdout.strip() == package_id  # stdout carries only the identifier

    listing = json.loads(cli("list", "--json").stdout)
    assert listing["count"] == 1 and listing["packages"][0]["id"] == package_id
    assert json.loads(cli("list", "--profile", "legal", "--json").stdout)["count"] == 0

    shown = json.loads(cli("show", package_id, "--json").stdout)
    assert shown["profile"] == "heritage" and shown["files_count"] == 2
    assert {f["format"]["puid"] for f in shown["files"]} == {"fmt/353", "fmt/18"}
    assert any(a["name"] == "Ada" for a in shown["agents"])
    human = cli("show", package_id)
    assert human.exit_code == 0 and package_id in human.output

    dest = tmp_path / "exported"
    assert cli("export", package_id, str(dest)).exit_code == 0
    import bagit

    bagit.Bag(str(dest)).validate()


@pytest.mark.parametrize("limit", [1, 2, 4, 5])
def test_show_pages_through_a_package(cli, tmp_path: Path, limit: int) -> None:
    """A package is shown a page at a time (a million-file package is never read whole): the pages
    together list every file once, in path order, and each says the totals."""
    sub = fixture(tmp_path, "examples/heritage-harbour-photographs")
    package_id = UUID.search(cli("ingest", str(sub), "--profile", "heritage").stdout).group(0)
    whole = json.loads(cli("show", package_id, "--json").stdout)
    assert whole["next_after"] is None and whole["events_count"] == len(whole["events"]) > 5
    seen: list[str] = []
    after: list[str] = []
    for _ in range(10):
        page = json.loads(cli("show", package_id, "--json", "--limit", str(limit), *after).stdout)
        assert page["files_count"] == 5 and page["bytes"] == whole["bytes"] and len(page["files"]) <= limit
        assert page["events_count"] == whole["events_count"] and len(page["events"]) == limit
        seen += [f["path"] for f in page["files"]]
        if page["next_after"] is None:
            break
        assert page["next_after"] == seen[-1]
        after = ["--after", page["next_after"]]
    assert seen == [f["path"] for f in whole["files"]] == sorted(seen)
    human = cli("show", package_id, "--limit", str(limit))
    assert human.exit_code == 0 and (("next page: archive show" in human.output) == (limit < 5))


def test_an_event_of_every_file_lists_a_page_of_them_and_counts_them_all(cli, tmp_path: Path, monkeypatch) -> None:
    """An ingest's digest event concerns every file of the package (a million paths in a big one):
    ``show`` and the API's event pages list the first objects and say how many there are."""
    from archive.catalog import retrieval

    monkeypatch.setattr(retrieval, "EVENT_OBJECTS_SHOWN", 2)
    sub = fixture(tmp_path, "examples/heritage-harbour-photographs")
    package_id = UUID.search(cli("ingest", str(sub), "--profile", "heritage").stdout).group(0)
    shown = json.loads(cli("show", package_id, "--json").stdout)
    digest = next(e for e in shown["events"] if e["type"] == "message digest calculation")
    assert digest["objects_count"] == 5 and digest["objects"] == [f["path"] for f in shown["files"]][:2]
    assert all(len(e["objects"]) == min(2, e["objects_count"]) for e in shown["events"])


def test_rejected_submission_is_exit_1_with_every_finding_in_json(cli, tmp_path: Path) -> None:
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    meta = sub / "metadata.yaml"
    meta.write_text(meta.read_text() + "\ncolour: blue\ntype: Painting\n")
    result = cli("ingest", str(sub), "--profile", "heritage", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    error = data["error"]
    assert data["ok"] is False and error["code"] == "E111" and error["type"] == "SubmissionRejected"
    assert error["status"] == 422 and {f["code"] for f in error["findings"]} >= {"E401", "E405"}
    human = cli("ingest", str(sub), "--profile", "heritage")
    assert human.exit_code == 1
    assert "colour" in human.stderr and "Painting" in human.stderr and "nothing was written" in human.stderr
    assert json.loads(cli("list", "--json").stdout)["count"] == 0


def test_validate_command(cli, tmp_path: Path) -> None:
    sub = fixture(tmp_path, "examples/heritage-harbour-photographs")
    result = cli("validate", str(sub), "--profile", "heritage", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] and data["files"] == 5 and [f["code"] for f in data["findings"]] == ["W202"]
    assert not (tmp_path / "home").exists()  # validate writes nothing, not even a new archive
    assert cli("validate", str(sub), "--profile", "legal").exit_code == 1
    assert not (tmp_path / "home").exists()


def test_unknown_profile_and_unknown_package(cli, tmp_path: Path) -> None:
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    result = cli("ingest", str(sub), "--profile", "nope", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "E100"
    assert cli("show", "00000000-0000-4000-8000-000000000000").exit_code == 1
    bad = cli("show", "../../etc/passwd", "--json")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["ok"] is False


def test_bag_validate_exit_codes(cli, tmp_path: Path) -> None:
    good = tmp_path / "bag"
    shutil.copytree(REPO / "tests/data/submissions/research-bag", good)
    assert cli("bag", "validate", str(good)).exit_code == 0
    assert json.loads(cli("bag", "validate", str(good), "--fast", "--json").stdout)["valid"] is True
    next(good.glob("data/*.csv")).write_text("tampered")
    result = cli("bag", "validate", str(good), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["valid"] is False


def test_profiles_commands(cli) -> None:
    names = [p["id"] for p in json.loads(cli("profiles", "list", "--json").stdout)["profiles"]]
    assert names == ["base", "heritage", "legal", "research"]
    shown = json.loads(cli("profiles", "show", "legal", "--json").stdout)
    assert shown["fields"]["matter_reference"]["required"] is True
    doc = json.loads(cli("profiles", "export", "heritage", "--format", "bagit-profile").stdout)
    assert doc["BagIt-Profile-Info"]["BagIt-Profile-Version"] == "1.3.0"
    assert doc["Manifests-Required"] == ["sha256", "sha512"]
    assert doc["Bag-Info"]["Source-Organization"]["values"] == ["Test Museum"]
    assert cli("profiles", "show", "../base").exit_code == 1


def test_storage_unreachable_is_exit_3(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = tmp_path / "s.yaml"
    settings.write_text(f"home: {tmp_path / 'home'}\nstorage: {blocker / 'storage'}\nworkers: 1\n")
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    result = CliRunner().invoke(main, ["--config", str(settings), "ingest", str(sub), "--profile", "heritage"])
    assert result.exit_code == 3, result.output
    assert "not writable" in result.stderr


def test_bad_settings_is_exit_2(tmp_path: Path) -> None:
    settings = tmp_path / "s.yaml"
    settings.write_text("colour: blue\n")
    result = CliRunner().invoke(main, ["--config", str(settings), "list"])
    assert result.exit_code == 2 and "unknown setting 'colour'" in result.stderr


def test_square_brackets_in_user_data_are_printed_as_written(cli, tmp_path: Path) -> None:
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    meta = sub / "metadata.yaml"
    text = meta.read_text()
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    meta.write_text(text.replace(title, "title: Letter [draft] [bold]x[/bold]"))
    result = cli("ingest", str(sub), "--profile", "heritage")
    package_id = result.stdout.strip()
    assert "Letter [draft] [bold]x[/bold]" in cli("show", package_id).output
    assert "[a-z]{2,3}" in cli("profiles", "show", "base").output


# -- which archive: only ingest creates one; the others refuse a home that holds none ----------

NO_PACKAGE = "00000000-0000-4000-8000-000000000000"
NEEDS_AN_ARCHIVE = [
    ["list"],
    ["show", NO_PACKAGE],
    ["export", NO_PACKAGE, "OUT"],
    ["audit", "report"],
    ["audit", "--all"],
    ["audit", "--due"],
    ["audit", NO_PACKAGE],
    ["repair", NO_PACKAGE],
    ["scheduler", "--once"],
    ["ledger", "verify"],
    ["ledger", "head"],
    ["tokens", "list"],
    ["tokens", "create", "--name", "x", "--role", "researcher"],
    ["tokens", "revoke", "abc"],
    ["serve"],
    ["doctor"],
    ["reindex"],
]


@pytest.mark.parametrize("args", NEEDS_AN_ARCHIVE, ids=" ".join)
def test_commands_refuse_a_home_without_an_archive_and_create_nothing(tmp_path: Path, args: list[str]) -> None:
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    missing, empty = tmp_path / "missing", tmp_path / "empty"
    empty.mkdir()
    rebuilds = args[0] in ("doctor", "reindex")  # they may rebuild a lost catalog: storage is enough for them
    for home, problem in (
        (missing, "the folder does not exist"),
        (empty, "it holds neither a catalog" if rebuilds else "it holds no catalog"),
    ):
        result = CliRunner().invoke(main, ["--home", str(home), *args])
        assert result.exit_code == 2, result.output
        assert f"no archive at {home} (home from the --home option): {problem}" in result.stderr
        assert "ARCHIVE_HOME" in result.stderr and "`archive ingest` creates a new one" in result.stderr
    assert not missing.exists() and list(empty.iterdir()) == [] and not (tmp_path / "out").exists()


def test_without_any_home_the_current_folders_var_is_named_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 2
    assert (
        f"no archive at {tmp_path.resolve() / 'var'} (home from the default ./var of the current folder)"
        in result.stderr
    )
    assert "nothing chose a home" in result.stderr
    data = json.loads(CliRunner().invoke(main, ["list", "--json"]).stdout)
    error = {"code": "E007", "type": "ArchiveNotFound", "status": 500, "message": data["error"]["message"]}
    assert data == {"ok": False, "error": error}
    assert not (tmp_path / "var").exists()
    assert CliRunner().invoke(main, ["profiles", "list"]).exit_code == 0  # needs no archive
    assert not (tmp_path / "var").exists()


def test_ingest_creates_the_archive_and_says_where(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"ARCHIVE_HOME": str(home), "ARCHIVE_WORKERS": "1"}
    runner = CliRunner()
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    first = runner.invoke(main, ["ingest", str(sub), "-p", "heritage"], env=env)
    assert first.exit_code == 0, first.output
    assert f"Created a new archive at {home} (home from ARCHIVE_HOME)" in first.stderr
    assert UUID.fullmatch(first.stdout.strip())
    again = runner.invoke(main, ["ingest", str(sub), "-p", "heritage"], env=env)
    assert f"archive home: {home} (home from ARCHIVE_HOME)" in again.stderr and "Created" not in again.stderr
    quiet = runner.invoke(main, ["ingest", str(sub), "-p", "heritage", "--json"], env=env)
    assert json.loads(quiet.output)["ok"] is True  # --json: nothing but the JSON, stderr included
    assert runner.invoke(main, ["list", "--json"], env=env).exit_code == 0
    doctor = runner.invoke(main, ["doctor"], env=env)
    assert doctor.exit_code == 0 and f"archive home: {home}" in doctor.stderr


def test_rejected_first_ingest_creates_an_empty_archive_and_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    (sub / "metadata.yaml").write_text("title: only a title\n")
    result = CliRunner().invoke(main, ["--home", str(home), "ingest", str(sub), "-p", "heritage"])
    assert result.exit_code == 1 and f"Created a new archive at {home}" in result.stderr
    listing = CliRunner().invoke(main, ["--home", str(home), "list", "--json"])
    assert listing.exit_code == 0 and json.loads(listing.stdout)["count"] == 0


def test_audit_names_the_archive_it_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    run = CliRunner().invoke
    pid = run(main, ["--home", str(home), "ingest", str(sub), "-p", "heritage"]).stdout.strip()
    clean = run(main, ["--home", str(home), "audit", "--all"])
    assert clean.exit_code == 0 and clean.output == ""  # silent when clean, not on a terminal (cron)
    assert json.loads(run(main, ["--home", str(home), "audit", "--all", "--json"]).stdout)["home"] == str(home)
    next((object_folder(home / "storage", pid) / "v1" / "content" / "data").rglob("*.*")).write_bytes(b"changed")
    failed = run(main, ["--home", str(home), "audit", pid])
    assert failed.exit_code == 1 and f"of the archive at {home}:" in failed.stdout


# -- the fixity interval is the catalog's, recorded at ingest, never a silent 90 days ------------

MUSEUM = 'id: museum\nversion: "1.0.0"\nextends: heritage\ntitle: Museum objects\nfixity_interval_days: 7\n'


@pytest.fixture
def two_shells(tmp_path: Path):
    """Settings of the archivist's shell (the museum profile's folder configured) and of cron's (not)."""
    (tmp_path / "museum-profiles").mkdir()
    (tmp_path / "museum-profiles" / "museum.yaml").write_text(MUSEUM)
    common = f"home: {tmp_path / 'home'}\nworkers: 1\n"
    archivist, cron = tmp_path / "archivist.yaml", tmp_path / "cron.yaml"
    archivist.write_text(common + f"profiles_dirs: ['{tmp_path / 'museum-profiles'}']\n")
    cron.write_text(common)
    runner = CliRunner()

    def run(settings: Path, *args: str):
        return runner.invoke(main, ["--config", str(settings), *args], catch_exceptions=False)

    return archivist, cron, run


def _catalog(tmp_path: Path, sql: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(tmp_path / "home" / "catalog.sqlite3") as db:
        return db.execute(sql).fetchall()


def _context(settings: Path):
    from archive.config import load_settings
    from archive.services.context import ArchiveContext

    return ArchiveContext(load_settings(settings, env={}))


def test_audit_uses_the_interval_recorded_at_ingest_without_the_profile(tmp_path: Path, two_shells) -> None:
    from datetime import timedelta

    from archive.model import utcnow
    from archive.services.audit.run import AuditOptions, run_audit

    archivist, cron, run = two_shells
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    assert run(cron, "ingest", str(sub), "-p", "museum").exit_code == 1  # cron's shell does not know it
    stored = run(archivist, "ingest", str(sub), "-p", "museum")
    assert stored.exit_code == 0, stored.output
    assert _catalog(tmp_path, "SELECT profile_id, fixity_interval_days FROM packages") == [("museum", 7)]

    report = run(cron, "audit", "report", "--json")
    assert report.exit_code == 0, report.output
    assert [(p["profile"], p["interval_days"]) for p in json.loads(report.stdout)["profiles"]] == [("museum", 7)]
    with _context(cron) as ctx:  # due after 7 days, not after a fallback of 90
        assert run_audit(ctx, AuditOptions(due=True), now=utcnow() + timedelta(days=5)).packages == 0
        assert run_audit(ctx, AuditOptions(due=True), now=utcnow() + timedelta(days=10)).packages == 1


def test_an_unknown_interval_is_refused_never_taken_as_90_days(tmp_path: Path, two_shells) -> None:
    archivist, cron, run = two_shells
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    assert run(archivist, "ingest", str(sub), "-p", "museum").exit_code == 0
    _catalog(tmp_path, "UPDATE packages SET fixity_interval_days = NULL")  # catalogued before intervals were

    for args in (["audit", "--due"], ["audit", "report"], ["audit", "report", "--since", "2020-01-01"]):
        refused = run(cron, *args)
        assert refused.exit_code == 2, refused.output
        assert "'museum'" in refused.stderr and "profiles_dirs" in refused.stderr
        assert "90" not in refused.stderr
    assert _catalog(tmp_path, "SELECT count(*) FROM audit_runs") == [(0,)]  # refused before a run began
    assert run(cron, "audit", "--all").exit_code == 0  # needs no interval

    assert run(archivist, "audit", "--due").exit_code == 0  # finds the profile: records its interval
    assert _catalog(tmp_path, "SELECT fixity_interval_days FROM packages") == [(7,)]
    report = json.loads(run(cron, "audit", "report", "--json").stdout)
    assert report["profiles"][0]["interval_days"] == 7


def test_reindex_restores_the_interval_from_the_ledger_else_the_profile(
    tmp_path: Path, two_shells, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.services import ledgering

    archivist, cron, run = two_shells
    first = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    assert run(archivist, "ingest", str(first), "-p", "museum").exit_code == 0
    rebuilt = run(cron, "reindex", "--force", "--json")  # the ledger recorded it: no profile needed
    assert rebuilt.exit_code == 0 and json.loads(rebuilt.stdout)["ok"], rebuilt.output
    assert _catalog(tmp_path, "SELECT fixity_interval_days FROM packages") == [(7,)]

    original = ledgering.package_item

    def as_before(pkg, tag_digests):  # a ledger entry written before intervals were recorded
        kind, body = original(pkg, tag_digests)
        body.pop("fixity_interval_days", None)
        return kind, body

    second = tmp_path / "second"
    shutil.copytree(first, second)
    meta = second / "metadata.yaml"
    title = next(line for line in meta.read_text().splitlines() if line.startswith("title:"))
    meta.write_text(meta.read_text().replace(title, "title: Another letter"))
    monkeypatch.setattr(ledgering, "package_item", as_before)
    museum = run(archivist, "ingest", str(second), "-p", "museum").stdout.strip()
    assert UUID.fullmatch(museum)
    assert (
        run(
            archivist, "ingest", str(fixture(tmp_path, "tests/data/submissions/legal-minimal")), "-p", "legal"
        ).exit_code
        == 0
    )
    monkeypatch.undo()

    rebuilt = run(archivist, "reindex", "--force", "--json")  # else from the profile the METS names
    assert rebuilt.exit_code == 0, rebuilt.output
    rows = "SELECT profile_id, fixity_interval_days FROM packages ORDER BY profile_id, fixity_interval_days"
    assert _catalog(tmp_path, rows) == [("legal", 30), ("museum", 7), ("museum", 7)]

    unknown = run(cron, "reindex", "--force", "--json")  # neither: reported, left unknown
    assert unknown.exit_code == 1
    (problem,) = json.loads(unknown.stdout)["problems"]
    assert problem["package"] == museum and "fixity interval is unknown" in problem["message"]
    assert "'museum'" in problem["message"] and "profiles_dirs" in problem["message"]
    assert _catalog(tmp_path, f"SELECT fixity_interval_days FROM packages WHERE id = '{museum}'") == [(None,)]
    report = json.loads(run(cron, "audit", "report", "--json").stdout)  # the other museum package recorded 7
    assert {p["profile"]: p["interval_days"] for p in report["profiles"]} == {"legal": 30, "museum": 7}


def test_catalog_migration_adds_the_interval_column(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from archive.catalog import Catalog
    from archive.catalog.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        command.upgrade(cfg, "0002")
    assert "fixity_interval_days" not in {c["name"] for c in inspect(engine).get_columns("packages")}
    engine.dispose()
    Catalog(url).close()  # opening migrates
    engine = create_engine(url)
    assert "fixity_interval_days" in {c["name"] for c in inspect(engine).get_columns("packages")}
    engine.dispose()


def test_names_and_values_are_printed_literally_never_as_emoji(tmp_path: Path) -> None:
    """rich turns ``:x:`` into an emoji by default: a file name or value must come out as it is."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "metadata.yaml").write_text("title: 'Report :x: :smile: [bold]draft[/bold]'\n", encoding="utf-8")
    (sub / "a:x:b.txt").write_text("plain text\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(sub), "--profile", "base"])
    assert "a:x:b.txt" in result.output, result.output
    assert "\u274c" not in result.output and "\U0001f604" not in result.output

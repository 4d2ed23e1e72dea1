"""The archive command: exit statuses scripts can act on, --json shapes, human output."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import main

REPO = Path(__file__).resolve().parent.parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def cli(tmp_path: Path):
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"home: {tmp_path / 'home'}\nworkers: 1\norganisation: Test Museum\n")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, ["--config", str(settings), *args], catch_exceptions=False)

    return run


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


def test_rejected_submission_is_exit_1_with_every_finding_in_json(cli, tmp_path: Path) -> None:
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    meta = sub / "metadata.yaml"
    meta.write_text(meta.read_text() + "\ncolour: blue\ntype: Painting\n")
    result = cli("ingest", str(sub), "--profile", "heritage", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["code"] == "E111" and data["error"] == "SubmissionRejected"
    assert {f["code"] for f in data["findings"]} >= {"E401", "E405"}
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
    assert json.loads(cli("list", "--json").stdout)["count"] == 0
    assert cli("validate", str(sub), "--profile", "legal").exit_code == 1


def test_unknown_profile_and_unknown_package(cli, tmp_path: Path) -> None:
    sub = fixture(tmp_path, "tests/data/submissions/heritage-minimal")
    result = cli("ingest", str(sub), "--profile", "nope", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["code"] == "E100"
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

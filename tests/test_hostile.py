"""The hostile submissions corpus (tests/data/hostile/, see its README.md) through the real CLI.

Every case under ``hostile/`` must be rejected: exit status 1, its code among the findings,
a message for each, and nothing written anywhere (no package, no staging leftovers, no
catalog row, nothing beside the submission). Every case under ``hostile/accepted/`` must be
stored with its warning, as a bag that bagit-python validates and a METS naming the right paths.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import bagit
import pytest
import yaml
from click.testing import CliRunner, Result

from archive.cli import main
from archive.config import load_settings
from archive.packaging.bag.check import validate_bag
from archive.packaging.mets.read import read_mets
from archive.services.context import ArchiveContext
from tests.conftest import nothing_stored
from tests.support.audit import OCFL_ROOT_FILES
from tests.support.hostile_cases import HOSTILE, Case, load_cases

REJECTED = load_cases()
ACCEPTED = load_cases("accepted")
CONTROL = {chr(c) for c in (*range(0x20), 0x7F)} - {"\n"}

#: settings every case runs with (a case's ``settings:`` override them)
BASE_SETTINGS: dict[str, Any] = {
    "storage": "storage",
    "workers": 1,
    "identify_engine": "fido",
    "max_metadata_bytes": 1024 * 1024,
    "max_expanded_bytes": 64 * 1024 * 1024,
    "max_files": 1000,
}


class Archive:
    """A fresh archive home, driven through ``archive.cli.main``."""

    def __init__(self, root: Path, settings: dict[str, Any]) -> None:
        self.home = root / "home"
        self.home.mkdir()
        self.config = root / "settings.yaml"
        self.config.write_text(yaml.safe_dump({**BASE_SETTINGS, **settings}))

    def run(self, args: list[str], as_json: bool = True) -> Result:
        env = {k: None for k in os.environ if k.startswith("ARCHIVE_")}  # no ARCHIVE_* from the caller
        argv = ["--config", str(self.config), "--home", str(self.home), *args, *(["--json"] if as_json else [])]
        return CliRunner().invoke(main, argv, env=env, catch_exceptions=False)

    def context(self) -> ArchiveContext:
        return ArchiveContext(load_settings(self.config, env={}, overrides={"home": str(self.home)}))


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime) of everything under ``root`` except ``skip``, never following links."""
    state = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        for name in [*dirs, *files]:
            st = os.lstat(os.path.join(folder, name))
            state[os.path.relpath(os.path.join(folder, name), root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


def assert_nothing_written(archive: Archive, before: dict[str, tuple[int, int, int]], root: Path, case: Case) -> None:
    with archive.context() as ctx:
        assert nothing_stored(ctx)
        storage = ctx.settings.storage
    written = (
        [p for p in storage.rglob("*") if not p.is_dir() and p.relative_to(storage).as_posix() not in OCFL_ROOT_FILES]
        if storage.exists()
        else []
    )
    assert written == [], f"files left in storage: {written}"
    assert snapshot(root, archive.home) == before, "something beside the archive home changed"
    for path in case.spec.get("must_not_exist", []):
        assert not os.path.lexists(path), path


def _params(cases: list[Case]) -> list[Any]:
    """One pytest parameter per case; ``known_bug:`` in case.yaml makes it a strict xfail."""
    return [
        pytest.param(
            c,
            id=c.name,
            marks=[pytest.mark.xfail(strict=True, reason=c.spec["known_bug"])] if c.spec.get("known_bug") else [],
        )
        for c in cases
    ]


def _build(case: Case, tmp_path: Path) -> tuple[Path, Path]:
    if case.requires_root and os.geteuid() != 0:
        pytest.skip("needs root to create the file")
    build_dir = tmp_path / "build"
    try:
        return case.build(build_dir), build_dir
    except PermissionError as exc:
        pytest.skip(f"cannot build on this machine: {exc}")


def test_the_corpus_is_big_enough_and_named_by_code() -> None:
    assert len(REJECTED) >= 25 and len(ACCEPTED) >= 4
    for case in REJECTED:
        assert case.name.startswith(case.expect + "_") and case.expect.startswith("E"), case.name
        assert case.description.strip()
    for case in ACCEPTED:
        assert case.name.startswith(case.expect + "_"), case.name
    readme = (HOSTILE / "README.md").read_text(encoding="utf-8")
    for case in REJECTED:
        assert f"| `{case.name}` |" in readme, f"{case.name} is not listed in tests/data/hostile/README.md"
    for case in ACCEPTED:
        assert f"| `accepted/{case.name}` |" in readme, f"{case.name} is not listed in tests/data/hostile/README.md"


@pytest.mark.parametrize("case", _params(REJECTED))
def test_hostile_submission_is_rejected_and_nothing_written(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    submission, build_dir = _build(case, tmp_path)
    archive = Archive(tmp_path, case.settings)
    before = snapshot(tmp_path, archive.home)

    result = archive.run(case.cli_args(submission, build_dir))
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    data = document["error"]
    assert document["ok"] is False and data["message"], document
    errors = [f for f in data.get("findings", []) if f["severity"] == "error"]
    assert case.expect in {data["code"], *(f["code"] for f in errors)}, data
    assert all(f["message"].strip() for f in data.get("findings", [])), data
    assert_nothing_written(archive, before, tmp_path, case)

    shown = archive.run(case.cli_args(submission, build_dir), as_json=False)  # what a person reads
    assert shown.exit_code == 1 and case.expect in shown.output, shown.output
    assert not CONTROL & set(shown.output), f"control characters reach the terminal: {shown.output!r}"
    assert_nothing_written(archive, before, tmp_path, case)


@pytest.mark.parametrize("case", _params(ACCEPTED))
def test_awkward_but_acceptable_submission_is_stored_faithfully(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    submission, build_dir = _build(case, tmp_path)
    archive = Archive(tmp_path, case.settings)

    result = archive.run(case.cli_args(submission, build_dir))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    warnings = {w["code"] for w in data["warnings"]}
    if case.expect != "OK":
        assert case.expect in warnings, data["warnings"]
    assert not {c for c in warnings if c.startswith("W1")} - {case.expect}, data["warnings"]

    with archive.context() as ctx:
        stored = ctx.storage.original_bag(data["id"])
        report = validate_bag(stored)  # the archive's own validator, in full
        assert report.valid, report.errors
        bagit.Bag(str(stored)).validate()  # an independent implementation reads our manifests
        from_mets = read_mets(stored / "mets.xml")
        from_catalog = ctx.catalog.get_package(data["id"])
    expected_paths = sorted(case.spec["paths"])
    assert sorted(f.path for f in from_mets.files) == expected_paths
    assert sorted(f.path for f in from_catalog.files) == expected_paths
    for rel in expected_paths:
        source = submission / ("data" if (submission / "bagit.txt").is_file() else "") / rel
        assert (stored / "data" / rel).read_bytes() == source.read_bytes(), rel  # stored byte-exact
    marker = case.spec.get("never_stored")
    if marker:
        for path in stored.rglob("*"):
            assert not path.is_file() or marker.encode() not in path.read_bytes(), path


def test_declared_size_stops_a_zip_bomb_before_anything_is_extracted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.submission import extract

    def never(*args: object) -> None:
        raise AssertionError("extraction started")

    monkeypatch.setattr(extract, "_copy_bounded", never)
    monkeypatch.chdir(tmp_path)
    for name in ("E125_zip_bomb_declared_size", "E125_targz_bomb_declared_size"):
        case = next(c for c in REJECTED if c.name == name)
        submission = case.build(tmp_path / name)
        assert submission.stat().st_size < 8 * 1024 * 1024  # a few MB that declare gigabytes
        archive = Archive(tmp_path / name, case.settings)
        tracemalloc.start()
        try:
            result = archive.run(case.cli_args(submission, tmp_path))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.exit_code == 1 and '"E125"' in result.stdout, result.stdout
        assert peak < 64 * 1024 * 1024, f"{name}: {peak} bytes of memory"


def test_oversized_metadata_is_refused_by_its_size_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    case = next(c for c in REJECTED if c.name == "E410_metadata_too_large")
    submission = case.build(tmp_path / "build")
    assert (submission / "metadata.yaml").stat().st_size > case.settings["max_metadata_bytes"] > 100_000_000
    archive = Archive(tmp_path, case.settings)
    tracemalloc.start()
    try:
        result = archive.run(case.cli_args(submission, tmp_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 1 and '"E410"' in result.stdout
    assert peak < 32 * 1024 * 1024, f"{peak} bytes of memory for a metadata file refused by size"

"""Settings: defaults, YAML file, environment overrides, clear errors, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.config import SETTINGS, Setting, load_settings
from archive.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_defaults_use_sqlite_and_local_storage_under_home(tmp_path: Path) -> None:
    s = load_settings(env={"ARCHIVE_HOME": str(tmp_path)})
    assert s.home == tmp_path.resolve()
    assert s.storage == tmp_path.resolve() / "storage"
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'catalog.sqlite3'}"
    assert s.identify_engine == "fido"


def test_file_then_environment_override(tmp_path: Path) -> None:
    cfg = tmp_path / "a.yaml"
    cfg.write_text(f"home: {tmp_path}\norganisation: Harbour Museum\nworkers: 3\nreplicas: [/mnt/copy]\n")
    s = load_settings(cfg, env={"ARCHIVE_WORKERS": "1", "ARCHIVE_DATABASE_URL": "postgresql://db/archive"})
    assert s.organisation == "Harbour Museum"
    assert s.workers == 1
    assert s.database_url == "postgresql://db/archive"
    assert s.replicas == (Path("/mnt/copy"),)
    assert s.source == str(cfg)


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour: blue\n", "unknown setting 'colour'"),
        ("workers: many\n", "setting 'workers'"),
        ("identify_engine: droid\n", "fido or siegfried"),
        ("[1, 2]\n", "must be a mapping"),
        ("home: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_settings_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "a.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, env={})


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ARCHIVE_VERIFY_AFTER_STORE"):
        load_settings(env={"ARCHIVE_VERIFY_AFTER_STORE": "perhaps"})


def test_example_settings_file_loads_and_documents_every_setting() -> None:
    example = REPO / "config" / "archive.yaml"
    load_settings(example, env={})
    text = example.read_text()
    docs = (REPO / "docs" / "configuration.md").read_text()
    for s in SETTINGS:
        assert s.name in text, f"setting {s.name} missing from config/archive.yaml"
        assert f"`{s.name}`" in docs, f"setting {s.name} missing from docs/configuration.md"


# -- where the archive is: home and where it came from ----------------------------------------


def test_home_source_names_what_chose_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.config import DEFAULT_HOME_SOURCE

    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert s.home == tmp_path.resolve() / "var" and s.home_source == DEFAULT_HOME_SOURCE
    assert "./var" in s.home_source
    cfg = tmp_path / "a.yaml"
    cfg.write_text(f"home: {tmp_path / 'from-file'}\n")
    s = load_settings(cfg, env={})
    assert s.home == tmp_path.resolve() / "from-file" and s.home_source == f"settings file {cfg}"
    s = load_settings(cfg, env={"ARCHIVE_HOME": str(tmp_path / "from-env")})
    assert s.home == tmp_path.resolve() / "from-env" and s.home_source == "ARCHIVE_HOME"
    s = load_settings(cfg, env={"ARCHIVE_HOME": str(tmp_path / "from-env")}, overrides={"home": str(tmp_path / "x")})
    assert s.home == tmp_path.resolve() / "x" and s.home_source == "the --home option"
    other = tmp_path / "b.yaml"
    other.write_text("workers: 2\n")  # a settings file without home: still the default
    assert load_settings(other, env={}).home_source == DEFAULT_HOME_SOURCE


def test_given_environment_is_the_only_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_settings(env=...) ignores the process's ARCHIVE_HOME (tests and the API pass their own)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "leaked"))
    assert load_settings(env={}).home == tmp_path.resolve() / "var"
    assert load_settings().home == tmp_path.resolve() / "leaked"  # env=None: the process's environment


def test_relative_home_is_resolved_against_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={"ARCHIVE_HOME": "archives/main", "ARCHIVE_PROFILES_DIRS": "profiles"})
    assert s.home == tmp_path.resolve() / "archives" / "main"
    assert s.profiles_dirs == (s.home / "profiles",)  # other relative paths: against home


def test_profile_folders_are_the_configured_ones_then_the_bundled_ones(tmp_path: Path) -> None:
    from archive.profiles import BUNDLED_PROFILES

    s = load_settings(
        env={"ARCHIVE_HOME": str(tmp_path), "ARCHIVE_PROFILES_DIRS": f"{tmp_path / 'a'}:{tmp_path / 'b'}"}
    )
    assert s.all_profile_dirs == (tmp_path / "a", tmp_path / "b", BUNDLED_PROFILES)
    assert BUNDLED_PROFILES == REPO / "archive" / "profiles" / "bundled" and (BUNDLED_PROFILES / "base.yaml").is_file()


def test_adapter_limits_default_to_the_settings_defaults() -> None:
    """Called without settings (``archive bag validate``, a library user), scan, extraction and bag
    reading apply the same depth and path limits as the settings' defaults."""
    from archive.config import SETTINGS
    from archive.packaging.bag import read as bagread
    from archive.submission import members, scan

    defaults = {s.name: s.default for s in SETTINGS}
    assert scan.MAX_DEPTH == bagread.DEFAULT_MAX_DEPTH == members.Limits(1, 1).max_depth == defaults["max_depth"]
    assert scan.MAX_PATH_BYTES == members.Limits(1, 1).max_path_bytes == defaults["max_path_bytes"]


# -- declared once: the fields of Settings; the docs' table and the environment follow ---------


def _row(s: Setting) -> str:
    shown = s.shown or ("(empty)" if s.default == "" else "[]" if s.default == () else str(s.default))
    return f"| `{s.name}` | {s.kind} | {shown} | `{s.env}` | {s.help} |"


def test_every_setting_is_a_field_of_settings_with_its_default() -> None:
    import dataclasses

    from archive.config import Settings

    declared = [f.name for f in dataclasses.fields(Settings) if "kind" in f.metadata]
    assert [s.name for s in SETTINGS] == declared and len(declared) == 38
    plain = Settings()  # every setting has its default where it is declared
    for s in SETTINGS:
        if not callable(s.default):
            assert getattr(plain, s.name) == s.default, s.name


def test_docs_settings_table_is_the_declaration() -> None:
    """docs/configuration.md's table, row by row, is what SETTINGS declares (regenerate it with
    ``python -c 'from tests.test_config import table; print(table())'``)."""
    docs = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = [line for line in docs.splitlines() if re.match(r"\| `[a-z0-9_]+` \|", line)]
    assert rows == table().splitlines()


def table() -> str:
    return "\n".join(_row(s) for s in SETTINGS)


def test_unknown_archive_environment_variable_is_an_error_like_an_unknown_file_key() -> None:
    colour, worker, nope = ("ARCHIVE_" + name for name in ("COLOUR", "WORKER", "NOPE"))  # not grepped below
    with pytest.raises(ConfigError, match=rf"environment variable {colour}: unknown setting 'colour'; known: home"):
        load_settings(env={colour: "blue"})
    with pytest.raises(ConfigError, match=f"{worker}:"):
        load_settings(env={worker: "2"})  # a misspelt setting is no longer silently ignored
    with pytest.raises(ConfigError, match=nope):
        load_settings(env={nope: ""})  # as an unknown key of the file, whatever its value


def test_archive_variables_that_are_not_settings_are_accepted(tmp_path: Path) -> None:
    from archive.config import NOT_SETTINGS

    cfg = tmp_path / "a.yaml"
    cfg.write_text("workers: 2\n")
    env = {**dict.fromkeys(NOT_SETTINGS, "1"), "ARCHIVE_CONFIG": str(cfg), "ARCHIVE_HOME": str(tmp_path)}
    s = load_settings(env=env)
    assert s.home == tmp_path.resolve() and s.workers == 2
    assert "ARCHIVE_HOME" not in NOT_SETTINGS and "ARCHIVE_PROFILES_DIRS" not in NOT_SETTINGS  # settings


def test_every_archive_variable_in_the_repository_is_a_setting_or_listed() -> None:
    """Each ARCHIVE_* name the code, tests, benchmarks, Makefile, CI and docs use is a setting's
    variable or one of NOT_SETTINGS (Python names like ARCHIVE_SUFFIXES, and prefixes, aside)."""
    from archive import faults
    from archive.config import NOT_SETTINGS

    files = [REPO / "Makefile", REPO / "README.md", *(REPO / ".ci").iterdir()]
    for folder, pattern in (("archive", "*.py"), ("tests", "*.py"), ("bench", "*.py"), ("docs", "*.md")):
        files += sorted((REPO / folder).rglob(pattern))
    text = "\n".join(p.read_text(encoding="utf-8") for p in files if p.is_file())
    python_names = set(re.findall(r"^\s*(ARCHIVE_[A-Z0-9_]+)\s*(?::[^=]*)?=", text, re.MULTILINE))
    used = set(re.findall(r"\bARCHIVE_[A-Z0-9_]*[A-Z0-9]\b", text)) - python_names
    assert python_names >= {"ARCHIVE_SUFFIXES"} and faults.ENV in NOT_SETTINGS
    unknown = used - {s.env for s in SETTINGS} - set(NOT_SETTINGS)
    assert not unknown, f"ARCHIVE_* variables that are neither settings nor in NOT_SETTINGS: {sorted(unknown)}"
    assert set(NOT_SETTINGS) <= used, f"NOT_SETTINGS names no longer used: {set(NOT_SETTINGS) - used}"


def test_object_replicas_are_s3_addresses_from_the_file_or_the_environment(tmp_path: Path) -> None:
    s = load_settings(env={"ARCHIVE_HOME": str(tmp_path), "ARCHIVE_OBJECT_REPLICAS": "s3://a/x, s3://b"})
    assert s.object_replicas == ("s3://a/x/", "s3://b/")
    for bad in ("/mnt/disk", "s3:///x", "http://a/x", "s3://a/x/../y", "s3://a/x?region=eu"):
        with pytest.raises(ConfigError, match="object_replicas"):
            load_settings(env={"ARCHIVE_HOME": str(tmp_path), "ARCHIVE_OBJECT_REPLICAS": bad})
    with pytest.raises(ConfigError, match="twice"):
        load_settings(env={"ARCHIVE_HOME": str(tmp_path), "ARCHIVE_OBJECT_REPLICAS": "s3://a/x s3://a/x/"})
    with pytest.raises(ConfigError, match="object_audit_tier"):
        load_settings(env={"ARCHIVE_HOME": str(tmp_path), "ARCHIVE_OBJECT_AUDIT_TIER": "quick"})


@given(st.text(max_size=40))
def test_an_object_storage_address_is_refused_or_read_back_the_same(text: str) -> None:
    from archive.storage.objects import Location

    try:
        location = Location.parse(text)
    except ValueError:
        return
    assert Location.parse(str(location)) == location
    assert location.bucket and "/" not in location.bucket
    assert location.prefix == "" or (location.prefix.endswith("/") and "//" not in location.prefix)

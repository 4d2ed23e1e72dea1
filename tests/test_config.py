"""Settings: defaults, YAML file, environment overrides, clear errors, every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.config import SETTINGS, load_settings
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


@pytest.mark.parametrize("text, message", [
    ("colour: blue\n", "unknown setting 'colour'"),
    ("workers: many\n", "setting 'workers'"),
    ("identify_engine: droid\n", "fido or siegfried"),
    ("[1, 2]\n", "must be a mapping"),
    ("home: [unclosed\n", "not valid YAML"),
])
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

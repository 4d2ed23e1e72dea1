"""Settings: one typed object, built at the edge (CLI, API factory) and passed in.

Every setting is declared once in :data:`SETTINGS` (name, type, default, help). Values come,
lowest precedence first, from the defaults, a YAML file (``--config`` or ``$ARCHIVE_CONFIG``,
else ``./config/archive.yaml`` when present), and ``ARCHIVE_<NAME>`` environment variables.
Relative paths are resolved against ``home``; ``home`` itself, when relative, against the
current folder. :attr:`Settings.home_source` says which of these chose the home, so commands
can tell the user which archive they are working on (``./var`` of the current folder is only
the last resort).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archive import safeyaml
from archive.errors import ConfigError

#: Settings.home_source when nothing chose the home: the folder ``var`` of the current folder
DEFAULT_HOME_SOURCE = "the default ./var of the current folder"


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # "str", "path", "paths", "int", "bool", "float"
    default: Callable[[], Any] | Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home", "path", Path("var"), "Folder holding the archive's state; other relative paths are resolved against it."
    ),
    Setting("database_url", "str", "", "SQLAlchemy URL of the catalog. Empty: sqlite:///<home>/catalog.sqlite3."),
    Setting("storage", "path", "storage", "Primary storage root, where packages are kept (write-once)."),
    Setting("replicas", "paths", (), "Further storage roots that receive a copy of every package."),
    Setting("profiles_dirs", "paths", (), "Extra folders searched for profile YAML files, before the bundled ones."),
    Setting(
        "organisation",
        "str",
        "Example Organisation",
        "Source-Organization written into every bag and the organisation agent in PREMIS.",
    ),
    Setting("agent", "str", _default_user, "The person recorded as submitting agent (overridden by --agent)."),
    Setting("identify_engine", "str", "fido", "Format identification engine: fido or siegfried."),
    Setting(
        "workers",
        "int",
        lambda: max(1, min(os.cpu_count() or 1, 4)),
        "Processes used for format identification and hashing.",
    ),
    Setting("verify_after_store", "bool", True, "Re-read every stored file and compare digests before cataloguing."),
    Setting(
        "max_metadata_bytes",
        "int",
        10 * 1024 * 1024,
        "Largest metadata.yaml/.json/files.csv accepted; also bounds a submitted bag's bag-info.txt, "
        "package-info.txt and fetch.txt.",
    ),
    Setting("max_expanded_bytes", "int", 64 * 1024**3, "Largest total size a .zip/.tar submission may expand to."),
    Setting("max_files", "int", 1_000_000, "Most files a submission may hold."),
    Setting(
        "max_expansion_ratio",
        "int",
        200,
        "Largest ratio of expanded size to compressed size a .zip/.tar.gz/.7z submission (or one member) "
        "may have; larger is refused as a compression bomb (0: no ratio limit, the total still applies).",
    ),
    Setting("max_depth", "int", 512, "Deepest folder nesting a submission may have (levels below its root)."),
    Setting("max_path_bytes", "int", 3072, "Longest path, in UTF-8 bytes, of a file inside a submission."),
    Setting(
        "api_anonymous",
        "bool",
        True,
        "Callers without a token may see open packages and embargoed packages' metadata (see docs/access.md).",
    ),
    Setting(
        "api_accel_redirect",
        "str",
        "",
        "nginx internal location (e.g. /_archive_storage/) mapped to the storage root: when set, the API "
        "authorises and records each file download and nginx sends the bytes (X-Accel-Redirect).",
    ),
    Setting("api_chunk_size", "int", 1024 * 1024, "Bytes read and sent per step when the API streams a file itself."),
    Setting(
        "api_verify_ttl",
        "int",
        86400,
        "Seconds a stored file, once verified against the catalog's digests, is served without re-hashing "
        "while its size, inode and change time stay the same (0: hash on every download).",
    ),
    Setting("audit_jobs", "int", 1, "Threads hashing in parallel during an audit (overridden by --jobs)."),
    Setting("audit_max_seconds", "int", 0, "Time budget of one scheduled audit run, in seconds (0: no limit)."),
    Setting("audit_max_bytes", "int", 0, "Bytes one scheduled audit window may read (0: no limit)."),
    Setting(
        "audit_window", "str", "", "Daily local time window for scheduled audits, e.g. 01:00-05:00 (empty: any time)."
    ),
    Setting("scheduler_poll_seconds", "int", 300, "How often the scheduler wakes to look for due audits."),
    Setting(
        "orphan_grace_seconds",
        "int",
        3600,
        "A package folder unknown to the catalog is reported as an orphan only when older than this.",
    ),
    Setting("notify_webhook", "str", "", "URL that receives a JSON POST with the findings of every failing audit run."),
    Setting(
        "notify_command",
        "str",
        "",
        "Shell command run once per failing audit run, the findings as JSON on its standard input.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    storage: Path
    replicas: tuple[Path, ...]
    profiles_dirs: tuple[Path, ...]
    organisation: str
    agent: str
    identify_engine: str
    workers: int
    verify_after_store: bool
    max_metadata_bytes: int
    max_expanded_bytes: int
    max_files: int
    max_expansion_ratio: int = 200
    max_depth: int = 512
    max_path_bytes: int = 3072
    api_anonymous: bool = True
    api_accel_redirect: str = ""
    api_chunk_size: int = 1024 * 1024
    api_verify_ttl: int = 86400
    audit_jobs: int = 1
    audit_max_seconds: int = 0
    audit_max_bytes: int = 0
    audit_window: str = ""
    scheduler_poll_seconds: int = 300
    orphan_grace_seconds: int = 3600
    notify_webhook: str = ""
    notify_command: str = ""
    source: str = field(default="defaults")
    #: what chose ``home``: "the --home option", "ARCHIVE_HOME", "settings file PATH" or DEFAULT_HOME_SOURCE
    home_source: str = DEFAULT_HOME_SOURCE

    @property
    def all_profile_dirs(self) -> tuple[Path, ...]:
        """``profiles_dirs`` in order, then the profiles bundled with the package."""
        from archive.profiles.bundled import BUNDLED_PROFILES  # a path only; keeps config standalone

        return (*self.profiles_dirs, BUNDLED_PROFILES)

    @property
    def storage_roots(self) -> tuple[Path, ...]:
        return (self.storage, *self.replicas)


def _convert(setting: Setting, value: Any, where: str) -> Any:
    try:
        if setting.kind == "str":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError("expected text")
            return str(value)
        if setting.kind == "path":
            if not isinstance(value, (str, Path)):
                raise ValueError("expected a path")
            return Path(value).expanduser()
        if setting.kind == "paths":
            if isinstance(value, str):
                value = [v for v in value.split(os.pathsep) if v]
            if not isinstance(value, (list, tuple)):
                raise ValueError("expected a list of paths")
            return tuple(Path(str(v)).expanduser() for v in value)
        if setting.kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            return int(value)
        if setting.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: setting {setting.name!r}: {exc} (got {value!r})") from exc
    raise ConfigError(f"setting {setting.name!r} has unknown kind {setting.kind}")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc.strerror}") from exc
    try:
        data = safeyaml.load(text)
    except (yaml.YAMLError, safeyaml.UnsafeYAML, ValueError) as exc:
        raise ConfigError(f"settings file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path} must be a mapping of setting names to values")
    return data


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from defaults, a YAML file, ``ARCHIVE_*`` variables and explicit overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        values[s.name] = s.default() if callable(s.default) else s.default
    source = "defaults"
    home_source = DEFAULT_HOME_SOURCE
    path = Path(config_file) if config_file else (Path(env["ARCHIVE_CONFIG"]) if env.get("ARCHIVE_CONFIG") else None)
    if path is None and Path("config/archive.yaml").is_file():
        path = Path("config/archive.yaml")
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"settings file {path} does not exist")
        data = _read_yaml(path)
        for key, value in data.items():
            if key not in _BY_NAME:
                raise ConfigError(f"settings file {path}: unknown setting {key!r}; known: {', '.join(_BY_NAME)}")
            values[key] = _convert(_BY_NAME[key], value, str(path))
        source = str(path)
        if "home" in data:
            home_source = f"settings file {path}"
    for s in SETTINGS:
        var = f"ARCHIVE_{s.name.upper()}"
        if var in env and env[var] != "":
            values[s.name] = _convert(s, env[var], f"environment variable {var}")
            if s.name == "home":
                home_source = var
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _convert(_BY_NAME[key], value, "command line")
            if key == "home":
                home_source = "the --home option"
    home = Path(values["home"]).expanduser()
    values["home"] = home.resolve()
    for key in ("storage",):
        p = Path(values[key])
        values[key] = (p if p.is_absolute() else home / p).resolve()
    for key in ("replicas", "profiles_dirs"):
        values[key] = tuple((p if p.is_absolute() else home / p).resolve() for p in values[key])
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{values['home'] / 'catalog.sqlite3'}"
    if values["identify_engine"] not in ("fido", "siegfried"):
        raise ConfigError(f"setting identify_engine must be fido or siegfried, got {values['identify_engine']!r}")
    for name, least in (("max_expansion_ratio", 0), ("max_depth", 1), ("max_path_bytes", 255)):
        if values[name] < least:
            raise ConfigError(f"setting {name} must be at least {least}")
    if values["workers"] < 1:
        raise ConfigError("setting workers must be at least 1")
    _check_audit_settings(values)
    accel = values["api_accel_redirect"]
    if accel and not (accel.startswith("/") and accel.endswith("/")):
        raise ConfigError(f"setting api_accel_redirect must be a location starting and ending with '/', got {accel!r}")
    if not 4096 <= values["api_chunk_size"] <= 64 * 1024 * 1024:
        raise ConfigError("setting api_chunk_size must be between 4096 and 67108864 bytes")
    if values["api_verify_ttl"] < 0:
        raise ConfigError("setting api_verify_ttl must be 0 or more seconds")
    return Settings(source=source, home_source=home_source, **values)


def _check_audit_settings(values: dict[str, Any]) -> None:
    if values["audit_jobs"] < 1:
        raise ConfigError("setting audit_jobs must be at least 1")
    for name in ("audit_max_seconds", "audit_max_bytes", "orphan_grace_seconds"):
        if values[name] < 0:
            raise ConfigError(f"setting {name} must be 0 or more")
    if values["scheduler_poll_seconds"] < 1:
        raise ConfigError("setting scheduler_poll_seconds must be at least 1")
    from archive.audit.window import parse_window  # a pure helper; imported here to keep config standalone

    parse_window(values["audit_window"])
    url = values["notify_webhook"]
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"setting notify_webhook must be an http:// or https:// URL, got {url!r}")

"""Settings: one typed object, built at the edge (CLI, API factory) and passed in.

Every setting is declared once, as a field of :class:`Settings` (type, kind, default, help);
:data:`SETTINGS` lists them from there. Values come, lowest precedence first, from the defaults,
a YAML file (``--config`` or ``$ARCHIVE_CONFIG``, else ``./config/archive.yaml`` when present),
``ARCHIVE_<NAME>`` environment variables and the command line. An unknown key of the file, or
an unknown ``ARCHIVE_*`` variable (other than :data:`NOT_SETTINGS`), is a ConfigError.
Relative paths are resolved against ``home``; ``home`` itself, when relative, against the
current folder. :attr:`Settings.home_source` says which of these chose the home, so commands
can tell the user which archive they are working on (``./var`` of the current folder is only
the last resort).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
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


_VAR, _STORAGE = Path("var"), Path("storage")


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class Setting:
    """One setting as :data:`SETTINGS` lists it, read from its field of :class:`Settings`."""

    name: str
    kind: str  # "str", "path", "paths", "urls", "int", "bool"
    default: Callable[[], Any] | Any  # a value, or a function computing it
    help: str  # Markdown, as the table of docs/configuration.md shows it
    shown: str = ""  # the default in words, when it is computed or depends on something

    @property
    def env(self) -> str:
        return f"ARCHIVE_{self.name.upper()}"


def setting(kind: str, default: Any, help: str, shown: str = "") -> Any:
    """Declare a field of :class:`Settings` as a setting (``default`` may be a function)."""
    meta = {"kind": kind, "help": help, "shown": shown}
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Every setting, declared once: its field's type, ``setting(kind, default, help)``."""

    home: Path = setting(  # noqa: RUF009 - setting() returns a dataclasses.field
        "path",
        _VAR,
        "Folder holding the archive's state; other relative paths are resolved against it (a relative "
        "`home`, against the current folder). See [where the archive is](#where-the-archive-is-home).",
        shown="$ARCHIVE_HOME, else ./var",
    )
    database_url: str = setting("str", "", "SQLAlchemy URL of the catalog. Empty: sqlite:///<home>/catalog.sqlite3.")
    storage: Path = setting("path", _STORAGE, "Primary storage root, where packages are kept (write-once).")  # noqa: RUF009
    replicas: tuple[Path, ...] = setting("paths", (), "Further storage roots that receive a copy of every package.")
    object_replicas: tuple[str, ...] = setting(
        "urls",
        (),
        "Storage roots in S3-compatible object storage (`s3://bucket/prefix`) that receive a copy of every "
        "package, audited like the others (see [object-storage.md](object-storage.md)); in an environment "
        "variable, separated by spaces or commas. Credentials come from the usual AWS variables or files.",
    )
    s3_endpoint_url: str = setting(
        "str", "", "Address of the S3-compatible server (e.g. `https://s3.example.org`); empty: AWS itself."
    )
    s3_region: str = setting("str", "", "Region of the object storage; empty: what the AWS configuration says.")
    s3_addressing_style: str = setting(
        "str",
        "auto",
        "`path` (bucket in the path: most S3-compatible servers), `virtual` (bucket in the host name) or `auto` "
        "(path with `s3_endpoint_url`, else virtual).",
    )
    object_audit_tier: str = setting(
        "str",
        "full",
        "How audits check copies in object storage: `full` reads every byte back as a stream; `cheap` compares "
        "each object's size and the SHA-256 the server computed when it accepted it (`archive audit --tier`).",
    )
    profiles_dirs: tuple[Path, ...] = setting(
        "paths",
        (),
        "Extra folders searched for profile YAML files, before the ones bundled with the package "
        "(`archive/profiles/bundled/`); for example the repository's [profiles/](../profiles/README.md) "
        "folder. Use absolute paths, and the same value in every shell, cron job and service of one "
        "archive.",
    )
    organisation: str = setting(
        "str",
        "Example Organisation",
        "Source-Organization written into every bag and the organisation agent in PREMIS.",
    )
    agent: str = setting(
        "str", _default_user, "The person recorded as submitting agent (overridden by --agent).", shown="the login name"
    )
    identify_engine: str = setting("str", "fido", "Format identification engine: fido or siegfried.")
    workers: int = setting(
        "int",
        _default_workers,
        "Processes used for format identification and hashing.",
        shown="number of cores, at most 4",
    )
    verify_after_store: bool = setting(
        "bool", True, "Re-read every stored file and compare digests before cataloguing."
    )
    max_metadata_bytes: int = setting(
        "int",
        10 * 1024 * 1024,
        "Largest metadata.yaml/.json/files.csv accepted; also bounds a submitted bag's bag-info.txt, "
        "package-info.txt and fetch.txt.",
    )
    max_expanded_bytes: int = setting("int", 64 * 1024**3, "Largest total size a .zip/.tar submission may expand to.")
    max_files: int = setting("int", 1_000_000, "Most files a submission may hold.")
    max_expansion_ratio: int = setting(
        "int",
        200,
        "Largest ratio of expanded size to compressed size a .zip/.tar.gz/.7z submission (or one member) "
        "may have; larger is refused as a compression bomb (0: no ratio limit, the total still applies).",
    )
    max_depth: int = setting("int", 512, "Deepest folder nesting a submission may have (levels below its root).")
    max_path_bytes: int = setting("int", 3072, "Longest path, in UTF-8 bytes, of a file inside a submission.")
    api_anonymous: bool = setting(
        "bool",
        True,
        "Callers without a token may see open packages and embargoed packages' metadata (see "
        "[access.md](access.md)); false: every package route needs a token.",
    )
    api_accel_redirect: str = setting(
        "str",
        "",
        "nginx internal location (e.g. `/_archive_storage/`) mapped to the storage root: the API "
        "authorises and records each file download and nginx sends the bytes (`X-Accel-Redirect`, see "
        "[nginx.md](nginx.md)). Empty: the API sends the bytes itself.",
    )
    api_object_redirect: str = setting(
        "str",
        "",
        "A copy in object storage (`object1`, `object2`, ... in the order of `object_replicas`) that sends "
        "file downloads: the API authorises and records each, checks the object's size and SHA-256 with "
        "the server, and answers `307` with a presigned link ([object-storage.md](object-storage.md)). "
        "Empty: the API (or nginx) sends the bytes.",
    )
    api_presign_seconds: int = setting(
        "int", 300, "How long a presigned download link of `api_object_redirect` stays valid (1 s to 7 days)."
    )
    api_chunk_size: int = setting(
        "int",
        1024 * 1024,
        "Bytes read and sent per step when the API streams a file or a zip itself (4 KiB to 64 MiB).",
    )
    api_verify_ttl: int = setting(
        "int",
        86400,
        "Seconds a stored file, once verified against the catalog's digests, is served without re-hashing"
        " while its size, inode and change time stay the same; 0 hashes on every download (see "
        "[decisions/0003-api-verify-on-serve.md](decisions/0003-api-verify-on-serve.md)).",
    )
    audit_jobs: int = setting(
        "int",
        1,
        "Threads hashing in parallel during an audit (`archive audit --jobs N` overrides). On a single "
        "spinning disk keep 1.",
    )
    audit_max_seconds: int = setting(
        "int",
        0,
        "Time budget of one scheduled audit run, in seconds; the run stops between files and the next "
        "resumes there (0: no limit).",
    )
    audit_max_bytes: int = setting("int", 0, "Bytes the scheduler may read in one audit window (0: no limit).")
    audit_window: str = setting(
        "str",
        "",
        "Daily local time window for `archive scheduler`, e.g. `01:00-05:00` (may cross midnight); empty: any time.",
    )
    scheduler_poll_seconds: int = setting("int", 300, "How often `archive scheduler` wakes to look for due audits.")
    orphan_grace_seconds: int = setting(
        "int",
        3600,
        "A package folder in storage that the catalog does not know is reported (E607) only when older "
        "than this, so an ingest in progress is not mistaken for one.",
    )
    notify_webhook: str = setting(
        "str",
        "",
        "URL that receives a JSON `POST` with the findings of every failing audit run (never for clean "
        "runs); see [operations.md](operations.md).",
    )
    notify_command: str = setting(
        "str", "", "Shell command run once per failing audit run, with the findings as JSON on its standard input."
    )
    job_attempts: int = setting(
        "int",
        3,
        "Tries of a queued job whose storage or catalog could not be reached (`archive worker`, "
        "[deployment.md](deployment.md)); a rejected submission is not tried again.",
    )
    job_retry_seconds: int = setting("int", 60, "Wait before a queued job is tried again, doubled at each further try.")
    job_heartbeat_seconds: int = setting(
        "int",
        10,
        "How often a worker tells the queue it is alive; a worker silent for three of these counts as dead "
        "and its job is queued again.",
    )
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


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(
        f.name,
        f.metadata["kind"],
        f.default_factory if f.default is MISSING else f.default,
        f.metadata["help"],
        f.metadata["shown"],
    )
    for f in fields(Settings)
    if "kind" in f.metadata
)
_BY_NAME = {s.name: s for s in SETTINGS}
_BY_ENV = {s.env: s for s in SETTINGS}

#: ``ARCHIVE_*`` environment variables that are not settings; any other ``ARCHIVE_*`` variable is
#: an error, as an unknown key of the settings file is
NOT_SETTINGS: Mapping[str, str] = {
    "ARCHIVE_CONFIG": "the settings file (--config)",
    "ARCHIVE_WORKERS_MAIN": "set by the archive for its fork server: which process started it, and its main module",
    "ARCHIVE_FAULT": "a crash point the crash tests kill the process at (archive/faults.py)",
    "ARCHIVE_AUDIT_RUN": "given to notify_command: the failing audit run",
    "ARCHIVE_AUDIT_OUTCOME": "given to notify_command: its outcome",
    "ARCHIVE_AUDIT_FAILURES": "given to notify_command: how many files failed",
    "ARCHIVE_AUDIT_UNCHECKED": "given to notify_command: how many files could not be checked",
    "ARCHIVE_TEST_DATABASE_URL": "the PostgreSQL database of the test suite",
    "ARCHIVE_KEEP_TEST_TMP": "the test suite keeps its temporary folders",
    "ARCHIVE_TEST_PART_FILES": "the test suite describes packages in METS parts of about this many files",
}


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
        if setting.kind == "urls":
            if isinstance(value, str):
                value = value.replace(",", " ").split()
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError("expected a list of s3://bucket/prefix addresses")
            from archive.storage.objects import Location  # parsing only; keeps config standalone

            return tuple(str(Location.parse(v.strip())) for v in value)
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
    unknown = sorted(
        var for var in env if var.startswith("ARCHIVE_") and var not in _BY_ENV and var not in NOT_SETTINGS
    )
    if unknown:
        raise ConfigError(
            f"environment variable {unknown[0]}: unknown setting {unknown[0][8:].lower()!r}; known: "
            f"{', '.join(_BY_NAME)} (as ARCHIVE_<NAME>); other variables: {', '.join(NOT_SETTINGS)}"
        )
    for s in SETTINGS:
        var = s.env
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
    for name in ("job_attempts", "job_heartbeat_seconds"):
        if values[name] < 1:
            raise ConfigError(f"setting {name} must be at least 1")
    if values["job_retry_seconds"] < 0:
        raise ConfigError("setting job_retry_seconds must be 0 or more")
    if values["s3_addressing_style"] not in ("auto", "path", "virtual"):
        raise ConfigError(
            f"setting s3_addressing_style must be auto, path or virtual, got {values['s3_addressing_style']!r}"
        )
    if values["object_audit_tier"] not in ("full", "cheap"):
        raise ConfigError(f"setting object_audit_tier must be full or cheap, got {values['object_audit_tier']!r}")
    if len(set(values["object_replicas"])) != len(values["object_replicas"]):
        raise ConfigError("setting object_replicas names one storage root twice")
    accel = values["api_accel_redirect"]
    if accel and not (accel.startswith("/") and accel.endswith("/")):
        raise ConfigError(f"setting api_accel_redirect must be a location starting and ending with '/', got {accel!r}")
    if not 4096 <= values["api_chunk_size"] <= 64 * 1024 * 1024:
        raise ConfigError("setting api_chunk_size must be between 4096 and 67108864 bytes")
    redirect = values["api_object_redirect"]
    names = [f"object{i + 1}" for i in range(len(values["object_replicas"]))]
    if redirect and redirect not in names:
        raise ConfigError(
            f"setting api_object_redirect names {redirect!r}, which is none of the object storage copies "
            f"({', '.join(names) or 'object_replicas is empty'})"
        )
    if not 1 <= values["api_presign_seconds"] <= 7 * 24 * 3600:
        raise ConfigError("setting api_presign_seconds must be between 1 and 604800 seconds")
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

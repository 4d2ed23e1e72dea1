"""Load profiles from YAML, resolve ``extends`` and check every key.

A broken profile is a :class:`ProfileError` naming the file and the key. Profiles are looked
up by id in the configured folders (first match wins); ids are plain names, never paths. The
bundled profiles ship inside the package (:data:`archive.profiles.bundled.BUNDLED_PROFILES`); a registry that finds no
profile at all is :class:`NoProfiles` (a broken installation or settings, exit status 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from archive import safeyaml
from archive.access import policy
from archive.errors import ConfigError, ProfileError
from archive.fixity import SUPPORTED_ALGORITHMS
from archive.model import ACCESS_EMBARGOED, ACCESS_LEVELS
from archive.profiles import bundled
from archive.profiles.model import (
    DUBLIN_CORE,
    FIELD_TYPES,
    FROM_INGEST,
    RETENTION_ACTIONS,
    UNIDENTIFIED_POLICIES,
    AccessPolicy,
    AccessRule,
    FieldSpec,
    FormatPolicy,
    Period,
    Profile,
    RetentionSchedule,
)

PROFILE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
PUID = re.compile(r"(x-)?fmt/[0-9]+")
TOP_KEYS = {
    "id",
    "version",
    "title",
    "description",
    "extends",
    "checksums",
    "fixity_interval_days",
    "allow_extra_fields",
    "access",
    "formats",
    "fields",
    "file_fields",
    "retention",
}
FIELD_KEYS = {"type", "required", "repeatable", "pattern", "vocabulary", "description", "dc", "fields"}
FORMAT_KEYS = {"accepted", "warned", "rejected", "unidentified"}
ACCESS_KEYS = {"default", "rules", "embargo_until", "submitter_may_loosen", "metadata_visible_to"}
RETENTION_KEYS = {"name", "keep", "from", "then", "description"}
KEEP_KEYS = ("years", "months", "days")
SCHEDULE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def check_profile_id(name: str) -> str:
    if not isinstance(name, str) or not PROFILE_ID.fullmatch(name):
        raise ProfileError(f"profile name {name!r} is not valid: use lower-case letters, digits, '-' and '_'")
    return name


class NoProfiles(ConfigError):
    """No folder the archive searches holds a single profile: the installation or the settings are broken."""

    code = "E008"


class ProfileRegistry:
    """Finds, loads and caches profiles from a list of folders (first match wins)."""

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.dirs = [Path(d) for d in dirs]
        self._cache: dict[str, Profile] = {}

    def names(self) -> list[str]:
        found: set[str] = set()
        for d in self.dirs:
            if d.is_dir():
                found.update(p.stem for p in d.glob("*.yaml") if PROFILE_ID.fullmatch(p.stem))
        return sorted(found)

    def searched(self) -> str:
        """The folders looked in, for messages; a folder that does not exist says so."""
        return ", ".join(f"{d}" + ("" if d.is_dir() else " (does not exist)") for d in self.dirs) or "no folder"

    def _none_found(self) -> NoProfiles:
        shipped = Path(bundled.BUNDLED_PROFILES)
        hint = (
            "the bundled profiles are missing from the installed package "
            f"({shipped}): reinstall it (pip install archive-preservation, or pip install . in a checkout)"
            if shipped in self.dirs
            else "add a folder of profiles to the setting profiles_dirs"
        )
        return NoProfiles(f"no profiles found: looked in {self.searched()}; {hint}")

    def path_of(self, name: str) -> Path:
        check_profile_id(name)
        for d in self.dirs:
            candidate = d / f"{name}.yaml"
            if candidate.is_file():
                return candidate
        known = self.names()
        if not known:
            raise self._none_found()
        raise ProfileError(
            f"unknown profile {name!r}; known profiles: {', '.join(known)} "
            f"(looked in {self.searched()}; the setting profiles_dirs adds folders)"
        )

    def get(self, name: str) -> Profile:
        if name not in self._cache:
            self._cache[name] = self._load(name, ())
        return self._cache[name]

    def all(self) -> list[Profile]:
        """Every profile, loaded; raises :class:`NoProfiles` when there is none at all."""
        names = self.names()
        if not names:
            raise self._none_found()
        return [self.get(n) for n in names]

    def _load(self, name: str, chain: tuple[str, ...]) -> Profile:
        if name in chain:
            cycle = " -> ".join((*chain, name))
            raise ProfileError(f"profile {chain[0]!r}: 'extends' forms a cycle: {cycle}")
        path = self.path_of(name)
        raw = read_profile_file(path)
        where = str(path)
        if raw.get("id") != name:
            raise ProfileError(f"{where}: key 'id' is {raw.get('id')!r} but the file is named {name!r}")
        parent_name = raw.get("extends")
        parent: Profile | None = None
        if parent_name is not None:
            if not isinstance(parent_name, str):
                raise ProfileError(f"{where}: key 'extends' must name one profile")
            parent = self._load(parent_name, (*chain, name))
        return build_profile(raw, parent, where)


def read_profile_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc}") from exc
    try:
        raw = safeyaml.load(text)
    except (yaml.YAMLError, safeyaml.UnsafeYAML) as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile must be a YAML mapping")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ProfileError(f"{path}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(TOP_KEYS))}")
    for key in ("id", "version"):
        if key not in raw:
            raise ProfileError(f"{path}: key {key!r} is missing")
    if not isinstance(raw["version"], str):
        raise ProfileError(f"{path}: key 'version' must be a quoted string such as \"1.0.0\"")
    check_profile_id(raw["id"])
    return raw


def _bool(raw: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ProfileError(f"{where}: key {key!r} must be true or false")
    return value


def _puids(values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and PUID.fullmatch(v) for v in values):
        raise ProfileError(f"{where} must be a list of PRONOM PUIDs such as fmt/353")
    return tuple(values)


def build_field(name: str, raw: Any, parent: FieldSpec | None, where: str) -> FieldSpec:
    where = f"{where}: field {name!r}"
    if not isinstance(raw, dict):
        raise ProfileError(f"{where} must be a mapping")
    unknown = set(raw) - FIELD_KEYS
    if unknown:
        raise ProfileError(f"{where}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(FIELD_KEYS))}")
    base = parent.as_dict() if parent else {}
    merged = {**base, **raw}
    ftype = merged.get("type", "string")
    if ftype not in FIELD_TYPES:
        raise ProfileError(f"{where}: key 'type' is {ftype!r}; expected one of {', '.join(FIELD_TYPES)}")
    pattern = merged.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ProfileError(f"{where}: key 'pattern' is not a valid regular expression: {exc}") from exc
    vocab = merged.get("vocabulary", [])
    if not isinstance(vocab, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in vocab):
        raise ProfileError(f"{where}: key 'vocabulary' must be a list of values")
    dc = merged.get("dc")
    if dc is not None and dc not in DUBLIN_CORE:
        raise ProfileError(f"{where}: key 'dc' is {dc!r}; expected a Dublin Core element: {', '.join(DUBLIN_CORE)}")
    subfields: tuple[FieldSpec, ...] = ()
    if ftype == "object":
        sub = raw.get("fields", {})
        if not isinstance(sub, dict) or not sub:
            raise ProfileError(f"{where}: an object field needs a 'fields' mapping")
        subfields = tuple(build_field(n, r, None, where) for n, r in sub.items())
    elif "fields" in raw:
        raise ProfileError(f"{where}: key 'fields' is only allowed on type object")
    for key in ("required", "repeatable"):
        if not isinstance(merged.get(key, False), bool):
            raise ProfileError(f"{where}: key {key!r} must be true or false")
    return FieldSpec(
        name=name,
        type=ftype,
        required=merged.get("required", False),
        repeatable=merged.get("repeatable", False),
        pattern=pattern,
        vocabulary=tuple(str(v) for v in vocab),
        description=str(merged.get("description", "")).strip(),
        dc=dc,
        fields=subfields or (parent.fields if parent and ftype == "object" else ()),
    )


def _fields(raw: Any, inherited: tuple[FieldSpec, ...], where: str) -> tuple[FieldSpec, ...]:
    if raw is None:
        return inherited
    if not isinstance(raw, dict):
        raise ProfileError(f"{where} must be a mapping of field names to definitions")
    by_name = {f.name: f for f in inherited}
    for name, spec in raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ProfileError(f"{where}: field name {name!r} must be lower_snake_case")
        by_name[name] = build_field(name, spec, by_name.get(name), where)
    return tuple(by_name.values())


def build_profile(raw: dict[str, Any], parent: Profile | None, where: str) -> Profile:
    checksums = raw.get("checksums", list(parent.checksums) if parent else ["sha256", "sha512"])
    if not isinstance(checksums, list) or not checksums or any(c not in SUPPORTED_ALGORITHMS for c in checksums):
        raise ProfileError(f"{where}: key 'checksums' must list algorithms from {', '.join(SUPPORTED_ALGORITHMS)}")
    interval = raw.get("fixity_interval_days", parent.fixity_interval_days if parent else 90)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise ProfileError(f"{where}: key 'fixity_interval_days' must be a positive whole number")

    fraw = raw.get("formats", {}) or {}
    if not isinstance(fraw, dict) or set(fraw) - FORMAT_KEYS:
        bad = sorted(set(fraw) - FORMAT_KEYS)[0] if isinstance(fraw, dict) else "formats"
        raise ProfileError(f"{where}: formats: unknown key {bad!r}; allowed: {', '.join(sorted(FORMAT_KEYS))}")
    pf = parent.formats if parent else FormatPolicy()
    unidentified = fraw.get("unidentified", pf.unidentified)
    if unidentified not in UNIDENTIFIED_POLICIES:
        raise ProfileError(f"{where}: formats: key 'unidentified' must be one of {', '.join(UNIDENTIFIED_POLICIES)}")
    formats = FormatPolicy(
        accepted=_puids(fraw["accepted"], f"{where}: formats: accepted") if "accepted" in fraw else pf.accepted,
        warned=_puids(fraw["warned"], f"{where}: formats: warned") if "warned" in fraw else pf.warned,
        rejected=_puids(fraw["rejected"], f"{where}: formats: rejected") if "rejected" in fraw else pf.rejected,
        unidentified=unidentified,
    )

    fields = _fields(raw.get("fields"), parent.fields if parent else (), f"{where}: fields")
    file_fields = _fields(raw.get("file_fields"), parent.file_fields if parent else (), f"{where}: file_fields")

    access = _access_policy(raw.get("access", {}) or {}, parent.access if parent else AccessPolicy(), fields, where)

    retention = _retention(raw, parent.retention if parent else (), fields, where)

    chain = (parent.id, *parent.extends) if parent else ()
    return Profile(
        id=raw["id"],
        version=raw["version"],
        title=str(raw.get("title", raw["id"])),
        description=str(raw.get("description", "")).strip(),
        checksums=tuple(checksums),
        fixity_interval_days=interval,
        allow_extra_fields=_bool(raw, "allow_extra_fields", parent.allow_extra_fields if parent else False, where),
        access=access,
        formats=formats,
        fields=fields,
        file_fields=file_fields,
        extends=chain,
        source=where,
        raw=raw,
        retention=retention,
    )


def _retention(
    raw: dict[str, Any], inherited: tuple[RetentionSchedule, ...], fields: tuple[FieldSpec, ...], where: str
) -> tuple[RetentionSchedule, ...]:
    """The profile's schedules: the parent's, merged by name with the child's list (docs/profiles.md,
    "How extends merges"). Every schedule, inherited ones too, is checked against this profile's fields."""
    by_name = {s.name: s for s in inherited}
    if "retention" in raw:
        items = raw["retention"]
        if not isinstance(items, list):
            raise ProfileError(
                f"{where}: key 'retention' must be a list of schedules {{name, keep, from, then}} "
                "(inherited schedules are kept; give one again by its name to change it)"
            )
        own: set[str] = set()
        for i, item in enumerate(items):
            schedule = _schedule(item, f"{where}: retention[{i}]")
            if schedule.name in own:
                raise ProfileError(f"{where}: retention[{i}]: schedule name {schedule.name!r} is given twice")
            own.add(schedule.name)
            by_name[schedule.name] = schedule
    dates = {f.name for f in fields if f.type == "date"}
    for schedule in by_name.values():
        if schedule.start != FROM_INGEST and schedule.start not in dates:
            found = next((f for f in fields if f.name == schedule.start), None)
            what = f"a {found.type} field" if found else "not a field of this profile"
            raise ProfileError(
                f"{where}: retention: schedule {schedule.name!r}: key 'from' is {schedule.start!r}, which is {what}; "
                f"'from' is {FROM_INGEST!r} or one of the profile's date fields: {', '.join(sorted(dates)) or '(none)'}"
            )
    return tuple(by_name.values())


def _schedule(raw: Any, where: str) -> RetentionSchedule:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: a schedule is a mapping {{name, keep, from, then}}")
    unknown = set(raw) - RETENTION_KEYS
    if unknown:
        raise ProfileError(
            f"{where}: unknown key {sorted(map(str, unknown))[0]!r}; allowed: {', '.join(sorted(RETENTION_KEYS))}"
        )
    for key in ("name", "keep", "from", "then"):
        if key not in raw:
            raise ProfileError(f"{where}: key {key!r} is missing")
    name = raw["name"]
    if not isinstance(name, str) or not SCHEDULE_NAME.fullmatch(name):
        raise ProfileError(f"{where}: key 'name' is {name!r}; use lower-case letters, digits, '-' and '_'")
    where = f"{where} ({name!r})"
    start = raw["from"]
    if not isinstance(start, str) or not start:
        raise ProfileError(f"{where}: key 'from' must be {FROM_INGEST!r} or the name of a date field")
    then = raw["then"]
    if then not in RETENTION_ACTIONS:
        raise ProfileError(f"{where}: key 'then' is {then!r}; expected one of {', '.join(RETENTION_ACTIONS)}")
    keep = _keep(raw["keep"], f"{where}: key 'keep'")
    if keep.is_zero() and start == FROM_INGEST:
        raise ProfileError(
            f"{where}: key 'keep' is 0 from {FROM_INGEST!r}: the package would be due the day it is stored; "
            "keep 0 is only for a schedule from a date field"
        )
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(f"{where}: key 'description' must be text")
    return RetentionSchedule(name=name, keep=keep, start=start, then=then, description=description.strip())


def _keep(raw: Any, where: str) -> Period:
    """``{years: 7}``, ``{years: 1, months: 6, days: 0}``, or ``0``."""
    if raw == 0 and isinstance(raw, int) and not isinstance(raw, bool):
        return Period()
    if not isinstance(raw, dict) or not raw or set(raw) - set(KEEP_KEYS):
        raise ProfileError(f"{where} must be a mapping of {', '.join(KEEP_KEYS)} (e.g. {{years: 7}}), or 0")
    values: dict[str, int] = {}
    for unit in KEEP_KEYS:
        n = raw.get(unit, 0)
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 9999:
            raise ProfileError(f"{where}: {unit!r} must be a whole number from 0 to 9999, found {n!r}")
        values[unit] = n
    return Period(**values)


def _access_policy(araw: Any, pa: AccessPolicy, fields: tuple[FieldSpec, ...], where: str) -> AccessPolicy:
    """The ``access`` mapping merged over the parent's ``pa`` (docs/profiles.md, "How extends merges")."""
    if not isinstance(araw, dict) or set(araw) - ACCESS_KEYS:
        raise ProfileError(f"{where}: access: allowed keys are {', '.join(sorted(ACCESS_KEYS))}")
    default = araw.get("default", pa.default)
    if default not in ACCESS_LEVELS:
        raise ProfileError(f"{where}: access: key 'default' must be one of {', '.join(ACCESS_LEVELS)}")
    rules = pa.rules
    if "rules" in araw:
        if not isinstance(araw["rules"], list) and araw["rules"] is not None:
            raise ProfileError(f"{where}: access: key 'rules' must be a list of {{when: ..., level: ...}}")
        rules = tuple(
            _access_rule(r, fields, f"{where}: access: rules[{i}]") for i, r in enumerate(araw["rules"] or [])
        )
    # the default's embargo date goes with the default: a child that sets another default drops it
    embargo = pa.embargo_until if "default" not in araw else None
    if "embargo_until" in araw:
        embargo = (
            None
            if araw["embargo_until"] is None
            else _full_date(araw["embargo_until"], f"{where}: access: key 'embargo_until'")
        )
    if embargo is not None and default != ACCESS_EMBARGOED:
        raise ProfileError(
            f"{where}: access: key 'embargo_until' is only for `default: embargoed` (the default is {default})"
        )
    loosen = pa.submitter_may_loosen
    if "submitter_may_loosen" in araw:
        values = araw["submitter_may_loosen"] or []
        if not isinstance(values, list) or any(v not in ACCESS_LEVELS for v in values):
            raise ProfileError(
                f"{where}: access: key 'submitter_may_loosen' must be a list of access levels "
                f"({', '.join(ACCESS_LEVELS)})"
            )
        loosen = tuple(dict.fromkeys(values))
    visible = dict(pa.metadata_visible_to)
    if "metadata_visible_to" in araw:
        vraw = araw["metadata_visible_to"] or {}
        if not isinstance(vraw, dict):
            raise ProfileError(f"{where}: access: key 'metadata_visible_to' must map access levels to lists of roles")
        for level, roles in vraw.items():
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise ProfileError(f"{where}: access: metadata_visible_to: {level!r} must be a list of roles")
            visible[level] = tuple(dict.fromkeys(roles))
        problem = policy.check_narrowing(visible)
        if problem:
            raise ProfileError(f"{where}: access: metadata_visible_to: {problem}")
    return AccessPolicy(
        default=default,
        rules=rules,
        embargo_until=embargo,
        submitter_may_loosen=loosen,
        metadata_visible_to=tuple((lv, visible[lv]) for lv in ACCESS_LEVELS if lv in visible),
    )


def _full_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ProfileError(f"{where} must be a full date YYYY-MM-DD, found {value!r}") from exc


def _access_rule(raw: Any, fields: tuple[FieldSpec, ...], where: str) -> AccessRule:
    if not isinstance(raw, dict) or set(raw) != {"when", "level"} or not isinstance(raw["when"], dict):
        raise ProfileError(f"{where}: a rule is {{when: {{field: value}}, level: LEVEL}}")
    names = {f.name for f in fields}
    for key in raw["when"]:
        if key not in names:
            raise ProfileError(f"{where}: 'when' names unknown field {key!r}")
    if raw["level"] not in ACCESS_LEVELS:
        raise ProfileError(f"{where}: 'level' must be one of {', '.join(ACCESS_LEVELS)}")
    return AccessRule(when=tuple(raw["when"].items()), level=raw["level"])

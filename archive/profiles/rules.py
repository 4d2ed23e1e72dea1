"""Apply a profile: check descriptive metadata, map it to Dublin Core, decide access, judge formats.

Every check adds :class:`~archive.errors.Finding` objects instead of raising, so a submission
hears about every problem at once.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

from archive.errors import Finding, error, warning
from archive.model import ACCESS_EMBARGOED, Access, FormatInfo
from archive.profiles.model import FieldSpec, Profile

PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?(/\d{4}(-\d{2}(-\d{2})?)?)?")


def _check_date(value: Any) -> tuple[str | None, str]:
    if isinstance(value, datetime):
        return value.date().isoformat(), ""
    if isinstance(value, date):
        return value.isoformat(), ""
    if isinstance(value, str) and PARTIAL_DATE.fullmatch(value.strip()):
        text = value.strip()
        for part in text.split("/"):
            pieces = [int(p) for p in part.split("-")]
            try:
                date(pieces[0], pieces[1] if len(pieces) > 1 else 1, pieces[2] if len(pieces) > 2 else 1)
            except ValueError:
                return None, f"{text!r} is not a real date"
        return text, ""
    return None, f"expected a date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY/YYYY), found {value!r}"


def _check_scalar(spec: FieldSpec, value: Any, where: str, out: list[Finding]) -> Any:
    t = spec.type
    if value is None:
        out.append(error("E402", where, "has no value"))
        return None
    if t in ("string", "text", "uri"):
        if not isinstance(value, str):
            hint = " (put quotes around it in YAML)" if isinstance(value, (int, float, date)) else ""
            out.append(error("E403", where, f"expected text, found {type(value).__name__} {value!r}{hint}"))
            return None
        if t == "string" and ("\n" in value.strip()):
            out.append(error("E403", where, "expected a single line of text; use a text field for paragraphs"))
            return None
        value = value.strip() if t != "text" else value.strip("\n")
        if not value:
            out.append(error("E402", where, "is empty"))
            return None
        if t == "uri":
            parsed = urlparse(value)
            if not parsed.scheme or not (parsed.netloc or parsed.path):
                out.append(error("E404", where, f"expected an absolute URI, found {value!r}"))
                return None
    elif t == "date":
        normalised, problem = _check_date(value)
        if normalised is None:
            out.append(error("E403", where, problem))
            return None
        value = normalised
    elif t == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(error("E403", where, f"expected a whole number, found {value!r}"))
            return None
    elif t == "boolean":
        if not isinstance(value, bool):
            out.append(error("E403", where, f"expected true or false, found {value!r}"))
            return None
    if spec.vocabulary and str(value) not in spec.vocabulary:
        out.append(error("E405", where, f"{value!r} is not one of: {', '.join(spec.vocabulary)}"))
        return None
    if spec.pattern and not re.fullmatch(spec.pattern, str(value)):
        out.append(error("E406", where, f"{value!r} does not match the pattern {spec.pattern}"))
        return None
    return value


def _check_value(spec: FieldSpec, value: Any, where: str, out: list[Finding], allow_extra: bool) -> Any:
    if spec.type == "object":
        if not isinstance(value, dict):
            out.append(error("E403", where, f"expected a mapping of {', '.join(f.name for f in spec.fields)}"))
            return None
        checked, found = check_fields(spec.fields, value, allow_extra, where)
        out.extend(found)
        return checked
    return _check_scalar(spec, value, where, out)


def check_fields(specs: tuple[FieldSpec, ...], data: dict[str, Any], allow_extra: bool,
                 prefix: str = "") -> tuple[dict[str, Any], list[Finding]]:
    """Check ``data`` against field specs; return the normalised values and every finding."""
    out: list[Finding] = []
    result: dict[str, Any] = {}
    by_name = {s.name: s for s in specs}
    for key in data:
        if key not in by_name:
            where = f"{prefix}.{key}" if prefix else str(key)
            if allow_extra:
                result[str(key)] = data[key]
                out.append(warning("W401", where, "is not a field of the profile; kept as given"))
            else:
                out.append(error("E401", where, f"unknown field; the profile's fields are: {', '.join(by_name)}"))
    for spec in specs:
        where = f"{prefix}.{spec.name}" if prefix else spec.name
        if spec.name not in data or data[spec.name] is None or data[spec.name] == [] or data[spec.name] == "":
            if spec.required:
                out.append(error("E402", where, f"is required ({spec.description or spec.type})"))
            continue
        value = data[spec.name]
        if isinstance(value, list):
            if not spec.repeatable:
                if len(value) != 1:
                    out.append(error("E407", where, f"takes one value, found a list of {len(value)}"))
                    continue
                value = value[0]
            else:
                checked = [_check_value(spec, v, f"{where}[{i}]", out, allow_extra) for i, v in enumerate(value)]
                result[spec.name] = [c for c in checked if c is not None]
                continue
        checked_one = _check_value(spec, value, where, out, allow_extra)
        if checked_one is not None:
            result[spec.name] = [checked_one] if spec.repeatable else checked_one
    return result, out


def validate_metadata(profile: Profile, data: Any, source: str = "metadata") -> tuple[dict[str, Any], list[Finding]]:
    if not isinstance(data, dict):
        return {}, [error("E400", source, "descriptive metadata must be a mapping of field names to values")]
    checked, findings = check_fields(profile.fields, data, profile.allow_extra_fields)
    findings = [Finding(f.code, f.severity, f"{source}: {f.path}", f.message) for f in findings]
    return checked, findings


def _as_text(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, dict):
        for key in ("name", "title", "label"):
            if key in value:
                return str(value[key])
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def dublin_core(profile: Profile, metadata: dict[str, Any]) -> dict[str, list[str]]:
    """The simple Dublin Core view of ``metadata``, per the profile's ``dc`` mappings."""
    dc: dict[str, list[str]] = {}
    for spec in profile.fields:
        if spec.dc and spec.name in metadata:
            values = metadata[spec.name] if isinstance(metadata[spec.name], list) else [metadata[spec.name]]
            for v in values:
                text = _as_text(spec, v)
                if text not in dc.setdefault(spec.dc, []):
                    dc[spec.dc].append(text)
    return dc


#: access levels from least to most restrictive
RESTRICTIVENESS = ("open", "embargoed", "restricted", "confidential", "legal-hold")


def resolve_access(profile: Profile, metadata: dict[str, Any]) -> Access:
    """The package's access: the profile's default, or its first matching rule; an explicit
    ``access_level`` overrides the default but can never loosen what a rule imposes (a legal
    hold stays a legal hold whatever the submitter writes)."""
    level = profile.access.default
    ruled: str | None = None
    for rule in profile.access.rules:
        if all(metadata.get(k) == v for k, v in rule.when):
            ruled = level = rule.level
            break
    if metadata.get("access_level"):
        level = metadata["access_level"]
        if ruled and RESTRICTIVENESS.index(ruled) > RESTRICTIVENESS.index(level):
            level = ruled
    embargo: date | None = None
    if metadata.get("embargo_until"):
        text = str(metadata["embargo_until"])
        try:
            embargo = date.fromisoformat(text)
        except ValueError:
            embargo = None
        if embargo and level in ("open", ACCESS_EMBARGOED):
            level = ACCESS_EMBARGOED
    statement = ""
    for key in ("rights_statement", "licence", "rights"):
        if metadata.get(key):
            statement = str(metadata[key])
            break
    return Access(level=level, embargo_until=embargo, statement=statement)


def check_access(metadata: dict[str, Any], source: str = "metadata") -> list[Finding]:
    """Consistency of the access fields between themselves."""
    out: list[Finding] = []
    level = metadata.get("access_level")
    until = metadata.get("embargo_until")
    if level == ACCESS_EMBARGOED and not until:
        out.append(error("E408", f"{source}: embargo_until", "access_level embargoed needs an embargo_until date"))
    if until is not None:
        try:
            date.fromisoformat(str(until))
        except ValueError:
            out.append(error("E408", f"{source}: embargo_until", f"expected a full date YYYY-MM-DD, found {until!r}"))
    return out


def check_format(profile: Profile, path: str, fmt: FormatInfo) -> Finding | None:
    """Judge one file's identified format against the profile's format policy."""
    policy = profile.formats
    if not fmt.identified:
        if policy.unidentified == "reject":
            return error("E201", path, "format could not be identified and the profile rejects unidentified files")
        if policy.unidentified == "warn":
            return warning("W201", path, "format could not be identified")
        return None
    label = f"{fmt.puid} ({fmt.name})" if fmt.name else str(fmt.puid)
    if fmt.puid in policy.rejected:
        return error("E202", path, f"format {label} is rejected by profile {profile.id}")
    if policy.accepted and fmt.puid not in policy.accepted and fmt.puid not in policy.warned:
        return error("E203", path, f"format {label} is not among the formats profile {profile.id} accepts")
    if fmt.puid in policy.warned:
        return warning("W202", path, f"format {label} is accepted with a warning by profile {profile.id}")
    return None

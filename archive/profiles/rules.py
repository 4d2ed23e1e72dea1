"""Apply a profile: check descriptive metadata, map it to Dublin Core, judge formats (access: ``access_rules``).

Every check adds :class:`~archive.errors.Finding` objects instead of raising, so a submission
hears about every problem at once.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

from archive.errors import Finding, error, warning
from archive.model import FormatInfo
from archive.profiles.model import FieldSpec, Profile
from archive.safeyaml import key_identity, key_text, shown
from archive.safeyaml import label as key_label

PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?(/\d{4}(-\d{2}(-\d{2})?)?)?")
DATE_FORMS = "YYYY, YYYY-MM, YYYY-MM-DD, or a range of those such as 1951/1958"


def _kind(value: Any) -> str:
    """``value`` in words with a short, escaped excerpt: "the number 1962", "the text 'abc'"."""
    if isinstance(value, bool):
        return f"the boolean {shown(value)}"
    if isinstance(value, (int, float)):
        return f"the number {shown(value)}"
    if isinstance(value, date):
        return f"the date {shown(value)}"
    if isinstance(value, str):
        return f"the text {shown(value)}"
    if value is None:
        return "no value (null)"
    return shown(value)


def _check_date(value: Any) -> tuple[str | None, str]:
    if isinstance(value, datetime):
        return value.date().isoformat(), ""
    if isinstance(value, date):
        return value.isoformat(), ""
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= 9999:  # an unquoted year in YAML is a number: 1962 is the date "1962"
            return f"{value:04d}", ""
        return None, f"expected a date ({DATE_FORMS}), found the number {shown(value)}, which is not a year (1 to 9999)"
    if isinstance(value, str) and PARTIAL_DATE.fullmatch(value.strip()):
        text = value.strip()
        for part in text.split("/"):
            pieces = [int(p) for p in part.split("-")]
            try:
                date(pieces[0], pieces[1] if len(pieces) > 1 else 1, pieces[2] if len(pieces) > 2 else 1)
            except ValueError:
                return None, f"{shown(text)} is not a real date"
        return text, ""
    return None, f"expected a date ({DATE_FORMS}), found {_kind(value)}"


def _quote_hint(value: Any) -> str:
    """Why a YAML value that is not text was given, and how to make it text."""
    if isinstance(value, bool):
        return (
            '; YAML reads an unquoted yes, no, on, off, true or false as true/false: put quotes around the value ("no")'
        )
    if isinstance(value, int) and len(str(value)) <= 20:
        return f'; put quotes around it in YAML ("{value}") to give it as text'
    if isinstance(value, float):
        return "; put quotes around the value, as written, to give it as text"
    if isinstance(value, date):
        return f'; put quotes around it in YAML ("{value.isoformat()}") to give it as text'
    return ""


def _check_scalar(spec: FieldSpec, value: Any, where: str, out: list[Finding]) -> Any:
    t = spec.type
    if value is None:
        out.append(error("E402", where, "has no value"))
        return None
    if t in ("string", "text", "uri"):
        if not isinstance(value, str):
            out.append(error("E403", where, f"expected text, found {_kind(value)}{_quote_hint(value)}"))
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
                out.append(error("E404", where, f"expected an absolute URI, found {shown(value)}"))
                return None
    elif t == "date":
        normalised, problem = _check_date(value)
        if normalised is None:
            out.append(error("E403", where, problem))
            return None
        value = normalised
    elif t == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(error("E403", where, f"expected a whole number, found {_kind(value)}"))
            return None
    elif t == "boolean" and not isinstance(value, bool):
        out.append(error("E403", where, f"expected true or false, found {_kind(value)}"))
        return None
    if spec.vocabulary and str(value) not in spec.vocabulary:
        out.append(error("E405", where, f"{shown(value)} is not one of: {', '.join(spec.vocabulary)}"))
        return None
    if spec.pattern and not re.fullmatch(spec.pattern, str(value)):
        wanted = (
            f"{spec.description.strip().rstrip('.')} (pattern: {spec.pattern})"
            if spec.description
            else f"the pattern {spec.pattern}"
        )
        out.append(error("E406", where, f"{shown(value)} does not have the expected form: {wanted}"))
        return None
    return value


def _check_value(spec: FieldSpec, value: Any, where: str, out: list[Finding], allow_extra: bool) -> Any:
    if spec.type == "object":
        if not isinstance(value, dict):
            out.append(
                error(
                    "E403",
                    where,
                    f"expected a mapping of {', '.join(f.name for f in spec.fields)}, found {_kind(value)}",
                )
            )
            return None
        checked, found = check_fields(spec.fields, value, allow_extra, where)
        out.extend(found)
        return checked
    return _check_scalar(spec, value, where, out)


def _near(key: Any, names: dict[str, FieldSpec]) -> str | None:
    """The field ``key`` was probably meant to be (other case, spaces, hyphens), if any."""
    text = re.sub(r"[\s-]+", "_", key_identity(key).lower())
    return text if text in names and text != key else None


def check_fields(
    specs: tuple[FieldSpec, ...], data: dict[str, Any], allow_extra: bool, prefix: str = ""
) -> tuple[dict[str, Any], list[Finding]]:
    """Check ``data`` against field specs; return the normalised values and every finding.

    Keys are names as text (``str``); an extra key kept under ``allow_extra`` that would land on
    a name already taken (``1`` and ``"1"``) is ``E418``, never a silent overwrite. Messages show
    values only as short, escaped excerpts.
    """
    out: list[Finding] = []
    result: dict[str, Any] = {}
    by_name = {s.name: s for s in specs}
    kept: dict[str, Any] = {}
    for key, given in data.items():
        if key not in by_name:
            where = f"{prefix}.{key_label(key)}" if prefix else key_label(key)
            near = _near(key, by_name)
            if near and not allow_extra:
                out.append(error("E401", where, f"unknown field; did you mean {near!r}?"))
            elif allow_extra:
                name = key_text(key)
                if key_identity(key) in kept or name in by_name:
                    out.append(
                        error(
                            "E418",
                            where,
                            f"names the same field as {shown(kept.get(key_identity(key), name))}; give each field once",
                        )
                    )
                    continue
                kept[key_identity(key)] = key
                result[name] = given
                out.append(
                    warning(
                        "W401",
                        where,
                        "is not a field of the profile; kept as given" + (f" (did you mean {near!r}?)" if near else ""),
                    )
                )
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
        return {}, [
            error(
                "E400", source, f"descriptive metadata must be a mapping of field names to values, found {_kind(data)}"
            )
        ]
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


#: identification bases that rest on no byte of the file (archive.formats.base BASIS_EXTENSION, BASIS_NONE)
_NOT_BY_CONTENT = ("extension", "none")
#: the warning engines give a 0-byte file (archive.formats.base EMPTY_FILE)
_EMPTY_FILE = "empty file"


def check_format(profile: Profile, path: str, fmt: FormatInfo) -> Finding | None:
    """Judge one file's identified format against the profile's format policy.

    Only a PUID the file's bytes were matched to (basis ``signature`` or ``container``; an
    unrecorded basis is taken as given) counts as identified. A PUID guessed from the extension
    alone is unidentified: error ``E210`` under ``unidentified: reject``, warning ``W210`` under
    ``warn``, nothing under ``accept``. An empty file has no format to identify: warning ``W211``
    under ``reject`` and ``warn`` (zero bytes carry no format to preserve, so it is never an
    error), nothing under ``accept``. See docs/formats.md.
    """
    policy = profile.formats
    if _EMPTY_FILE in fmt.warning.split("; "):
        if policy.unidentified == "accept":
            return None
        return warning("W211", path, "empty file (0 bytes): there is no content whose format could be identified")
    if fmt.puid and fmt.basis in _NOT_BY_CONTENT:
        guess = f"{fmt.puid}, {fmt.name}" if fmt.name else fmt.puid
        if policy.unidentified == "accept":
            return None
        if policy.unidentified == "reject":
            return error(
                "E210",
                path,
                f"format guessed from the extension only ({guess}), not identified from the "
                "file's content, and the profile rejects unidentified files",
            )
        return warning(
            "W210",
            path,
            f"format guessed from the extension only ({guess}): no signature matched "
            "the file's content, so it counts as unidentified",
        )
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

"""Read the descriptive metadata that comes with a submission.

``metadata.yaml`` / ``metadata.yml`` / ``metadata.json`` (or ``--metadata FILE``) hold the
package's fields; ``metadata/files.csv`` holds per-file fields (a ``path`` column plus the
profile's file fields). Files must be regular files (never a FIFO that would block), are
size-bounded (refused from their size, unread), must be UTF-8, YAML may not use aliases, and no
value may hold a character XML 1.0 cannot carry (METS could not preserve it).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from archive import safeyaml
from archive.errors import Finding, error
from archive.profiles.model import FieldSpec, Profile
from archive.profiles.rules import check_fields

#: what XML 1.0 cannot carry: C0 controls but tab, LF, CR; lone surrogates; U+FFFE, U+FFFF
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _read_text(path: Path, limit: int, label: str) -> tuple[str | None, list[Finding]]:
    """The file's text, or a finding. Refused from its size alone (never read) when too large;
    never blocks: a FIFO or device is refused from ``fstat`` (opened non-blocking)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, [error("E410", label, f"cannot read: {exc.strerror}")]
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, [error("E410", label, "is not a regular file (a folder, FIFO or device); give a file")]
        if st.st_size > limit:
            return None, [error("E410", label, f"is {st.st_size} bytes; metadata files are limited to {limit} bytes")]
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        return None, [error("E410", label, f"cannot read: {exc.strerror}")]
    finally:
        os.close(fd)
    if len(data) > limit:
        return None, [error("E410", label, f"grew past the limit of {limit} bytes while being read")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [error("E411", label, f"is not valid UTF-8 (byte {exc.start})")]
    return text.removeprefix("\ufeff"), []


def unstorable_text(data: Any, label: str) -> list[Finding]:
    """E417 for every key or value holding a character XML 1.0 (so METS) cannot carry.

    The same rule as the METS writer's ``check_text``; found here, every one is reported with
    the other findings instead of stopping the ingest later. Walks without recursion (JSON may
    nest about 1,000 deep).
    """
    found: list[Finding] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else str(key)
                stack += [(path, item), (f"{path} (the name)", key)]
        elif isinstance(value, list):
            stack += [(f"{where}[{i}]", item) for i, item in enumerate(value)]
        elif isinstance(value, str) and (bad := _NOT_XML_CHAR.search(value)):
            found.append(error("E417", f"{label}: {where}" if where else label,
                               f"contains U+{ord(bad.group()):04X} at position {bad.start()}, which XML 1.0 "
                               "cannot carry, so METS cannot preserve it; remove it"))
    return sorted(found, key=lambda f: f.path)


def read_metadata_file(path: Path, limit: int, label: str | None = None) -> tuple[Any, list[Finding]]:
    """Parse a YAML or JSON metadata file; problems are findings, never exceptions."""
    label = label or path.name
    text, findings = _read_text(path, limit, label)
    if text is None:
        return None, findings
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, [error("E412", label, f"is not valid JSON: {exc}")]
        except RecursionError:
            return None, [error("E412", label, "is not accepted: JSON nested too deeply")]
        except ValueError as exc:  # a number of more than 4,300 digits (CVE-2020-10735 limit)
            return None, [error("E412", label, f"holds a value that cannot be read: {str(exc).split(';')[0]}")]
        return data, unstorable_text(data, label)
    try:
        data = safeyaml.load(text)
    except safeyaml.UnsafeYAML as exc:
        return None, [error("E413", label, f"is refused: {exc}")]
    except yaml.YAMLError as exc:
        return None, [error("E412", label, f"is not valid YAML: {exc}".replace("\n", " "))]
    if data is None:
        return {}, []
    return data, unstorable_text(data, label)


def _from_cell(spec: FieldSpec | None, text: str) -> Any:
    """A CSV cell is text; integer and boolean file fields are read from their written form."""
    if spec is None:
        return text
    cleaned = text.strip()
    if spec.type == "integer" and re.fullmatch(r"[+-]?[0-9]+", cleaned):
        return int(cleaned)
    if spec.type == "boolean" and cleaned.lower() in ("true", "false", "yes", "no"):
        return cleaned.lower() in ("true", "yes")
    if spec.repeatable and ";" in text:
        return [part.strip() for part in text.split(";") if part.strip()]
    return text


def read_files_csv(path: Path, limit: int, profile: Profile, payload_paths: set[str],
                   label: str = "metadata/files.csv") -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    """Per-file metadata keyed by payload path, checked against the profile's file fields."""
    text, findings = _read_text(path, limit, label)
    if text is None:
        return {}, findings
    out: dict[str, dict[str, Any]] = {}
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames or []
        if "path" not in header:
            return {}, [error("E414", label, "needs a 'path' column naming each file relative to the payload")]
        specs = {f.name: f for f in profile.file_fields}
        for column in header:
            if column != "path" and column not in specs and not profile.allow_extra_fields:
                findings.append(error("E401", f"{label}: column {column!r}",
                                      f"unknown file field; the profile's file fields are: {', '.join(specs) or 'none'}"))
        for row in reader:
            line = reader.line_num
            if None in row:
                findings.append(error("E414", f"{label}: line {line}", "has more cells than the header"))
                continue
            path_value = (row.pop("path") or "").strip()
            if path_value not in payload_paths:
                findings.append(error("E415", f"{label}: line {line}", f"path {path_value!r} is not a file of the submission"))
                continue
            if path_value in out:
                findings.append(error("E416", f"{label}: line {line}", f"path {path_value!r} is listed twice"))
                continue
            values = {k: _from_cell(specs.get(k), v) for k, v in row.items()
                      if v not in (None, "") and (k in specs or profile.allow_extra_fields)}
            findings.extend(unstorable_text(values, f"{label}: line {line}"))
            checked, problems = check_fields(profile.file_fields, values, profile.allow_extra_fields,
                                             f"{label}: line {line}")
            findings.extend(problems)
            out[path_value] = checked
    except csv.Error as exc:
        findings.append(error("E414", label, f"is not valid CSV: {exc}"))
    return out, findings

"""Read the descriptive metadata that comes with a submission.

``metadata.yaml`` / ``metadata.yml`` / ``metadata.json`` (or ``--metadata FILE``) hold the
package's fields; ``metadata/files.csv`` holds per-file fields (a ``path`` column plus the
profile's file fields). Files are size-bounded, must be UTF-8, and YAML may not use aliases.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from archive import safeyaml
from archive.errors import Finding, error
from archive.profiles.model import Profile
from archive.profiles.rules import check_fields


def _read_text(path: Path, limit: int, label: str) -> tuple[str | None, list[Finding]]:
    try:
        size = path.stat().st_size
        if size > limit:
            return None, [error("E410", label, f"is {size} bytes; metadata files are limited to {limit} bytes")]
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        return None, [error("E410", label, f"cannot read: {exc.strerror}")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [error("E411", label, f"is not valid UTF-8 (byte {exc.start})")]
    return text.removeprefix("\ufeff"), []


def read_metadata_file(path: Path, limit: int, label: str | None = None) -> tuple[Any, list[Finding]]:
    """Parse a YAML or JSON metadata file; problems are findings, never exceptions."""
    label = label or path.name
    text, findings = _read_text(path, limit, label)
    if text is None:
        return None, findings
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text), []
        except (json.JSONDecodeError, RecursionError) as exc:
            return None, [error("E412", label, f"is not valid JSON: {exc}")]
    try:
        data = safeyaml.load(text)
    except safeyaml.UnsafeYAML as exc:
        return None, [error("E413", label, f"is refused: {exc}")]
    except yaml.YAMLError as exc:
        return None, [error("E412", label, f"is not valid YAML: {exc}".replace("\n", " "))]
    if data is None:
        return {}, []
    return data, []


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
            values = {k: v for k, v in row.items() if v not in (None, "") and (k in specs or profile.allow_extra_fields)}
            checked, problems = check_fields(profile.file_fields, values, profile.allow_extra_fields,
                                             f"{label}: line {line}")
            findings.extend(problems)
            out[path_value] = checked
    except csv.Error as exc:
        findings.append(error("E414", label, f"is not valid CSV: {exc}"))
    return out, findings

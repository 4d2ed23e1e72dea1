"""Read the descriptive metadata that comes with a submission.

``metadata.yaml`` / ``metadata.yml`` / ``metadata.json`` (or ``--metadata FILE``) hold the
package's fields; ``metadata/files.csv`` holds per-file fields (a ``path`` column plus the
profile's file fields). Files must be regular files (never a FIFO that would block), are
size-bounded (refused from their size, unread), must be UTF-8, YAML may not use aliases, and no
value may hold a character XML 1.0 cannot carry (METS could not preserve it).

Nothing is resolved silently: a key given twice in YAML or JSON (``E418``, at any depth, with
both lines), a ``files.csv`` column named twice (``E419``) or without a name (``E420``) is an
error, never "the last one wins". Messages show values only as short escaped excerpts
(:func:`archive.safeyaml.shown`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from archive import safeyaml
from archive.errors import Finding, error
from archive.profiles.model import FieldSpec, Profile
from archive.profiles.rules import check_fields
from archive.submission.safeopen import UnsafeFile, read_bounded

#: what XML 1.0 cannot carry: C0 controls but tab, LF, CR; lone surrogates; U+FFFE, U+FFFF
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _read_text(path: Path, limit: int, label: str) -> tuple[str | None, list[Finding]]:
    """The file's text, or a finding. Read through the one way in (``safeopen``): never a link,
    never blocking on a FIFO or device, refused from its size alone (never read) when too large."""
    try:
        data = read_bounded(path, limit, label)
    except UnsafeFile as exc:
        reason = f"{exc.reason}; metadata files are limited to {limit} bytes" if exc.kind == "too-large" else exc.reason
        return None, [error("E410", label, reason)]
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
                path = f"{where}.{safeyaml.label(key)}" if where else safeyaml.label(key)
                stack += [(path, item), (f"{path} (the name)", key)]
        elif isinstance(value, list):
            stack += [(f"{where}[{i}]", item) for i, item in enumerate(value)]
        elif isinstance(value, str) and (bad := _NOT_XML_CHAR.search(value)):
            found.append(
                error(
                    "E417",
                    f"{label}: {safeyaml.short_path(where)}" if where else label,
                    f"contains U+{ord(bad.group()):04X} at position {bad.start()}, which XML 1.0 "
                    "cannot carry, so METS cannot preserve it; remove it",
                )
            )
    return sorted(found, key=lambda f: f.path)


class _JSONObject(list):
    """One JSON object's (key, value) pairs and where each value starts (only when finding lines)."""

    def __init__(self, pairs: list[tuple[str, Any]], starts: list[int]) -> None:
        super().__init__(pairs)
        self.starts = starts


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _repeats(pairs: list[tuple[str, Any]]) -> list[tuple[int, int]]:
    """(index of the first, index of the repeat) for every key of ``pairs`` named before."""
    seen: dict[str, int] = {}
    out = []
    for i, (key, _) in enumerate(pairs):
        ident = safeyaml.key_identity(key)
        if ident in seen:
            out.append((seen[ident], i))
        else:
            seen[ident] = i
    return out


def _key_position(text: str, value_start: int) -> tuple[int, int]:
    """(line, column), 1-based, of the key whose value starts at ``value_start``: the key's
    closing quote is the last character before its ':', its opening quote the first ``"``
    before that which no backslash escapes."""
    end = text.rfind(":", 0, value_start)
    while end > 0 and text[end - 1] in " \t\r\n":
        end -= 1
    start = end - 1  # the closing quote
    while start > 0:
        start = text.rfind('"', 0, start)
        backslashes = 0
        while start - backslashes > 0 and text[start - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            break
    start = max(start, 0)
    line_start = text.rfind("\n", 0, start) + 1
    return text.count("\n", 0, start) + 1, start - line_start + 1


def _json_duplicates(text: str) -> list[safeyaml.Duplicate]:
    """Every repeated key with its path and lines: a second, slower parse (pure-Python scanner)."""
    decoder = json.JSONDecoder(parse_constant=_refuse_constant)

    def parse_object(
        s_and_end: Any, strict: bool, scan_once: Any, object_hook: Any, object_pairs_hook: Any, memo: Any = None
    ) -> Any:
        starts: list[int] = []

        def recording(s: str, idx: int) -> Any:
            starts.append(idx)
            return scan_once(s, idx)

        return json.decoder.JSONObject(  # type: ignore[attr-defined]
            s_and_end, strict, recording, None, lambda pairs: _JSONObject(pairs, starts), memo
        )

    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    found: list[safeyaml.Duplicate] = []
    stack: list[tuple[Any, str]] = [(decoder.decode(text), "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _JSONObject):
            children = [(f"{path}.{safeyaml.label(k)}" if path else safeyaml.label(k)) for k, _ in value]
            for first, again in _repeats(value):
                (line, column), (first_line, first_column) = (
                    _key_position(text, value.starts[again]),
                    _key_position(text, value.starts[first]),
                )
                found.append(
                    safeyaml.Duplicate(
                        safeyaml.short_path(children[again]),
                        value[again][0],
                        value[first][0],
                        line,
                        first_line,
                        column,
                        first_column,
                    )
                )
            stack += [(v, children[i]) for i, (_, v) in enumerate(value)]
        elif isinstance(value, list):
            stack += [(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return sorted(found, key=lambda d: (d.line or 0, d.path))


def _nesting(data: Any) -> int:
    """How many objects and arrays deep ``data`` goes (without recursion)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, depth)
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            deepest = max(deepest, depth)
            stack += [(v, depth + 1) for v in value]
    return deepest


def load_json(text: str) -> Any:
    """``json.loads``, except that a key given twice in one object (at any depth; names compared
    like YAML keys, see :func:`archive.safeyaml.key_identity`) is :class:`~archive.safeyaml.DuplicateKeys`
    naming every repeat and both lines, never resolved to the last value, and ``NaN`` /
    ``Infinity`` (not JSON) are refused (``ValueError``)."""
    repeated: list[tuple[str, str]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        repeated.extend((pairs[again][0], pairs[first][0]) for first, again in _repeats(pairs))
        return dict(pairs)

    data = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_refuse_constant)
    if not repeated:
        return data
    try:
        duplicates = _json_duplicates(text)
    except RecursionError:  # deeper than the pure-Python scanner goes: the keys without their lines
        duplicates = [safeyaml.Duplicate(safeyaml.label(k), k, f, None, None) for k, f in repeated]
    raise safeyaml.DuplicateKeys(duplicates, data)


def _duplicate_findings(exc: safeyaml.DuplicateKeys, label: str) -> list[Finding]:
    return [error("E418", f"{label}: {d.path}", d.describe()) for d in exc.duplicates]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line, with its position but without the snippet of the document."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        parts = [p for p in (exc.context, exc.problem) if p]
        return where + (", ".join(parts) or "syntax error")[:200]
    return str(exc).replace("\n", " ")[:200]


def read_metadata_file(path: Path, limit: int, label: str | None = None) -> tuple[Any, list[Finding]]:
    """Parse a YAML or JSON metadata file; problems are findings, never exceptions.

    A key given twice is ``E418`` for every repeat; the rest of the document (read as if the last
    value won) is still returned so that its other problems are reported at once, but the
    ``E418`` errors always reject it.
    """
    label = label or path.name
    text, findings = _read_text(path, limit, label)
    if text is None:
        return None, findings
    text = text.removeprefix("\ufeff")
    duplicates: list[Finding] = []
    if path.suffix.lower() == ".json":
        try:
            data = load_json(text)
        except safeyaml.DuplicateKeys as exc:
            data, duplicates = exc.data, _duplicate_findings(exc, label)
        except json.JSONDecodeError as exc:
            return None, [error("E412", label, f"is not valid JSON: {exc}")]
        except RecursionError:
            return None, [error("E412", label, "is not accepted: JSON nested too deeply")]
        except ValueError as exc:  # a number of more than 4,300 digits (CVE-2020-10735 limit); NaN
            return None, [error("E412", label, f"holds a value that cannot be read: {str(exc).split(';')[0][:200]}")]
        if _nesting(data) > safeyaml.MAX_DEPTH:  # the same bound as YAML's: METS and checks never recurse deeper
            return None, [error("E413", label, f"is refused: nested more than {safeyaml.MAX_DEPTH} levels deep")]
        return data, duplicates + unstorable_text(data, label)
    try:
        data = safeyaml.load(text)
    except safeyaml.DuplicateKeys as exc:
        data, duplicates = exc.data, _duplicate_findings(exc, label)
    except safeyaml.UnsafeYAML as exc:
        return None, [error("E413", label, f"is refused: {exc}")]
    except yaml.YAMLError as exc:
        return None, [error("E412", label, f"is not valid YAML: {_yaml_problem(exc)}")]
    if data is None:
        return {}, []
    return data, duplicates + unstorable_text(data, label)


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


def _header(cells: list[str], label: str) -> tuple[list[str | None], list[Finding]]:
    """The column names (NFC, without surrounding spaces) and every problem of the header line.

    A column without a name is ``E420``; a name given twice (after that normalisation) is
    ``E419``, and both of its columns are ignored: which one holds the values cannot be known.
    """
    names = [unicodedata.normalize("NFC", c).strip() for c in cells]
    out: list[Finding] = []
    first: dict[str, int] = {}
    repeated: set[str] = set()
    nameless = [str(number) for number, name in enumerate(names, 1) if not name]
    if nameless:
        which = (
            f"columns {', '.join(nameless[:-1])} and {nameless[-1]}" if len(nameless) > 1 else f"column {nameless[0]}"
        )
        them = "them" if len(nameless) > 1 else "it"
        out.append(
            error(
                "E420",
                f"{label}: line 1",
                f"{which} of the header {'have' if len(nameless) > 1 else 'has'} "
                f"no name; name {them}, or delete {them} (and any trailing comma)",
            )
        )
    for number, name in enumerate(names, 1):
        if not name:
            continue
        if name in first:
            repeated.add(name)
            out.append(
                error(
                    "E419",
                    f"{label}: column {safeyaml.label(name)}",
                    f"is in the header twice (columns {first[name]} and {number}); give each column once",
                )
            )
        else:
            first[name] = number
    return [n if n and n not in repeated else None for n in names], out


def read_files_csv(
    path: Path, limit: int, profile: Profile, payload_paths: set[str], label: str = "metadata/files.csv"
) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    """Per-file metadata keyed by payload path, checked against the profile's file fields.

    The first line is the header (a byte-order mark and CRLF line ends are fine, quoted cells
    may hold line breaks); findings name the line a row starts on. Every problem is reported:
    the header's (``E414`` no ``path`` column, ``E419`` a column twice, ``E420`` a column without
    a name, ``E401`` an unknown column) and then every row's.
    """
    text, findings = _read_text(path, limit, label)
    if text is None:
        return {}, findings
    out: dict[str, dict[str, Any]] = {}
    specs = {f.name: f for f in profile.file_fields}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header_cells = next(reader, None)
        if header_cells is None:
            return {}, [error("E414", label, "is empty; its first line must be the header, with a 'path' column")]
        names, problems = _header(header_cells, label)
        findings.extend(problems)
        if "path" not in names:
            if not any(p.path == f"{label}: column path" for p in problems):
                findings.append(error("E414", label, "needs a 'path' column naming each file relative to the payload"))
            return {}, findings
        for name in names:
            if name is not None and name != "path" and name not in specs and not profile.allow_extra_fields:
                findings.append(
                    error(
                        "E401",
                        f"{label}: column {safeyaml.label(name)}",
                        f"unknown file field; the profile's file fields are: {', '.join(specs) or 'none'}",
                    )
                )
        where_path = names.index("path")
        ended = reader.line_num
        for cells in reader:
            line, ended = ended + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line, or a row of empty cells
            if len(cells) > len(names) and any(c.strip() for c in cells[len(names) :]):
                findings.append(
                    error(
                        "E414",
                        f"{label}: line {line}",
                        f"has {len(cells)} cells, more than the {len(names)} columns of the header",
                    )
                )
                continue
            path_value = unicodedata.normalize("NFC", cells[where_path].strip()) if where_path < len(cells) else ""
            if not path_value:
                findings.append(error("E415", f"{label}: line {line}", "has no path; name a file of the submission"))
                continue
            if path_value not in payload_paths:
                findings.append(
                    error(
                        "E415",
                        f"{label}: line {line}",
                        f"path {safeyaml.shown(path_value)} is not a file of the submission",
                    )
                )
                continue
            if path_value in out:
                findings.append(
                    error("E416", f"{label}: line {line}", f"path {safeyaml.shown(path_value)} is listed twice")
                )
                continue
            cells = [c.replace("\r\n", "\n").replace("\r", "\n") for c in cells]  # as YAML reads line ends
            values = {
                name: _from_cell(specs.get(name), cell)
                for name, cell in zip(names, cells, strict=False)
                if name is not None and name != "path" and cell != "" and (name in specs or profile.allow_extra_fields)
            }
            findings.extend(unstorable_text(values, f"{label}: line {line}"))
            checked, problems = check_fields(
                profile.file_fields, values, profile.allow_extra_fields, f"{label}: line {line}"
            )
            findings.extend(problems)
            out[path_value] = checked
    except csv.Error as exc:
        findings.append(error("E414", f"{label}: line {reader.line_num}", f"is not valid CSV: {str(exc)[:200]}"))
    return out, findings

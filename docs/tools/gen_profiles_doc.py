"""Write the profile reference in docs/profiles.md from the bundled profiles in archive/profiles/bundled/.

    .venv/bin/python docs/tools/gen_profiles_doc.py           rewrite the generated section
    .venv/bin/python docs/tools/gen_profiles_doc.py --check   exit 1 if the section is out of date

Only the text between the BEGIN and END markers is replaced; the rest of docs/profiles.md is
written by hand. tests/test_docs.py fails when the section differs from what this script
produces, so the reference cannot drift from the profiles.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from archive.profiles import ProfileRegistry  # noqa: E402
from archive.profiles.model import FieldSpec, Profile  # noqa: E402

DOC = REPO / "docs" / "profiles.md"
PROFILES_DIR = REPO / "archive" / "profiles" / "bundled"
BEGIN = "<!-- BEGIN GENERATED PROFILE REFERENCE (docs/tools/gen_profiles_doc.py) -->"
END = "<!-- END GENERATED PROFILE REFERENCE -->"

FIELD_HEADER = "| field | type | required | repeatable | pattern / vocabulary | Dublin Core | description |"
EXTRA = {True: "true: unknown fields are kept, with warning W401",
         False: "false: unknown fields are errors (E401)"}
UNIDENTIFIED = {
    "accept": "accepted silently",
    "warn": "accepted with warning W201",
    "reject": "rejected with error E201",
}


def load_profiles(directory: Path = PROFILES_DIR) -> list[Profile]:
    """Every profile in ``directory``, resolved (inheritance applied), sorted by id."""
    return ProfileRegistry([directory]).all()


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def _constraint(spec: FieldSpec) -> str:
    parts = []
    if spec.pattern:
        parts.append("pattern " + _code(spec.pattern))
    if spec.vocabulary:
        parts.append("one of " + ", ".join(_code(v) for v in spec.vocabulary))
    return "; ".join(parts)


def _rows(specs: tuple[FieldSpec, ...], shown: set[str] | None, inherited: set[str], parent: str,
          prefix: str = "") -> list[str]:
    """One table row per field in ``shown`` (None: every field), sub-fields of objects after it."""
    rows = []
    for spec in specs:
        if shown is not None and spec.name not in shown:
            continue
        name = _code(prefix + spec.name)
        if not prefix and spec.name in inherited:
            name += f" (from `{parent}`, changed here)"
        rows.append(f"| {name} | {spec.type} | {'yes' if spec.required else 'no'} | "
                    f"{'yes' if spec.repeatable else 'no'} | {_constraint(spec)} | "
                    f"{_code('dc:' + spec.dc) if spec.dc else ''} | {_cell(spec.description)} |")
        if spec.fields:
            rows.extend(_rows(spec.fields, None, set(), parent, f"{prefix}{spec.name}."))
    return rows


def _field_table(title: str, specs: tuple[FieldSpec, ...], own_raw: object, parent: Profile | None,
                 parent_specs: tuple[FieldSpec, ...]) -> list[str]:
    """All fields for a root profile; for a child, the fields it adds or changes, then the rest by name."""
    own = set(own_raw) if isinstance(own_raw, dict) else set()
    inherited = {f.name for f in parent_specs}
    lines = [f"#### {title}", ""]
    shown: set[str] | None = None
    if parent is not None:
        shown = own
        unchanged = [f.name for f in specs if f.name in inherited and f.name not in own]
        if unchanged:
            chain = " → ".join(f"`{p}`" for p in (parent.id, *parent.extends))
            lines.append(f"Inherited unchanged from {chain}: " + ", ".join(_code(n) for n in unchanged) + ".")
            lines.append("")
    rows = _rows(specs, shown, inherited, parent.id if parent else "")
    if rows:
        lines += [FIELD_HEADER, "|---|---|---|---|---|---|---|", *rows]
    else:
        lines.append("No fields of its own.")
    lines.append("")
    return lines


def _format_notes(profile: Profile) -> dict[str, str]:
    """The comment after each PUID in the profile's YAML file (``- fmt/43  # why``)."""
    try:
        text = Path(profile.source).read_text(encoding="utf-8")
    except OSError:
        return {}
    notes = {}
    for m in re.finditer(r"^\s*-\s*((?:x-)?fmt/\d+)\s*#\s*(.*?)\s*$", text, re.MULTILINE):
        notes[m[1]] = m[2]
    return notes


def _format_policy(profile: Profile) -> list[str]:
    policy = profile.formats
    notes = _format_notes(profile)
    lines = ["#### Format policy", ""]
    lines.append("| list | PUID | note (from the profile file) |")
    lines.append("|---|---|---|")
    if policy.accepted:
        lines += [f"| accepted | {_code(p)} | {_cell(notes.get(p, ''))} |" for p in policy.accepted]
    else:
        lines.append("| accepted | (every identified format not listed as rejected) | |")
    for label, puids, code in (("warned", policy.warned, "W202"), ("rejected", policy.rejected, "E202")):
        if puids:
            lines += [f"| {label} ({code}) | {_code(p)} | {_cell(notes.get(p, ''))} |" for p in puids]
        else:
            lines.append(f"| {label} ({code}) | (none) | |")
    lines.append(f"| unidentified | {policy.unidentified} | {UNIDENTIFIED[policy.unidentified]} |")
    lines.append("")
    return lines


def _access(profile: Profile) -> str:
    rules = [" and ".join(f"`{k}` is `{_yaml_value(v)}`" for k, v in r.when) + f" → `{r.level}`"
             for r in profile.access.rules]
    return "; ".join(f"({i}) {r}" for i, r in enumerate(rules, 1)) if rules else "none"


def _access_default(profile: Profile) -> str:
    until = profile.access.embargo_until
    return f"`{profile.access.default}`" + (f" until {until.isoformat()}" if until else "")


def _loosen(profile: Profile) -> str:
    levels = profile.access.submitter_may_loosen
    return ", ".join(f"`{v}`" for v in levels) if levels else "nothing: a submission may only tighten it"


def _visible(profile: Profile) -> str:
    narrowed = profile.access.metadata_visible_to
    if not narrowed:
        return "as the access matrix says (docs/access.md)"
    shown = "; ".join(f"`{level}`: {', '.join(roles) or 'nobody'} only" for level, roles in narrowed)
    return f"{shown}; other levels as the access matrix says"


def _retention(profile: Profile) -> str:
    if not profile.retention:
        return "none: packages are kept indefinitely (docs/retention.md)"
    items = [f"`{r.name}`: {r.then} {r.keep.describe()} after "
             + ("ingest" if r.start == "ingest" else f"`{r.start}`") for r in profile.retention]
    return "; ".join(f"({i}) {r}" for i, r in enumerate(items, 1))


def _yaml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_profile(profile: Profile, by_id: dict[str, Profile]) -> list[str]:
    parent = by_id.get(profile.extends[0]) if profile.extends else None
    try:
        source = Path(profile.source).resolve().relative_to(REPO).as_posix()
    except ValueError:
        source = Path(profile.source).name
    lines = [f"### `{profile.id}` {profile.version}: {_cell(profile.title)}", ""]
    if profile.description:
        lines += [_cell(profile.description), ""]
    lines += [
        "| setting | value |",
        "|---|---|",
        f"| file | `{source}` |",
        f"| extends | {' → '.join(f'`{p}`' for p in profile.extends) if profile.extends else '(nothing)'} |",
        f"| checksums | {', '.join(profile.checksums)} |",
        f"| fixity_interval_days | {profile.fixity_interval_days} |",
        f"| allow_extra_fields | {EXTRA[profile.allow_extra_fields]} |",
        f"| access default | {_access_default(profile)} |",
        f"| access rules | {_access(profile)} |",
        f"| submitters may loosen access to | {_loosen(profile)} |",
        f"| metadata visible to | {_visible(profile)} |",
        f"| retention | {_retention(profile)} |",
        "",
    ]
    lines += _format_policy(profile)
    lines += _field_table("Fields (`metadata.yaml`)", profile.fields, profile.raw.get("fields"), parent,
                          parent.fields if parent else ())
    lines += _field_table("File fields (`metadata/files.csv` columns)", profile.file_fields,
                          profile.raw.get("file_fields"), parent, parent.file_fields if parent else ())
    return lines


def render(profiles: list[Profile]) -> str:
    """The generated reference section, without the markers."""
    by_id = {p.id: p for p in profiles}
    lines = ["", "This section is generated from `archive/profiles/bundled/*.yaml` by `docs/tools/gen_profiles_doc.py`; "
             "do not edit it by hand.", ""]
    lines += ["| profile | version | extends | fields | file fields | access default | fixity every "
              "| unidentified |", "|---|---|---|---|---|---|---|---|"]
    for p in profiles:
        lines.append(f"| `{p.id}` | {p.version} | {' → '.join(p.extends) or '-'} | {len(p.fields)} | "
                     f"{len(p.file_fields)} | `{p.access.default}` | {p.fixity_interval_days} days | "
                     f"{p.formats.unidentified} |")
    lines.append("")
    for p in profiles:
        lines += render_profile(p, by_id)
    return "\n".join(lines).rstrip("\n") + "\n"


def replace_section(text: str, generated: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{DOC}: markers {BEGIN!r} and {END!r} not found")
    return text[: start + len(BEGIN)] + "\n" + generated + text[end:]


def current_section(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return ""
    return text[start + len(BEGIN) + 1: end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/profiles.md is out of date")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    generated = render(load_profiles())
    if args.check:
        if current_section(text) != generated:
            script = Path(__file__).resolve().relative_to(REPO)
            print(f"{DOC.relative_to(REPO)} is out of date: run {script}", file=sys.stderr)
            return 1
        print(f"{DOC.relative_to(REPO)} is up to date")
        return 0
    new = replace_section(text, generated)
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"wrote the profile reference in {DOC.relative_to(REPO)}")
    else:
        print(f"{DOC.relative_to(REPO)} was already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

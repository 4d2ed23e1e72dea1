"""The documentation cannot drift from the code.

* every command and subcommand of ``archive`` answers ``--help`` and has a ``## archive <path>``
  section in docs/cli.md naming its options and arguments (a command added later must be
  documented there too);
* docs/profiles.md holds the generated reference of every bundled profile exactly as
  docs/tools/gen_profiles_doc.py writes it now, and the profile file format it describes
  covers every key the loader accepts; its worked example profile loads;
* every error and finding code used in ``archive/`` is documented, and the codes docs/architecture.md
  lists exist;
* every relative link in README.md and docs/ points at an existing file (and heading);
* every decision record is listed in docs/decisions/README.md.
"""

from __future__ import annotations

import importlib.util
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click
import pytest
from click.testing import CliRunner

from archive.cli import main
from archive.profiles import ProfileRegistry
from archive.profiles.loader import ACCESS_KEYS, FIELD_KEYS, FORMAT_KEYS, TOP_KEYS
from archive.profiles.model import FIELD_TYPES, FieldSpec

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
CLI_DOC = DOCS / "cli.md"
PROFILES_DOC = DOCS / "profiles.md"
ARCHITECTURE_DOC = DOCS / "architecture.md"
DECISIONS = DOCS / "decisions"
GENERATOR = DOCS / "tools" / "gen_profiles_doc.py"

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_LITERAL = re.compile(r"""["']([EW]\d{3})["']""")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _without_code_blocks(text: str) -> str:
    return FENCE.sub("", text)


# -- the command line ------------------------------------------------------------------------


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or getattr(command, "hidden", False):
            continue
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


COMMANDS = sorted(_commands(main), key=lambda item: item[0])
HEADING = re.compile(r"^## (archive(?: [a-z0-9][a-z0-9_-]*)+)[ \t]*$", re.MULTILINE)


def _cli_sections() -> dict[str, str]:
    """``archive <path>`` -> the text of its section (up to the next level-2 heading)."""
    text = _read(CLI_DOC)
    heads = [(m.group(1), m.end()) for m in HEADING.finditer(text)]
    sections = {}
    for name, start in heads:
        nxt = re.search(r"^## ", text[start:], re.MULTILINE)
        sections[name] = text[start : start + nxt.start()] if nxt else text[start:]
    return sections


def test_cli_has_commands() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"ingest", "validate", "list", "show", "export", "bag validate", "profiles list"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_answers_help(path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path))
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="archive")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: archive "), result.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_is_documented(path: tuple[str, ...]) -> None:
    name = "archive " + " ".join(path)
    sections = _cli_sections()
    assert name in sections, f"docs/cli.md has no section '## {name}': document the command there"
    section = sections[name]
    command = dict(COMMANDS)[path]
    for param in command.params:
        if isinstance(param, click.Option):
            if param.hidden:
                continue
            longest = max(param.opts + param.secondary_opts, key=len)
            assert longest in section, f"docs/cli.md, section '## {name}': option {longest} is not described"
        elif isinstance(param, click.Argument):
            metavar = param.human_readable_name.upper()
            assert metavar in section, f"docs/cli.md, section '## {name}': argument {metavar} is not described"


def test_cli_doc_documents_only_existing_commands() -> None:
    existing = {"archive " + " ".join(path) for path, _ in COMMANDS}
    stale = sorted(set(_cli_sections()) - existing)
    assert not stale, f"docs/cli.md documents commands that do not exist: {stale}"


# -- profiles --------------------------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_profiles_doc", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _field_names(specs: tuple[FieldSpec, ...], prefix: str = "") -> Iterator[str]:
    for spec in specs:
        yield prefix + spec.name
        yield from _field_names(spec.fields, f"{prefix}{spec.name}.")


def test_profile_reference_is_generated_from_the_bundled_profiles() -> None:
    gen = _generator()
    expected = gen.render(gen.load_profiles())
    current = gen.current_section(_read(PROFILES_DOC))
    assert current == expected, (
        "the profile reference in docs/profiles.md is out of date: run .venv/bin/python docs/tools/gen_profiles_doc.py"
    )


def test_every_field_of_every_bundled_profile_is_documented() -> None:
    text = _read(PROFILES_DOC)
    profiles = ProfileRegistry([REPO / "archive" / "profiles" / "bundled"]).all()
    assert {p.id for p in profiles} >= {"base", "heritage", "legal", "research"}
    for profile in profiles:
        heading = f"### `{profile.id}` {profile.version}"
        assert heading in text, f"profile {profile.id} is not in docs/profiles.md"
        for name in [*_field_names(profile.fields), *_field_names(profile.file_fields)]:
            assert f"`{name}`" in text, f"field {name} of profile {profile.id} is not in docs/profiles.md"


def test_profile_format_doc_covers_every_key_the_loader_accepts() -> None:
    text = _read(PROFILES_DOC)
    for key in sorted(TOP_KEYS | FIELD_KEYS | FORMAT_KEYS | ACCESS_KEYS) + list(FIELD_TYPES):
        assert f"`{key}`" in text, f"docs/profiles.md does not describe `{key}`"


def test_worked_example_profile_loads(tmp_path: Path) -> None:
    text = _read(PROFILES_DOC)
    match = re.search(r"<!-- example profile: ([a-z0-9_-]+) -->\s*\n(\s*)```yaml\n(.*?)\n\s*```", text, re.DOTALL)
    assert match, "docs/profiles.md: the worked example profile block was not found"
    name, body = match.group(1), textwrap.dedent(match.group(3))
    (tmp_path / f"{name}.yaml").write_text(body, encoding="utf-8")
    profile = ProfileRegistry([tmp_path, REPO / "archive" / "profiles" / "bundled"]).get(name)
    assert profile.extends == ("base",)
    language = profile.field("language")
    assert language is not None and language.required and language.pattern  # merged with base's definition


# -- error and finding codes -----------------------------------------------------------------


def _codes_in_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "archive").rglob("*.py")):
        for code in CODE_LITERAL.findall(_read(path)):
            found.setdefault(code, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_code_is_documented() -> None:
    docs = "\n".join(_read(p) for p in sorted(DOCS.rglob("*.md")))
    missing = {code: sorted(where) for code, where in _codes_in_code().items() if code not in docs}
    assert not missing, f"codes used in archive/ but documented nowhere in docs/: {missing}"


def test_documented_codes_exist() -> None:
    listed = set(re.findall(r"`([EW]\d{3})`", _read(ARCHITECTURE_DOC)))
    stale = sorted(listed - set(_codes_in_code()))
    assert not stale, f"docs/architecture.md lists codes that archive/ no longer uses: {stale}"


# -- links -----------------------------------------------------------------------------------

DOC_FILES = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]|<[^>]*>", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", _without_code_blocks(_read(path)), re.MULTILINE):
        slug, n = _slug(heading), 1
        while slug in anchors:
            slug = f"{_slug(heading)}-{n}"
            n += 1
        anchors.add(slug)
    return anchors


def _links(path: Path) -> Iterator[str]:
    text = _without_code_blocks(_read(path))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    yield from INLINE_LINK.findall(text)
    yield from REFERENCE_LINK.findall(text)


@pytest.mark.parametrize("doc", DOC_FILES, ids=[str(p.relative_to(REPO)) for p in DOC_FILES])
def test_relative_links_point_at_existing_files(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):
            continue  # http:, https:, mailto: ...
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(REPO)})")
    assert not broken, f"{doc.relative_to(REPO)}: broken links: {broken}"


# -- decision records ------------------------------------------------------------------------


def test_every_decision_record_is_indexed() -> None:
    index = _read(DECISIONS / "README.md")
    records = sorted(p.name for p in DECISIONS.glob("*.md") if p.name != "README.md")
    missing = [name for name in records if f"({name})" not in index]
    assert not missing, f"docs/decisions/README.md does not list: {missing}"

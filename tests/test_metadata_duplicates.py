"""A key given twice in metadata.yaml / metadata.json is always refused, never resolved.

Documents are generated (hypothesis) as trees whose mappings are lists of pairs, written out
as YAML (block and flow style mixed at random) or JSON (random layout) by the small emitters
below, which note the line of every key. Then:

* a document without repeated keys parses to exactly what ``yaml.safe_load`` / ``json.loads``
  make of it;
* the same document with keys repeated at random depths and positions (spelled the same, or
  colliding only after the normalisation the profile checker applies: ``1`` and ``"1"``, ``1``
  and ``true``, surrounding spaces, Unicode NFC) is refused, every repeat named with the lines
  of both keys, and ``read_metadata_file`` turns each into an ``E418`` error.
"""

from __future__ import annotations

import json
import random
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import safeyaml
from archive.submission.metadata import load_json, read_metadata_file

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Map(list):  # type: ignore[type-arg]
    """A mapping as the list of its [key, value] pairs (so that a key can be given twice)."""


def same_name(key: Any) -> str:
    """When two keys are one name (written independently of archive.safeyaml)."""
    return unicodedata.normalize("NFC", key if isinstance(key, str) else str(key)).strip()


def one_key(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are one name, or one Python dict key (1 and true)."""
    return same_name(a) == same_name(b) or a == b


# -- generated trees -------------------------------------------------------------------------

#: characters PyYAML reads as they are inside quotes (no controls, no line separators, no BOM)
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\ufeff\ufffe\uffff"),
    max_size=12,
)
STR_KEYS = st.one_of(
    st.sampled_from(["title", "access_level", "name", "creators", "1", "True", "None", "a b"]),
    TEXT.filter(lambda s: len(s.strip()) > 0),
)
YAML_KEYS = st.one_of(STR_KEYS, st.integers(-5, 2000), st.booleans(), st.none())
SCALARS = st.one_of(
    TEXT,
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


def trees(keys: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def collections(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        pairs = st.lists(
            st.tuples(keys, children), max_size=5, unique_by=(lambda kv: same_name(kv[0]), lambda kv: kv[0])
        )
        return st.one_of(st.lists(children, max_size=4), pairs.map(lambda ps: Map([list(p) for p in ps])))

    top = st.lists(
        st.tuples(keys, st.recursive(SCALARS, collections, max_leaves=12)),
        min_size=1,
        max_size=6,
        unique_by=(lambda kv: same_name(kv[0]), lambda kv: kv[0]),
    )
    return top.map(lambda ps: Map([list(p) for p in ps]))


def maps_in(tree: Any) -> list[Map]:
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Map):
            found.append(node)
            stack += [v for _, v in node]
        elif isinstance(node, list):
            stack += node
    return found


def variants(key: Any) -> list[Any]:
    """Keys that name the same field as ``key``."""
    out = [key]
    if isinstance(key, str):
        out += [f" {key}", f"{key} "]
        if unicodedata.normalize("NFD", key) != key:
            out.append(unicodedata.normalize("NFD", key))
    else:
        out.append(str(key))
        if key is True or key == 1:
            out += [1, True]
        if key is False or key == 0:
            out += [0, False]
    return out


def add_repeats(tree: Map, rnd: random.Random, count: int, json_keys: bool) -> list[list[Any]]:
    """Repeat ``count`` keys of the tree's mappings, each at a random position; the new pairs."""
    added = []
    for _ in range(count):
        target = rnd.choice([m for m in maps_in(tree) if m])
        key = rnd.choice(target)[0]
        again = rnd.choice([v for v in variants(key) if isinstance(v, str) or not json_keys])
        pair = [again, rnd.choice(["repeated", 0, None, True])]
        target.insert(rnd.randint(0, len(target)), pair)
        added.append(pair)
    return added


# -- emitters that note each key's line --------------------------------------------------------


def yaml_scalar(value: Any) -> str:
    flow = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=2**30)
    if flow.startswith("[") and flow.endswith("]\n") and "\n" not in flow[:-1]:
        return flow[1:-2]
    return json.dumps(value, ensure_ascii=False)  # a double-quoted YAML scalar


def emit_yaml(tree: Map, rnd: random.Random) -> tuple[str, dict[int, int]]:
    lines: list[str] = []
    line_of: dict[int, int] = {}

    def inline(node: Any) -> str:
        if isinstance(node, Map):
            parts = []
            for pair in node:
                line_of[id(pair)] = len(lines) + 1
                parts.append(f"{yaml_scalar(pair[0])}: {inline(pair[1])}")
            return "{" + ", ".join(parts) + "}"
        if isinstance(node, list):
            return "[" + ", ".join(inline(item) for item in node) + "]"
        return yaml_scalar(node)

    def block(node: Any, indent: int) -> None:
        pad = " " * indent
        items = (
            [(pair, f"{yaml_scalar(pair[0])}:", pair[1]) for pair in node]
            if isinstance(node, Map)
            else [(None, "-", item) for item in node]
        )
        for pair, lead, value in items:
            if pair is not None:
                line_of[id(pair)] = len(lines) + 1
            if isinstance(value, list) and value and rnd.random() < 0.7:
                lines.append(pad + lead)
                block(value, indent + 2)
            else:
                lines.append(f"{pad}{lead} {inline(value)}")

    block(tree, 0)
    return "\n".join(lines) + "\n", line_of


def emit_json(tree: Any, rnd: random.Random) -> tuple[str, dict[int, int]]:
    out: list[str] = []
    line = [1]
    line_of: dict[int, int] = {}

    def put(text: str) -> None:
        out.append(text)
        line[0] += text.count("\n")

    def space(depth: int) -> None:
        put(rnd.choice(["", " ", "\n" + "  " * depth, "\r\n\t"]))

    def value(node: Any, depth: int) -> None:
        if isinstance(node, Map):
            put("{")
            for i, pair in enumerate(node):
                if i:
                    put(",")
                space(depth + 1)
                line_of[id(pair)] = line[0]
                put(json.dumps(pair[0], ensure_ascii=rnd.random() < 0.5))
                space(depth + 1)
                put(":")
                space(depth + 1)
                value(pair[1], depth + 1)
            space(depth)
            put("}")
        elif isinstance(node, list):
            put("[")
            for i, item in enumerate(node):
                if i:
                    put(",")
                space(depth + 1)
                value(item, depth + 1)
            put("]")
        else:
            put(json.dumps(node))

    space(0)
    value(tree, 0)
    space(0)
    return "".join(out), line_of


def repeats(tree: Map) -> int:
    """How many keys name the same key as one before them in their mapping."""
    return sum(
        1 for m in maps_in(tree) for i, (key, _) in enumerate(m) if any(one_key(key, earlier) for earlier, _ in m[:i])
    )


def check_refused(exc: safeyaml.DuplicateKeys, tree: Map, line_of: dict[int, int], text: str) -> None:
    assert len(exc.duplicates) == repeats(tree), (text, exc.duplicates)
    for d in exc.duplicates:
        assert d.line and d.first_line and one_key(d.key, d.first), d
        assert any(
            line_of[id(a)] == d.first_line
            and line_of[id(b)] == d.line
            and one_key(a[0], d.first)
            and one_key(b[0], d.key)
            for m in maps_in(tree)
            for a in m
            for b in m
            if a is not b
        ), (text, d)


# -- YAML ------------------------------------------------------------------------------------


@FAST
@given(trees(YAML_KEYS), st.randoms(use_true_random=False))
def test_yaml_without_repeated_keys_reads_as_safe_load_does(tree: Map, rnd: random.Random) -> None:
    text, _ = emit_yaml(tree, rnd)
    assert safeyaml.load(text) == yaml.safe_load(text)


@FAST
@given(trees(YAML_KEYS), st.randoms(use_true_random=False), st.integers(1, 3))
def test_yaml_with_a_repeated_key_anywhere_is_refused(tree: Map, rnd: random.Random, count: int) -> None:
    add_repeats(tree, rnd, count, json_keys=False)
    text, line_of = emit_yaml(tree, rnd)
    with pytest.raises(safeyaml.DuplicateKeys) as caught:
        safeyaml.load(text)
    check_refused(caught.value, tree, line_of, text)
    assert caught.value.data == yaml.safe_load(text)  # what the rest of the document is checked as


# -- JSON ------------------------------------------------------------------------------------


@FAST
@given(trees(STR_KEYS), st.randoms(use_true_random=False))
def test_json_without_repeated_keys_reads_as_json_loads_does(tree: Map, rnd: random.Random) -> None:
    text, _ = emit_json(tree, rnd)
    assert load_json(text) == json.loads(text)


@FAST
@given(trees(STR_KEYS), st.randoms(use_true_random=False), st.integers(1, 3))
def test_json_with_a_repeated_key_anywhere_is_refused(tree: Map, rnd: random.Random, count: int) -> None:
    add_repeats(tree, rnd, count, json_keys=True)
    text, line_of = emit_json(tree, rnd)
    with pytest.raises(safeyaml.DuplicateKeys) as caught:
        load_json(text)
    check_refused(caught.value, tree, line_of, text)


# -- what a submitter reads ------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(trees(STR_KEYS), st.randoms(use_true_random=False), st.integers(1, 3), st.booleans())
def test_read_metadata_file_makes_an_e418_error_of_every_repeat(
    tree: Map, rnd: random.Random, count: int, as_json: bool
) -> None:
    add_repeats(tree, rnd, count, json_keys=True)
    text, _ = (emit_json if as_json else emit_yaml)(tree, rnd)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("metadata.json" if as_json else "metadata.yaml")
        path.write_text(text, encoding="utf-8")
        _, findings = read_metadata_file(path, 1_000_000)
    refused = [f for f in findings if f.code == "E418"]
    assert len(refused) == repeats(tree) >= 1 and all(f.is_error for f in refused), findings
    for f in refused:
        assert f.path.startswith(path.name + ": ") and f.message.count("line ") == 2, f
        assert len(f.message) < 400, f


@pytest.mark.parametrize(
    "name, text, where, lines",
    [
        (
            "metadata.yaml",
            "title: T\naccess_level: restricted\ncollection: C\naccess_level: open\n",
            "access_level",
            (2, 4),
        ),
        ("metadata.yaml", "creators:\n  - name: Ada\n    orcid: x\n    name: Grace\n", "creators[0].name", (2, 4)),
        ("metadata.yaml", "1: a\n'1': b\n", "1", (1, 2)),
        ("metadata.yaml", "1: a\ntrue: b\n", "True", (1, 2)),
        ("metadata.yaml", '"title ": a\ntitle: b\n', "title", (1, 2)),
        ("metadata.yaml", "caf\u00e9: a\ncafe\u0301: b\n", "cafe\u0301", (1, 2)),
        ("metadata.yaml", "{access_level: restricted, access_level: open}\n", "access_level", (1, 1)),
        (
            "metadata.json",
            '{"title": "T",\n "access_level": "restricted",\n "access_level": "open"}',
            "access_level",
            (2, 3),
        ),
        (
            "metadata.json",
            '{"creators": [{"name": "Ada"}, {"name": "Ada",\n"name": "Grace"}]}',
            "creators[1].name",
            (1, 2),
        ),
        ("metadata.json", '{"a": {"b": {"c": 1, " c": 2}}}', "a.b.' c'", (1, 1)),
    ],
)
def test_a_repeated_key_is_named_with_both_lines(
    tmp_path: Path, name: str, text: str, where: str, lines: tuple[int, int]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    _, findings = read_metadata_file(path, 1_000_000)
    repeats = [f for f in findings if f.code == "E418"]
    assert [f.path for f in repeats] == [f"{name}: {where}"], findings
    first, again = lines
    assert f"line {first}" in repeats[0].message and f"line {again}" in repeats[0].message
    if first == again:
        assert "column" in repeats[0].message


def test_every_repeat_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    from archive.profiles import BUNDLED_PROFILES, ProfileRegistry
    from archive.profiles.rules import validate_metadata

    path = tmp_path / "metadata.yaml"
    path.write_text(
        "title: A\ntitle: B\naccession_number: seventeen\naccess_level: restricted\naccess_level: open\ncolour: red\n",
        encoding="utf-8",
    )
    data, findings = read_metadata_file(path, 1_000_000)
    _, problems = validate_metadata(ProfileRegistry([BUNDLED_PROFILES]).get("heritage"), data, path.name)
    codes = sorted(f.code for f in [*findings, *problems])
    assert codes.count("E418") == 2 and "E406" in codes and "E401" in codes, codes


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: 1\n<<: {a: 2}\n", "merge keys"),
        ("base: &b {a: 1}\nother:\n  <<: *b\n", "aliases"),
        ("year: 0012\n", "octal"),
        ("time: 12:30\n", "base-60"),
        ("s: !!set {a, b}\n", "!!set"),
        ("o: !!omap [a: 1, a: 2]\n", "!!omap"),
        ("b: !!binary aGVsbG8=\n", "!!binary"),
    ],
)
def test_yaml_that_would_be_read_surprisingly_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "metadata.yaml"
    path.write_text(text, encoding="utf-8")
    data, findings = read_metadata_file(path, 1_000_000)
    assert data is None and [f.code for f in findings] == ["E413"] and expected in findings[0].message, findings


def test_json_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'):
        path.write_text(text, encoding="utf-8")
        assert [f.code for f in read_metadata_file(path, 1000)[1]] == ["E412"]
    path.write_text('\ufeff{"title": "T"}', encoding="utf-8")
    assert read_metadata_file(path, 1000) == ({"title": "T"}, [])


def test_profiles_and_settings_refuse_repeated_keys_too(tmp_path: Path) -> None:
    from archive.errors import ProfileError
    from archive.profiles import ProfileRegistry

    (tmp_path / "x.yaml").write_text("id: x\nversion: '1'\nfields:\n  a: {type: string}\n  a: {type: date}\n")
    with pytest.raises(ProfileError, match=r"fields\.a: is given twice, first on line 4 and again on line 5"):
        ProfileRegistry([tmp_path]).get("x")

"""metadata/files.csv: what is written is what is read, and a header that is ambiguous is refused.

Generated tables (hypothesis) are written with the csv module in every dialect a spreadsheet
may produce (CRLF or LF line ends, minimal or full quoting, a byte-order mark or none, cells
holding commas, quotes and line breaks, header names with spaces around them) and must read
back to the same values. A column named twice (``E419``, also after spaces are trimmed) or a
column without a name (``E420``) is refused; the other columns are still read.
"""

from __future__ import annotations

import csv
import functools
import io
import random
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import Finding
from archive.profiles import BUNDLED_PROFILES, ProfileRegistry
from archive.profiles.loader import build_profile
from archive.profiles.model import Profile
from archive.submission.metadata import read_files_csv

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["caption", "notes", "role_of_file", "x1", "summary", "part_b"]
CELL = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufeff\ufffe\uffff"),
        st.sampled_from([",", '"', "\n", "\r\n", " ", ";"]),
    ),
    max_size=15,
).map("".join)
PATH = (
    st.text(
        st.characters(
            codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\ufeff\ufffe\uffff"
        ),
        min_size=1,
        max_size=12,
    )
    .map(lambda s: unicodedata.normalize("NFC", s).strip())
    .filter(bool)
)


@functools.cache
def _base() -> Profile:
    return ProfileRegistry([BUNDLED_PROFILES]).get("base")


def profile_with(columns: list[str]) -> Profile:
    base = _base()
    raw = {"id": "csvtest", "version": "1", "file_fields": {name: {"type": "text"} for name in columns}}
    return build_profile(raw, base, "csvtest.yaml")


@st.composite
def tables(draw: Any) -> tuple[list[str], list[list[str]]]:
    columns = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    header = list(columns)
    header.insert(draw(st.integers(0, len(header))), "path")
    paths = draw(st.lists(PATH, min_size=1, max_size=6, unique=True))
    rows = [[p if name == "path" else draw(CELL) for name in header] for p in paths]
    return header, rows


def write(header: list[str], rows: list[list[str]], rnd: random.Random) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer, lineterminator=rnd.choice(["\r\n", "\n"]), quoting=rnd.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
    )
    writer.writerow([rnd.choice(["", " ", "  "]) + name + rnd.choice(["", " "]) for name in header])
    writer.writerows(rows)
    return rnd.choice(["", "\ufeff"]) + buffer.getvalue()


def read(text: str, profile: Profile, paths: set[str]) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "files.csv"
        path.write_text(text, encoding="utf-8", newline="")
        return read_files_csv(path, 1_000_000, profile, paths)


def expected(header: list[str], row: list[str], skip: set[str] = frozenset()) -> dict[str, str]:  # type: ignore[assignment]
    values = {}
    for name, cell in zip(header, row, strict=False):
        text = cell.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        if name != "path" and name not in skip and cell != "" and text:
            values[name] = text
    return values


def blank_cells(header: list[str], row: list[str]) -> bool:
    """A cell of line breaks only is a value that is empty (E402), not "no value"."""
    return any(
        name != "path" and cell != "" and not cell.replace("\r", "").strip("\n")
        for name, cell in zip(header, row, strict=False)
    )


@FAST
@given(tables(), st.randoms(use_true_random=False))
def test_files_csv_reads_back_what_was_written(table: tuple[list[str], list[list[str]]], rnd: random.Random) -> None:
    header, rows = table
    values, findings = read(
        write(header, rows, rnd),
        profile_with([n for n in header if n != "path"]),
        {row[header.index("path")] for row in rows},
    )
    for row in rows:
        if blank_cells(header, row):
            assert any(f.code == "E402" for f in findings)
            continue
        assert values[row[header.index("path")]] == expected(header, row), findings
    assert all(f.code == "E402" for f in findings), findings


@FAST
@given(tables(), st.randoms(use_true_random=False))
def test_a_column_named_twice_is_refused_and_never_read(
    table: tuple[list[str], list[list[str]]], rnd: random.Random
) -> None:
    header, rows = table
    twice = rnd.choice(header)
    at = rnd.randint(0, len(header))
    header2 = [*header[:at], twice, *header[at:]]
    rows2 = [[*row[:at], "second value", *row[at:]] for row in rows]
    values, findings = read(
        write(header2, rows2, rnd),
        profile_with([n for n in header if n != "path"]),
        {row[header.index("path")] for row in rows},
    )
    refused = [f for f in findings if f.code == "E419"]
    assert len(refused) == 1 and refused[0].path == f"metadata/files.csv: column {twice}", findings
    if twice == "path":
        assert values == {}
        return
    for row in rows:
        got = values.get(row[header.index("path")], {})
        assert twice not in got
        if not blank_cells(header, row):
            assert got == expected(header, row, {twice})


@FAST
@given(tables(), st.randoms(use_true_random=False), st.sampled_from(["", " ", "\t"]))
def test_a_column_without_a_name_is_refused(
    table: tuple[list[str], list[list[str]]], rnd: random.Random, blank: str
) -> None:
    header, rows = table
    at = rnd.randint(0, len(header))
    header2 = [*header[:at], blank, *header[at:]]
    rows2 = [[*row[:at], "value", *row[at:]] for row in rows]
    values, findings = read(
        write(header2, rows2, rnd),
        profile_with([n for n in header if n != "path"]),
        {row[header.index("path")] for row in rows},
    )
    assert [f.code for f in findings if f.code != "E402"] == ["E420"], findings
    assert f"column {at + 1} " in next(f.message for f in findings if f.code == "E420")
    for row in rows:
        if not blank_cells(header, row):
            assert values[row[header.index("path")]] == expected(header, row)


def test_header_with_bom_crlf_and_quoted_line_breaks(tmp_path: Path) -> None:
    heritage = ProfileRegistry([BUNDLED_PROFILES]).get("heritage")
    path = tmp_path / "files.csv"
    path.write_bytes(
        b'\xef\xbb\xbfpath, caption ,"role"\r\n"a.txt","Two\r\nlines, and ""quotes""",master\r\n'
        b'\r\n"u\xcc\x88.txt",,access\r\n'
    )  # u + combining diaeresis (NFD), read as NFC
    values, findings = read_files_csv(path, 10_000, heritage, {"a.txt", "\u00fc.txt"})
    assert findings == []
    assert values == {
        "a.txt": {"caption": 'Two\nlines, and "quotes"', "role": "master"},
        "\u00fc.txt": {"role": "access"},
    }


@pytest.mark.parametrize(
    "text, codes",
    [
        ("path,caption,path\na.txt,x,b.txt\n", ["E419"]),
        ("path,caption, caption\na.txt,x,y\n", ["E419"]),
        ("path,caption,\na.txt,x,\n", ["E420"]),
        ("path,,caption,,\na.txt,,x,,\n", ["E420"]),
        ("", ["E414"]),
        ("caption\nx\n", ["E414"]),
        ("path,caption\na.txt,x,,\n", []),  # trailing empty cells, as spreadsheets write them
        ("path,caption\na.txt,x,y\n", ["E414"]),
        (",,,\npath,caption\n", ["E414", "E420"]),
    ],
)
def test_header_problems(tmp_path: Path, text: str, codes: list[str]) -> None:
    heritage = ProfileRegistry([BUNDLED_PROFILES]).get("heritage")
    path = tmp_path / "files.csv"
    path.write_text(text, encoding="utf-8")
    _, findings = read_files_csv(path, 10_000, heritage, {"a.txt", "b.txt"})
    assert sorted(f.code for f in findings) == sorted(codes), findings


def test_row_findings_name_the_line_the_row_starts_on(tmp_path: Path) -> None:
    heritage = ProfileRegistry([BUNDLED_PROFILES]).get("heritage")
    path = tmp_path / "files.csv"
    path.write_text(
        'path,caption\na.txt,"one\ntwo\nthree"\nmissing.txt,x\n' + "\x1b[2J" * 100 + ",y\n", encoding="utf-8"
    )
    _, findings = read_files_csv(path, 10_000, heritage, {"a.txt"})
    assert [(f.code, f.path) for f in findings] == [
        ("E415", "metadata/files.csv: line 5"),
        ("E415", "metadata/files.csv: line 6"),
    ]
    assert "\x1b" not in findings[1].message and len(findings[1].message) < 150, findings[1]

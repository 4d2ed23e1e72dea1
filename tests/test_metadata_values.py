"""Metadata values read the way a person means them, and messages that help without echoing.

* an unquoted YAML year (``date: 1962``, an integer) is the date "1962"; a YAML date
  (``2024-01-05``) still works; a number where text is wanted says to quote it;
* the heritage ``accession_number`` takes common museum forms and still refuses junk, and a
  pattern error (``E406``) says what the value should look like (the field's description);
* every message shows a value only as a short, escaped excerpt.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archive.profiles import BUNDLED_PROFILES, ProfileRegistry
from archive.profiles.model import Profile
from archive.profiles.rules import validate_metadata
from archive.safeyaml import shown
from archive.submission.metadata import read_metadata_file

HERITAGE_OK = (
    "title: Harbour at dawn\naccession_number: HHM.2024.017\ncollection: Harbour photographs\n"
    "provenance: Donated by the photographer's estate.\n"
    "rights_statement: https://rightsstatements.org/vocab/InC/1.0/\n"
)


@pytest.fixture(scope="module")
def heritage() -> Profile:
    return ProfileRegistry([BUNDLED_PROFILES]).get("heritage")


def check(tmp_path: Path, profile: Profile, extra: str, name: str = "metadata.yaml") -> tuple[dict, list]:
    path = tmp_path / name
    path.write_text(HERITAGE_OK + extra, encoding="utf-8")
    data, findings = read_metadata_file(path, 1_000_000)
    assert data is not None, findings
    checked, problems = validate_metadata(profile, data, name)
    return checked, [*findings, *problems]


@pytest.mark.parametrize(
    "given, stored",
    [
        ("1962", "1962"),
        ("'1962'", "1962"),
        ("2024-01-05", "2024-01-05"),
        ("2024-01-05T10:30:00Z", "2024-01-05"),
        ("1951/1958", "1951/1958"),
        ("'1958-06'", "1958-06"),
        ("812", "0812"),
        ("1", "0001"),
        ("9999", "9999"),
    ],
)
def test_dates_a_person_writes_are_read_as_meant(tmp_path: Path, heritage: Profile, given: str, stored: str) -> None:
    checked, findings = check(tmp_path, heritage, f"date: {given}\n")
    assert findings == [] and checked["date"] == stored


@pytest.mark.parametrize(
    "given, words",
    [
        ("0", "not a year"),
        ("10000", "not a year"),
        ("-5", "not a year"),
        ("1962.5", "the number 1962.5"),
        ("true", "the boolean true"),
        ("'1958-13'", "not a real date"),
        ("{year: 1962}", "a mapping of 1 keys"),
        ("'sixties'", "the text 'sixties'"),
        ("2024-1-5", "the text '2024-1-5'"),
    ],
)
def test_a_date_that_is_not_one_says_what_a_date_is(tmp_path: Path, heritage: Profile, given: str, words: str) -> None:
    _, findings = check(tmp_path, heritage, f"date: {given}\n")
    assert [f.code for f in findings] == ["E403"], findings
    message = findings[0].message
    assert words in message, message
    if "real date" not in message:
        assert "YYYY, YYYY-MM, YYYY-MM-DD" in message


def test_a_date_in_a_list_for_a_single_date_field_is_unwrapped(tmp_path: Path, heritage: Profile) -> None:
    checked, findings = check(tmp_path, heritage, "date: [1962]\n")
    assert findings == [] and checked["date"] == "1962"


@pytest.mark.parametrize(
    "field, given, hint",
    [
        ("physical_extent", "24", '"24"'),
        ("physical_extent", "2024-01-05", '"2024-01-05"'),
        ("physical_extent", "no", "yes, no, on, off"),
        ("physical_extent", "1.5", "put quotes around the value"),
    ],
)
def test_a_number_where_text_is_wanted_says_to_quote_it(
    tmp_path: Path, heritage: Profile, field: str, given: str, hint: str
) -> None:
    _, findings = check(tmp_path, heritage, f"{field}: {given}\n")
    assert [f.code for f in findings] == ["E403"] and hint in findings[0].message, findings
    assert "quote" in findings[0].message


@pytest.mark.parametrize(
    "number",
    [
        "2024.113",
        "1985.52.1",
        "HHM.2024.017",
        "T.12-1990",
        "2001-45-3a",
        "17",
        "L.2020.3",
        "1897,1231.1",
        "AB 1234",
        "M/2019/4:1-2",
        "1985.0123.01a-c",
    ],
)
def test_common_accession_numbers_are_accepted(tmp_path: Path, heritage: Profile, number: str) -> None:
    path = tmp_path / "metadata.yaml"
    path.write_text(HERITAGE_OK.replace("HHM.2024.017", f'"{number}"'), encoding="utf-8")
    data, findings = read_metadata_file(path, 10_000)
    checked, problems = validate_metadata(heritage, data, path.name)
    assert findings == problems == [] and checked["accession_number"] == number


@pytest.mark.parametrize(
    "junk",
    [
        "seventeen",
        "n/a",
        "TBD",
        "2024..1",
        "2024.",
        ".2024",
        "HHM  2024",
        "2024\u00a0113",
        "20\x0724",
        "1" * 65,
        "HHM.2024.017;DROP",
        "#1",
    ],
)
def test_accession_junk_is_refused_with_what_it_should_look_like(heritage: Profile, junk: str) -> None:
    data = {
        "title": "T",
        "collection": "C",
        "provenance": "P",
        "rights_statement": "https://rightsstatements.org/vocab/InC/1.0/",
        "accession_number": junk,
    }
    _, findings = validate_metadata(heritage, data, "metadata.yaml")
    assert [f.code for f in findings] == ["E406"], findings
    message = findings[0].message
    description = heritage.field("accession_number").description.rstrip(".")
    assert description in message and "HHM.2024.017" in message
    assert "\x07" not in message and len(message) < 600


def test_accession_of_spaces_only_is_empty(heritage: Profile) -> None:
    data = {
        "title": "T",
        "collection": "C",
        "provenance": "P",
        "rights_statement": "https://rightsstatements.org/vocab/InC/1.0/",
        "accession_number": "   ",
    }
    _, findings = validate_metadata(heritage, data)
    assert [(f.code, f.path) for f in findings] == [("E402", "metadata: accession_number")]


def test_a_pattern_without_a_description_shows_the_pattern(heritage: Profile) -> None:
    research = ProfileRegistry([BUNDLED_PROFILES]).get("research")
    data = {"title": "T", "licence": "CC-BY-4.0", "creators": [{"name": "Ada", "orcid": "x"}]}
    _, findings = validate_metadata(research, data)
    orcid = next(f for f in findings if f.code == "E406")
    assert research.field("creators").fields[1].pattern in orcid.message


HUGE = "x" * 100_000
HOSTILE_VALUES = [HUGE, "\x1b[2J\x1b]0;owned\x07" * 50, "\u202egnp.exe" * 100, "line\n" * 1000]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=["huge", "terminal-escapes", "rtl-override", "many-lines"])
def test_messages_never_echo_more_than_a_short_escaped_excerpt(heritage: Profile, value: str) -> None:
    data = {
        "title": [value, value],
        "accession_number": value,
        "collection": {"a": value},
        "provenance": 5,
        "rights_statement": value,
        "type": value,
        "language": value,
        "date": value,
        value: "unknown field named by a hostile key",
        "subject": [[value]],
    }
    _, findings = validate_metadata(heritage, data, "metadata.yaml")
    assert len(findings) >= 8
    for f in findings:
        for text in (f.path, f.message):
            assert len(text) < 600, f
            assert not re.search(r"[\x00-\x1f\x7f\u202e]", text), f


@pytest.mark.parametrize(
    "value, expected",
    [
        ("abc", "'abc'"),
        ("a\x1bb", "'a\\x1bb'"),
        ("x" * 100, "'" + "x" * 40 + "...' (100 characters)"),
        (1962, "1962"),
        (True, "true"),
        (None, "null"),
        ([1, 2], "a list of 2 values"),
        ({"a": 1}, "a mapping of 1 keys"),
        (10**60, "a number of 61 digits"),
    ],
)
def test_shown(value: object, expected: str) -> None:
    assert shown(value) == expected


def test_a_field_name_written_differently_gets_a_hint(heritage: Profile) -> None:
    _, findings = validate_metadata(
        heritage,
        {
            "Title": "T",
            "Accession Number": "1",
            "collection": "C",
            "provenance": "P",
            "rights_statement": "https://rightsstatements.org/vocab/InC/1.0/",
        },
    )
    hints = sorted(f.message for f in findings if f.code == "E401")
    assert hints == ["unknown field; did you mean 'accession_number'?", "unknown field; did you mean 'title'?"]


def test_json_nesting_is_bounded_like_yaml(tmp_path) -> None:
    """JSON may nest about 1,000 deep before the parser gives up; the archive stops at YAML's bound,
    so nothing downstream (profile checks, the METS writer) ever walks deeper."""
    from archive import safeyaml
    from archive.submission.metadata import read_metadata_file

    path = tmp_path / "metadata.json"
    for depth, refused in ((safeyaml.MAX_DEPTH - 1, False), (safeyaml.MAX_DEPTH + 1, True), (900, True)):
        path.write_text('{"title": "x", "extra": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
        _, findings = read_metadata_file(path, 10**7)
        assert ({f.code for f in findings} == {"E413"}) is refused, (depth, findings)

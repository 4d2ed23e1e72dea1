"""Retention schedules: declared in profiles, computed per package, reported by `archive retention report`.

The report never deletes anything; these tests check the profile errors a broken schedule gives,
the calendar arithmetic (also with generated dates and periods), and the report a person or a
script reads (human table, --due, --profile, --json, held packages, paging through the catalog).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from archive.catalog import search
from archive.errors import ProfileError
from archive.profiles import BUNDLED_PROFILES, ProfileRegistry
from archive.profiles.loader import KEEP_KEYS, RETENTION_KEYS
from archive.profiles.model import Period, RetentionSchedule
from archive.services.lifecycle import report as report_module
from archive.services.lifecycle.retention import add_period, governing, package_dues, schedule_due

REPO = Path(__file__).resolve().parent.parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INGESTED = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)


# -- profiles ----------------------------------------------------------------------------------


def _registry(tmp_path: Path, **profiles: str) -> ProfileRegistry:
    for name, text in profiles.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return ProfileRegistry([tmp_path, BUNDLED_PROFILES])


def _child(retention: str, parent: str = "legal", extra: str = "") -> str:
    return f'id: child\nversion: "1.0.0"\nextends: {parent}\n{extra}retention:\n{retention}'


def test_bundled_profiles_declare_their_schedules() -> None:
    registry = ProfileRegistry([BUNDLED_PROFILES])
    legal, research, heritage = registry.get("legal"), registry.get("research"), registry.get("heritage")
    assert legal.version == "1.2.0" and research.version == "1.1.0"
    assert [(s.start, s.keep, s.then) for s in legal.retention] == [("retention_until", Period(), "dispose")]
    assert [(s.start, s.keep, s.then) for s in research.retention] == [("ingest", Period(years=10), "review")]
    assert heritage.retention == () and registry.get("base").retention == ()  # kept indefinitely
    assert legal.as_dict()["retention"] == [
        {
            "name": "retention-period",
            "keep": {"days": 0},
            "from": "retention_until",
            "then": "dispose",
            "description": legal.retention[0].description,
        }
    ]


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        ("  - {name: r, keep: {years: 1}, from: title, then: review}", "'from' is 'title', which is a string field"),
        ("  - {name: r, keep: {years: 1}, from: nowhere, then: review}", "'nowhere', which is not a field of this"),
        ("  - {name: r, keep: {years: 1}, from: legal_hold, then: dispose}", "which is a boolean field"),
        ("  - {name: r, keep: {years: 1}, from: ingest, then: delete}", "key 'then' is 'delete'; expected one of"),
        ("  - {name: r, keep: {years: -1}, from: ingest, then: review}", "'years' must be a whole number from 0"),
        ("  - {name: r, keep: {years: true}, from: ingest, then: review}", "'years' must be a whole number"),
        ("  - {name: r, keep: {weeks: 2}, from: ingest, then: review}", "key 'keep' must be a mapping of years"),
        ("  - {name: r, keep: seven, from: ingest, then: review}", "key 'keep' must be a mapping"),
        ("  - {name: r, keep: {}, from: ingest, then: review}", "key 'keep' must be a mapping"),
        ("  - {name: r, keep: 0, from: ingest, then: dispose}", "the package would be due the day it is stored"),
        ("  - {name: r, keep: {days: 0}, from: ingest, then: dispose}", "would be due the day it is stored"),
        ("  - {name: r, from: ingest, then: review}", "retention[0]: key 'keep' is missing"),
        ("  - {name: r, keep: 0, from: retention_until, then: review, when: x}", "unknown key 'when'"),
        ("  - {name: R 1, keep: 0, from: retention_until, then: review}", "key 'name' is 'R 1'"),
        ("  - {name: r, keep: 0, from: retention_until, then: review, description: [1]}", "'description' must be"),
        (
            "  - {name: r, keep: 0, from: retention_until, then: review}\n"
            "  - {name: r, keep: {years: 1}, from: ingest, then: review}",
            "retention[1]: schedule name 'r' is given twice",
        ),
        ("  name: r", "key 'retention' must be a list of schedules"),
        ("  - just a string", "retention[0]: a schedule is a mapping"),
    ],
)
def test_a_broken_schedule_is_a_profile_error_naming_file_and_key(
    tmp_path: Path, retention: str, expected: str
) -> None:
    registry = _registry(tmp_path, child=_child(retention))
    with pytest.raises(ProfileError) as caught:
        registry.get("child")
    assert str(tmp_path / "child.yaml") in caught.value.message
    assert "retention" in caught.value.message
    assert expected in caught.value.message


def test_retention_null_is_refused_not_read_as_clearing_the_inherited_schedules(tmp_path: Path) -> None:
    registry = _registry(tmp_path, child='id: child\nversion: "1.0.0"\nextends: legal\nretention:\n')
    with pytest.raises(ProfileError, match="inherited schedules are kept"):
        registry.get("child")


def test_extends_merges_schedules_by_name(tmp_path: Path) -> None:
    added = _child("  - {name: audit-review, keep: {years: 2, months: 6}, from: ingest, then: review}")
    redefined = _child(
        "  - {name: retention-period, keep: {years: 1}, from: retention_until, then: review}", extra=""
    ).replace("id: child", "id: redefined")
    registry = _registry(tmp_path, child=added, redefined=redefined)
    child = registry.get("child")
    assert [s.name for s in child.retention] == ["retention-period", "audit-review"]  # inherited first
    assert child.retention[1].keep == Period(years=2, months=6)
    again = registry.get("redefined")
    assert [(s.name, s.keep, s.then) for s in again.retention] == [("retention-period", Period(years=1), "review")]


def test_an_inherited_schedule_is_checked_against_the_childs_fields(tmp_path: Path) -> None:
    text = 'id: child\nversion: "1.0.0"\nextends: legal\nfields:\n  retention_until: {type: string}\n'
    registry = _registry(tmp_path, child=text)
    with pytest.raises(ProfileError) as caught:
        registry.get("child")
    message = caught.value.message
    assert str(tmp_path / "child.yaml") in message
    assert "schedule 'retention-period': key 'from' is 'retention_until', which is a string field" in message


def test_a_schedule_may_start_from_any_date_field(tmp_path: Path) -> None:
    text = _child("  - {name: after-date, keep: {years: 25}, from: date, then: review}", parent="heritage")
    profile = _registry(tmp_path, child=text).get("child")
    assert profile.retention == (RetentionSchedule("after-date", Period(years=25), "date", "review"),)


def test_a_shown_schedule_loads_back_as_itself(tmp_path: Path) -> None:
    bundled = ProfileRegistry([BUNDLED_PROFILES])
    schedules = [*bundled.get("legal").retention, *bundled.get("research").retention]
    text = yaml.safe_dump({"id": "child", "version": "1.0.0", "extends": "legal"})
    text += yaml.safe_dump({"retention": [s.as_dict() for s in schedules]})
    assert _registry(tmp_path, child=text).get("child").retention == tuple(schedules)


def test_profiles_doc_describes_every_retention_key() -> None:
    text = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    for key in [*sorted(RETENTION_KEYS), *KEEP_KEYS, "retention"]:
        assert f"`{key}`" in text, f"docs/profiles.md does not describe `{key}`"
    assert (REPO / "docs" / "retention.md").is_file()


# -- the computation ---------------------------------------------------------------------------


def test_calendar_arithmetic() -> None:
    assert add_period(date(2024, 2, 29), Period(years=1)) == date(2025, 2, 28)
    assert add_period(date(2024, 2, 29), Period(years=4)) == date(2028, 2, 29)
    assert add_period(date(2025, 1, 31), Period(months=1)) == date(2025, 2, 28)
    assert add_period(date(2025, 11, 30), Period(months=3)) == date(2026, 2, 28)
    assert add_period(date(2025, 12, 31), Period(years=1, months=2, days=1)) == date(2027, 3, 1)
    assert add_period(date(2030, 12, 31), Period()) == date(2030, 12, 31)
    with pytest.raises(OverflowError):
        add_period(date(9999, 6, 1), Period(years=1))


periods = st.builds(Period, years=st.integers(0, 200), months=st.integers(0, 60), days=st.integers(0, 4000))
starts = st.dates(min_value=date(1, 1, 1), max_value=date(7000, 12, 31))


@given(start=starts, a=periods, b=periods)
def test_due_is_never_before_the_start_and_grows_with_keep(start: date, a: Period, b: Period) -> None:
    due_a = add_period(start, a)
    assert due_a >= start
    assert (due_a == start) == a.is_zero()
    bigger = Period(a.years + b.years, a.months + b.months, a.days + b.days)
    assert add_period(start, bigger) >= due_a  # monotone in every part of keep
    for more in (Period(a.years + 1, a.months, a.days), Period(a.years, a.months + 1, a.days)):
        assert add_period(start, more) > due_a
    assert add_period(start, Period(a.years, a.months, a.days + 1)) == due_a + timedelta(days=1)


@given(start=starts, years=st.integers(0, 2000))
def test_whole_years_keep_month_and_day_but_feb_29(start: date, years: int) -> None:
    due = add_period(start, Period(years=years))
    assert due.year == start.year + years and due.month == start.month
    if (start.month, start.day) == (2, 29):
        assert due.day in (28, 29)
    else:
        assert due.day == start.day


NO_TIME = Period()


def _schedule(start: str = "retention_until", keep: Period = NO_TIME, then: str = "dispose") -> RetentionSchedule:
    return RetentionSchedule("s", keep, start, then)


@pytest.mark.parametrize(
    ("value", "start", "note"),
    [
        ("2030-06-30", date(2030, 6, 30), ""),
        (date(2030, 6, 30), date(2030, 6, 30), ""),
        ("2030", date(2030, 12, 31), "retention_until '2030' read as its last day, 2030-12-31"),
        ("2030-02", date(2030, 2, 28), "read as its last day, 2030-02-28"),
        ("2025/2030-06", date(2030, 6, 30), "read as its last day"),
        (["2028-01-01", "2031-05-05"], date(2031, 5, 5), "has 2 values: the latest, 2031-05-05, is used"),
    ],
)
def test_the_start_is_the_last_day_a_date_value_covers(value: object, start: date, note: str) -> None:
    due = schedule_due(_schedule(), INGESTED, {"retention_until": value}, date(2031, 1, 1))
    assert due.start == start and due.due == start
    assert (note in due.note) if note else due.note == ""
    assert due.due_now == (start <= date(2031, 1, 1))


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ({}, "cannot compute: the package has no value for retention_until"),
        ({"retention_until": None}, "no value for retention_until"),
        ({"retention_until": ""}, "no value for retention_until"),
        ({"retention_until": "soon"}, "cannot compute: retention_until is 'soon', not a date"),
        ({"retention_until": "2030-13-01"}, "'2030-13-01', not a date"),
        ({"retention_until": True}, "not a date"),
        ({"retention_until": {"y": 1}}, "not a date"),
    ],
)
def test_a_missing_or_unreadable_value_cannot_be_computed(metadata: dict[str, object], why: str) -> None:
    due = schedule_due(_schedule(), INGESTED, metadata, date(2100, 1, 1))
    assert due.start is None and due.due is None and not due.due_now and not due.computed
    assert why in due.note


def test_a_due_day_past_year_9999_cannot_be_computed() -> None:
    due = schedule_due(_schedule(keep=Period(years=10)), INGESTED, {"retention_until": "9995-01-01"}, date.today())
    assert due.start == date(9995, 1, 1) and due.due is None and "after 9999-12-31" in due.note


def test_from_ingest_counts_from_the_utc_day_of_ingest() -> None:
    created = datetime(2024, 2, 29, 21, 0, tzinfo=timezone(timedelta(hours=-5)))  # 2024-03-01 02:00 UTC
    due = schedule_due(_schedule("ingest", Period(years=10), "review"), created, {}, date(2034, 3, 1))
    assert due.start == date(2024, 3, 1) and due.due == date(2034, 3, 1) and due.due_now
    before = schedule_due(_schedule("ingest", Period(years=10), "review"), created, {}, date(2034, 2, 28))
    assert not before.due_now


def test_every_schedule_is_reported_and_the_earliest_governs(tmp_path: Path) -> None:
    text = _child(
        "  - {name: early-review, keep: {years: 1}, from: ingest, then: review}\n"
        "  - {name: same-day-review, keep: 0, from: retention_until, then: review}\n"
    )
    profile = _registry(tmp_path, child=text).get("child")
    dues = package_dues(profile, INGESTED, {"retention_until": "2025-02-28"}, date(2025, 3, 1))
    assert [d.schedule.name for d in dues] == ["retention-period", "early-review", "same-day-review"]
    assert {d.due for d in dues} == {date(2025, 2, 28)} and all(d.due_now for d in dues)
    chosen = governing(dues)
    assert chosen is not None and chosen.action == "review"  # on a tie, the review comes first
    later = package_dues(profile, INGESTED, {"retention_until": "2040-01-01"}, date(2025, 3, 1))
    chosen = governing(later)
    assert chosen is not None and chosen.schedule.name == "early-review"
    assert governing(package_dues(profile, INGESTED, {}, date(2025, 3, 1))) is not None  # from ingest still
    assert governing([]) is None


# -- the report --------------------------------------------------------------------------------


def _submission(tmp_path: Path, rel: str, name: str, replace: dict[str, str] | None = None) -> Path:
    dest = tmp_path / "in" / name
    shutil.copytree(REPO / rel, dest)
    meta = dest / "metadata.yaml"
    text = meta.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    meta.write_text(text, encoding="utf-8")
    return dest


def _ingest(cli, sub: Path, profile: str) -> str:
    result = cli("ingest", str(sub), "--profile", profile, "--agent", "Ada")
    assert result.exit_code == 0, result.output
    match = UUID.search(result.stdout)
    assert match
    return match.group(0)


@pytest.fixture
def archive_of_five(cli, tmp_path: Path) -> dict[str, str]:
    legal = "tests/data/submissions/legal-minimal"
    until = "retention_until: 2030-12-31"
    ids = {
        "expired": _ingest(
            cli, _submission(tmp_path, legal, "expired", {until: until.replace("2030-12-31", "2020-06-30")}), "legal"
        ),
        "current": _ingest(cli, _submission(tmp_path, legal, "current"), "legal"),
        "held": _ingest(
            cli,
            _submission(
                tmp_path,
                legal,
                "held",
                {until: "retention_until: 2021-01-01", "legal_hold: false": "legal_hold: true"},
            ),
            "legal",
        ),
        "research": _ingest(cli, _submission(tmp_path, "tests/data/submissions/research-bag", "research"), "research"),
        "heritage": _ingest(cli, _submission(tmp_path, "tests/data/submissions/heritage-minimal", "h"), "heritage"),
    }
    return ids


def _report(cli, *args: str) -> dict[str, Any]:
    result = cli("retention", "report", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_lists_every_package_with_its_schedules(cli, archive_of_five: dict[str, str]) -> None:
    doc = _report(cli)
    assert doc["ok"] is True and doc["count"] == 5 and doc["not_computed"] == 0
    assert doc["due_count"] == 2  # the expired and the held legal packages
    rows = {r["id"]: r for r in doc["rows"]}
    assert set(rows) == set(archive_of_five.values())
    expired = rows[archive_of_five["expired"]]
    assert set(expired) >= {"id", "title", "profile", "schedule", "from", "start", "due", "action", "due_now", "note"}
    assert expired["profile"] == "legal" and expired["title"] == "Test matter, one e-mail"
    assert (expired["schedule"], expired["from"], expired["start"], expired["due"]) == (
        "retention-period",
        "retention_until",
        "2020-06-30",
        "2020-06-30",
    )
    assert expired["action"] == "dispose" and expired["due_now"] is True and expired["note"] == ""
    current = rows[archive_of_five["current"]]
    assert current["due"] == "2030-12-31" and current["due_now"] is False
    research = rows[archive_of_five["research"]]
    ingested = date.fromisoformat(research["start"])
    assert research["from"] == "ingest" and research["action"] == "review"
    assert research["due"] == add_period(ingested, Period(years=10)).isoformat()
    heritage = rows[archive_of_five["heritage"]]
    assert heritage["schedule"] is None and heritage["due_now"] is False and "kept indefinitely" in heritage["note"]


def test_due_lists_only_what_is_due_and_marks_held_packages(cli, archive_of_five: dict[str, str]) -> None:
    doc = _report(cli, "--due")
    assert doc["due_only"] is True and doc["count"] == doc["due_count"] == 2
    by_id = {r["id"]: r for r in doc["rows"]}
    assert set(by_id) == {archive_of_five["expired"], archive_of_five["held"]}
    assert all(r["due_now"] for r in by_id.values())
    assert by_id[archive_of_five["held"]]["note"] == "held: disposal blocked"
    assert by_id[archive_of_five["held"]]["held"] is True and by_id[archive_of_five["expired"]]["held"] is False
    later = _report(cli, "--due", "--as-of", "2031-01-01")
    assert {r["id"] for r in later["rows"]} == {archive_of_five[k] for k in ("expired", "held", "current")}
    assert _report(cli, "--due", "--as-of", "2019-01-01")["rows"] == []


def test_profile_narrows_the_report(cli, archive_of_five: dict[str, str]) -> None:
    doc = _report(cli, "--profile", "research")
    assert [r["id"] for r in doc["rows"]] == [archive_of_five["research"]]
    assert _report(cli, "--profile", "research", "--due")["count"] == 0
    unknown = cli("retention", "report", "--profile", "museum", "--json")
    assert unknown.exit_code == 1 and json.loads(unknown.stdout)["error"]["code"] == "E100"


def test_the_human_report_is_a_table_and_deletes_nothing(cli, archive_of_five: dict[str, str], tmp_path: Path) -> None:
    storage = sorted(p for p in (tmp_path / "home").rglob("*") if p.is_file())
    result = cli("retention", "report", "--due")
    assert result.exit_code == 0, result.output
    assert archive_of_five["expired"] in result.stdout and archive_of_five["current"] not in result.stdout
    assert "dispose" in result.stdout and "held: disposal blocked" in result.stdout
    assert "2 schedule(s) due of 2 package(s)" in result.stdout and "Nothing was deleted." in result.stdout
    after = sorted(p for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert after == storage
    assert json.loads(cli("list", "--json").stdout)["count"] == 5
    assert "never deletes" in cli("retention", "report", "--help").stdout


def test_the_report_reads_the_catalog_a_page_at_a_time(
    cli, archive_of_five: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pages: list[int] = []
    real = search.search

    def counting(catalog, q):
        page = real(catalog, q)
        pages.append(len(page.items))
        return page

    monkeypatch.setattr(report_module, "PAGE", 2)
    monkeypatch.setattr(search, "search", counting)
    doc = _report(cli)
    assert doc["count"] == 5 and len({r["id"] for r in doc["rows"]}) == 5
    assert pages == [2, 2, 1]


def test_an_unreadable_date_is_reported_not_a_crash(
    cli, archive_of_five: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = report_module.retrieval.package_metadata

    def damaged(catalog, package_id):
        meta = real(catalog, package_id)
        if package_id == archive_of_five["current"]:
            meta["metadata"] = {**meta["metadata"], "retention_until": "until the end of the matter"}
        return meta

    monkeypatch.setattr(report_module.retrieval, "package_metadata", damaged)
    doc = _report(cli, "--due")
    assert doc["not_computed"] == 1 and archive_of_five["current"] not in {r["id"] for r in doc["rows"]}
    full = {r["id"]: r for r in _report(cli)["rows"]}
    row = full[archive_of_five["current"]]
    assert row["due"] is None and row["due_now"] is False and row["note"].startswith("cannot compute")
    human = cli("retention", "report", "--due")
    assert human.exit_code == 0 and "1 cannot be computed (run without --due to see why)" in human.stdout


def test_a_package_whose_profile_is_gone_is_reported(cli, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "museum.yaml").write_text('id: museum\nversion: "1.0.0"\nextends: research\n', encoding="utf-8")
    settings = tmp_path / "settings.yaml"
    settings.write_text(settings.read_text() + f"profiles_dirs: [{profiles}]\n")
    package = _ingest(cli, _submission(tmp_path, "tests/data/submissions/research-bag", "m"), "museum")
    (profiles / "museum.yaml").unlink()
    rows = _report(cli)["rows"]
    assert [r["id"] for r in rows] == [package]
    assert rows[0]["note"].startswith("cannot compute: profile 'museum'")


def test_report_needs_an_archive(cli) -> None:
    result = cli("retention", "report", "--json")
    assert result.exit_code == 2

"""Access is the archive's decision: a submission may tighten its profile's access, never loosen it.

* the order of the levels agrees with the access matrix (tighter never shows any role more);
* hypothesis over (profile default level and embargo, submitted level and embargo, the profile's
  ``submitter_may_loosen``, a matching rule): the resulting access is never looser than the
  profile's unless the profile allows it, and every refusal carries its code (E430-E433);
* the profile keys (``embargo_until``, ``submitter_may_loosen``, ``metadata_visible_to``) load,
  inherit through ``extends`` and refuse what they cannot mean;
* ``archive validate`` and ``archive ingest`` print the level and why, in text and ``--json``.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.access import policy
from archive.cli import main
from archive.errors import ProfileError
from archive.model import ACCESS_EMBARGOED, ACCESS_LEVELS, ACCESS_OPEN
from archive.profiles import ProfileRegistry
from archive.profiles.access_rules import (
    BASIS_DEFAULT,
    BASIS_LOOSENED,
    BASIS_RULE,
    BASIS_TIGHTENED,
    access_key,
    check_access,
    decide_access,
    is_looser,
    resolve_access,
)
from archive.profiles.bundled import BUNDLED_PROFILES
from archive.profiles.loader import build_profile
from archive.profiles.model import Profile

REPO = Path(__file__).resolve().parent.parent
REGISTRY = ProfileRegistry([BUNDLED_PROFILES])
BASE = REGISTRY.get("base")
ORDER = policy.ORDER
REFUSALS = {"E430", "E431", "E432", "E433"}


def profile(
    access: dict[str, Any], parent: Profile | None = BASE, fields: dict[str, Any] | None = None, pid: str = "p"
) -> Profile:
    raw: dict[str, Any] = {"id": pid, "version": "1.0.0", "access": access}
    if fields:
        raw["fields"] = fields
    return build_profile(raw, parent, f"{pid}.yaml")


def errors(outcome: Any) -> set[str]:
    return {f.code for f in outcome.findings if f.severity == "error"}


# -- the order is the matrix's ---------------------------------------------------------------
def test_the_order_of_levels_follows_the_matrix() -> None:
    assert set(ORDER) == set(ACCESS_LEVELS)
    for role in policy.ROLES:
        grants = [policy.GRANT_ORDER.index(policy.grant(role, level).value) for level in ORDER]
        assert grants == sorted(grants, reverse=True), (role, grants)  # tighter never shows more


def test_embargoes_compare_by_their_end() -> None:
    early, late = date(2030, 1, 1), date(2040, 1, 1)
    assert is_looser(ACCESS_EMBARGOED, early, ACCESS_EMBARGOED, late)
    assert is_looser(ACCESS_EMBARGOED, late, ACCESS_EMBARGOED, None)  # no end date: the tightest embargo
    assert is_looser(ACCESS_OPEN, None, ACCESS_EMBARGOED, early)
    assert is_looser(ACCESS_EMBARGOED, None, "restricted", None)
    assert not is_looser("restricted", early, "restricted", None)  # the date means nothing there
    assert access_key("secret-new-level", None) > access_key("legal-hold", None)  # unknown: fail closed


# -- the bundled profiles -------------------------------------------------------------------
LEGAL = REGISTRY.get("legal")
HERITAGE = REGISTRY.get("heritage")
INTERNAL = {"legal_hold": False, "confidentiality": "internal"}


@pytest.mark.parametrize(
    "asked, code",
    [
        ({"access_level": "open"}, "E430"),
        ({"access_level": "embargoed", "embargo_until": "2030-01-01"}, "E430"),
        ({"embargo_until": "2030-01-01"}, "E430"),  # an embargo would release a restricted package's files
        ({"access_level": "open", "confidentiality": "confidential"}, "E431"),
        ({"access_level": "restricted", "confidentiality": "privileged"}, "E431"),
        ({"access_level": "confidential", "legal_hold": True}, "E431"),
    ],
)
def test_a_legal_submission_cannot_loosen_its_access(asked: dict[str, Any], code: str) -> None:
    metadata = {**INTERNAL, **asked}
    outcome = decide_access(LEGAL, metadata, "metadata.yaml")
    assert errors(outcome) == {code}
    refusal = next(f for f in outcome.findings if f.code == code)
    assert refusal.path.startswith("metadata.yaml: ")
    assert outcome.access.level != ACCESS_OPEN and outcome.access.embargo_until is None  # the profile's, kept
    assert code in {f.code for f in check_access(metadata, "metadata.yaml", LEGAL)}


def test_a_submission_may_tighten_and_hears_why() -> None:
    tightened = decide_access(LEGAL, {**INTERNAL, "access_level": "confidential"})
    assert tightened.access.level == "confidential" and tightened.basis == BASIS_TIGHTENED and not tightened.findings
    assert "tightens restricted, the default of profile legal" in tightened.reason
    hold = decide_access(LEGAL, {"legal_hold": True, "confidentiality": "internal"})
    assert hold.access.level == "legal-hold" and hold.basis == BASIS_RULE
    assert hold.reason == "rule 1 of profile legal (legal_hold is true)"
    default = decide_access(LEGAL, INTERNAL)
    assert (default.access.level, default.basis, default.reason) == (
        "restricted",
        BASIS_DEFAULT,
        "the default of profile legal",
    )
    assert default.as_dict() == {
        "level": "restricted",
        "embargo_until": None,
        "basis": BASIS_DEFAULT,
        "reason": "the default of profile legal",
    }
    embargo = decide_access(HERITAGE, {"embargo_until": "2031-01-01"})
    assert embargo.line() == (
        "embargoed until 2031-01-01: the submission's embargo_until 2031-01-01 "
        "tightens open, the default of profile heritage"
    )


def test_an_embargo_date_without_effect_is_a_warning_and_not_recorded() -> None:
    outcome = decide_access(HERITAGE, {"access_level": "restricted", "embargo_until": "2031-01-01"})
    assert outcome.access.level == "restricted" and outcome.access.embargo_until is None
    assert [f.code for f in outcome.findings] == ["W430"]


def test_resolve_access_keeps_its_call_sites() -> None:
    assert resolve_access(LEGAL, {**INTERNAL, "access_level": "open"}).level == "restricted"
    assert resolve_access(HERITAGE, {"access_level": "open"}).level == "open"


# -- property: never looser than the profile unless it allows it ------------------------------
dates = st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Profile, dict[str, Any], bool]:
    default = draw(st.sampled_from(ORDER))
    access: dict[str, Any] = {"default": default}
    default_until = draw(dates) if default == ACCESS_EMBARGOED else None
    if default_until:
        access["embargo_until"] = default_until.isoformat()
    access["submitter_may_loosen"] = draw(st.lists(st.sampled_from(ORDER), unique=True, max_size=5))
    rule_level = draw(st.none() | st.sampled_from(ORDER))
    fields = {"flag": {"type": "boolean"}}
    if rule_level:
        access["rules"] = [{"when": {"flag": True}, "level": rule_level}]
    p = profile(access, fields=fields)
    metadata: dict[str, Any] = {"flag": draw(st.booleans())}
    asked_level = draw(st.none() | st.sampled_from(ORDER))
    asked_until = draw(dates)
    if asked_level:
        metadata["access_level"] = asked_level
    if asked_until:
        metadata["embargo_until"] = asked_until.isoformat()
    return p, metadata, bool(rule_level) and metadata["flag"]


def _asked(metadata: dict[str, Any]) -> tuple[str, date | None] | None:
    """What the submission asks for, worked out here independently of archive/profiles/rules.py."""
    level = metadata.get("access_level")
    until = date.fromisoformat(metadata["embargo_until"]) if "embargo_until" in metadata else None
    if level is None and until is None:
        return None
    if level in (None, ACCESS_OPEN) and until is not None:
        return ACCESS_EMBARGOED, until
    return level, until if level == ACCESS_EMBARGOED else None


@settings(max_examples=600, deadline=None)
@given(cases())
def test_access_is_never_looser_than_the_profile_unless_it_allows_it(
    case: tuple[Profile, dict[str, Any], bool],
) -> None:
    p, metadata, ruled = case
    pa = p.access
    if ruled:
        theirs = (pa.rules[0].level, None)
    else:
        theirs = (pa.default, pa.embargo_until if pa.default == ACCESS_EMBARGOED else None)
    outcome = decide_access(p, metadata)
    got = (outcome.access.level, outcome.access.embargo_until)
    found = errors(outcome)
    assert found <= REFUSALS | {"E408"}
    if is_looser(*got, *theirs):  # looser than the profile: only where the profile allows it, never a rule
        assert not ruled and outcome.basis == BASIS_LOOSENED and got[0] in pa.submitter_may_loosen
        assert not found
    asked = _asked(metadata)
    if asked is None:
        assert got == theirs and not found
        return
    if not is_looser(*asked, *theirs):
        assert not found & REFUSALS
        assert got == (asked if access_key(*asked) > access_key(*theirs) else theirs)
        return
    if ruled:
        assert found & REFUSALS == {"E431"} and got == theirs
    elif asked[0] in pa.submitter_may_loosen:
        assert not found and got == asked and outcome.basis == BASIS_LOOSENED
    else:
        expected = "E432" if asked[0] == theirs[0] == ACCESS_EMBARGOED else "E430"
        assert found & REFUSALS == {expected} and got == theirs
    # whatever happened, no role sees more than the profile's access shows it, unless allowed
    if outcome.basis != BASIS_LOOSENED:
        for role in policy.ROLES:
            mine, profiles = policy.grant(role, got[0]).value, policy.grant(role, theirs[0]).value
            assert policy.GRANT_ORDER.index(mine) <= policy.GRANT_ORDER.index(profiles)


# -- the profile keys ------------------------------------------------------------------------
def test_profile_keys_load_and_inherit_through_extends() -> None:
    parent = profile(
        {
            "default": "embargoed",
            "embargo_until": "2040-01-01",
            "submitter_may_loosen": ["embargoed"],
            "metadata_visible_to": {"restricted": ["archivist", "admin"]},
        },
        pid="parent",
    )
    assert parent.access.embargo_until == date(2040, 1, 1)
    child = profile({"metadata_visible_to": {"embargoed": ["researcher", "auditor"]}}, parent, pid="child")
    assert child.access.default == "embargoed" and child.access.embargo_until == date(2040, 1, 1)
    assert child.access.submitter_may_loosen == ("embargoed",)
    assert child.access.visible_to() == {"embargoed": ("researcher", "auditor"), "restricted": ("archivist", "admin")}
    reset = profile({"default": "restricted", "submitter_may_loosen": []}, parent, pid="reset")
    assert (
        reset.access.embargo_until is None and reset.access.submitter_may_loosen == ()
    )  # the date went with the default
    shown = child.as_dict()["access"]
    assert shown["submitter_may_loosen"] == ["embargoed"] and shown["embargo_until"] == "2040-01-01"
    # a shorter embargo is allowed by the parent's list, and inherited by the child
    assert decide_access(child, {"embargo_until": "2030-01-01"}).basis == BASIS_LOOSENED
    assert errors(decide_access(reset, {"embargo_until": "2030-01-01"})) == {"E430"}


@pytest.mark.parametrize(
    "access, message",
    [
        ({"default": "open", "embargo_until": "2040-01-01"}, "only for `default: embargoed`"),
        ({"default": "embargoed", "embargo_until": "2040-13-01"}, "full date"),
        ({"submitter_may_loosen": ["public"]}, "submitter_may_loosen"),
        ({"submitter_may_loosen": "open"}, "submitter_may_loosen"),
        ({"metadata_visible_to": {"restricted": ["visitor"]}}, "not a role"),
        ({"metadata_visible_to": {"secret": ["archivist"]}}, "not an access level"),
        ({"metadata_visible_to": {"confidential": ["researcher"]}}, "not widen"),
        ({"metadata_visible_to": {"embargoed": ["archivist"]}}, "looser"),  # researchers would see restricted ones
        ({"metadata_visible_to": ["archivist"]}, "map access levels"),
        ({"grant": True}, "allowed keys"),
    ],
)
def test_profile_keys_refuse_what_they_cannot_mean(access: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        profile(access)


def test_the_legal_profile_hides_its_packages_from_readers() -> None:
    visible_to = LEGAL.access.visible_to()
    assert visible_to == {"restricted": ("archivist", "admin")}
    for role in ("anonymous", "researcher", "auditor"):
        assert policy.decide(role, "restricted", None, date(2025, 1, 1), True, visible_to).hidden
        # restricted packages of other profiles: metadata for readers, as the matrix says
        assert policy.decide(role, "restricted", None, date(2025, 1, 1)).hidden is (role == "anonymous")
    for role in policy.SEE_ALL:
        assert policy.decide(role, "restricted", None, date(2025, 1, 1), True, visible_to).files
    assert "Nothing is visible to researchers by default" in LEGAL.description


def test_search_scope_is_derived_from_the_same_narrowing() -> None:
    profiles = {"heritage": None, "legal": LEGAL.access.visible_to()}
    for role in policy.ROLES:
        scope = policy.metadata_scope(role, profiles)
        if role in policy.SEE_ALL:
            assert scope is None
            continue
        assert scope is not None
        allowed = {(pid, level) for ids, levels in scope for pid in ids for level in levels}
        for pid, visible_to in profiles.items():
            for level in ACCESS_LEVELS:
                seen = not policy.decide(role, level, None, date(2025, 1, 1), True, visible_to).hidden
                assert ((pid, level) in allowed) is seen, (role, pid, level)
        assert not any(pid == "unknown" for pid, _ in allowed)  # a profile it does not know: nothing


# -- the command line ------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path: Path):
    config = tmp_path / "settings.yaml"
    config.write_text(f"home: {tmp_path / 'home'}\nworkers: 1\n")

    def run(*args: str):
        return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)

    return run


def _legal(tmp_path: Path, extra: str = "") -> Path:
    dest = tmp_path / "legal-minimal"
    shutil.copytree(REPO / "tests" / "data" / "submissions" / "legal-minimal", dest)
    meta = dest / "metadata.yaml"
    meta.write_text(meta.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return dest


def test_validate_and_ingest_print_the_access_and_why(cli, tmp_path: Path) -> None:
    sub = _legal(tmp_path)
    shown = cli("validate", str(sub), "--profile", "legal")
    assert shown.exit_code == 0, shown.output
    assert "Access: restricted: the default of profile legal" in shown.stdout
    data = json.loads(cli("validate", str(sub), "--profile", "legal", "--json").stdout)
    assert data["access"] == {
        "level": "restricted",
        "embargo_until": None,
        "basis": "profile-default",
        "reason": "the default of profile legal",
    }
    stored = cli("ingest", str(sub), "--profile", "legal")
    assert stored.exit_code == 0, stored.output
    assert "Access: restricted: the default of profile legal" in stored.stderr
    again = json.loads(cli("ingest", str(sub), "--profile", "legal", "--json").stdout)
    assert again["created"] is False and again["access"]["level"] == "restricted"
    assert again["access"]["basis"] == "already-stored"


def test_ingest_json_says_a_submitter_tightened_it(cli, tmp_path: Path) -> None:
    sub = _legal(tmp_path, "access_level: legal-hold\n")
    data = json.loads(cli("ingest", str(sub), "--profile", "legal", "--json").stdout)
    assert data["ok"] and data["access"]["level"] == "legal-hold"
    assert data["access"]["basis"] == "submitter-tightened"
    shown = json.loads(cli("show", data["id"], "--json").stdout)
    assert shown["access"]["level"] == "legal-hold"


def test_a_submitter_who_opens_a_legal_package_is_refused(cli, tmp_path: Path) -> None:
    sub = _legal(tmp_path, "access_level: open\n")
    result = cli("validate", str(sub), "--profile", "legal", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [f["code"] for f in data["error"]["findings"] if f["severity"] == "error"] == ["E430"]
    human = cli("ingest", str(sub), "--profile", "legal")
    assert human.exit_code == 1 and "E430" in human.output and "nothing was written" in human.output
    assert json.loads(cli("list", "--json").stdout)["count"] == 0

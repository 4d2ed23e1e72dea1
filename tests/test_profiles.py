"""Profiles: loading, inheritance, broken files named precisely, and the metadata rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ProfileError
from archive.model import FormatInfo
from archive.profiles import BUNDLED_PROFILES, ProfileRegistry
from archive.profiles.access_rules import resolve_access
from archive.profiles.rules import check_format, dublin_core, validate_metadata


@pytest.fixture
def registry() -> ProfileRegistry:
    return ProfileRegistry([BUNDLED_PROFILES])


def test_bundled_profiles_load_and_extend_base(registry: ProfileRegistry) -> None:
    assert registry.names() == ["base", "heritage", "legal", "research"]
    for name in ("heritage", "legal", "research"):
        p = registry.get(name)
        assert p.extends == ("base",)
        assert p.checksums == ("sha256", "sha512")
        assert p.field("title") and p.field("title").required  # inherited from base
        assert p.version
    assert registry.get("legal").access.default == "restricted"
    assert registry.get("heritage").field("accession_number").required


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / f"{name}.yaml").write_text(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("id: x\nversion: '1'\nfields: [unclosed", "not valid YAML"),
        ("id: x\nversion: '1'\ncolour: blue\n", "unknown key 'colour'"),
        ("id: x\nversion: '1'\nfields:\n  a: {type: colour}\n", "field 'a': key 'type' is 'colour'"),
        ("id: x\nversion: '1'\nfields:\n  a: {type: string, mandatory: true}\n", "unknown key 'mandatory'"),
        ("id: x\nversion: '1'\nfields:\n  a: {pattern: '([a-z'}\n", "not a valid regular expression"),
        ("id: x\nversion: '1'\nfields:\n  a: {dc: colour}\n", "expected a Dublin Core element"),
        ("id: x\nversion: 1\n", "must be a quoted string"),
        ("id: y\nversion: '1'\n", "is 'y' but the file is named 'x'"),
        ("id: x\nversion: '1'\nchecksums: [crc32]\n", "key 'checksums'"),
        ("id: x\nversion: '1'\nformats: {rejected: [exe]}\n", "PRONOM PUIDs"),
        ("id: x\nversion: '1'\naccess: {default: secret}\n", "key 'default' must be one of"),
        ("id: x\nversion: '1'\nextends: missing\n", "unknown profile 'missing'"),
        ("a: &a [1]\nb: *a\n", "aliases"),
    ],
)
def test_broken_profile_is_a_clear_error_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "x", text)
    with pytest.raises(ProfileError) as exc:
        ProfileRegistry([tmp_path]).get("x")
    assert expected in str(exc.value)
    assert "x" in str(exc.value)


def test_extends_cycle_is_detected(tmp_path: Path) -> None:
    write(tmp_path, "a", "id: a\nversion: '1'\nextends: b\n")
    write(tmp_path, "b", "id: b\nversion: '1'\nextends: a\n")
    with pytest.raises(ProfileError, match="cycle: a -> b -> a"):
        ProfileRegistry([tmp_path]).get("a")


@pytest.mark.parametrize("name", ["../etc/passwd", "heritage/../base", "/abs", "Heritage", "", "a b", "a\x00"])
def test_profile_names_with_path_characters_are_refused(registry: ProfileRegistry, name: str) -> None:
    with pytest.raises(ProfileError, match="not valid"):
        registry.get(name)


def test_unknown_profile_lists_known_ones(registry: ProfileRegistry) -> None:
    with pytest.raises(ProfileError, match="unknown profile 'nope'; known profiles: base, heritage, legal, research"):
        registry.get("nope")


def test_child_overrides_inherited_field(tmp_path: Path) -> None:
    write(tmp_path, "parent", "id: parent\nversion: '1'\nfields:\n  a: {type: string, description: A}\n")
    write(tmp_path, "child", "id: child\nversion: '2'\nextends: parent\nfields:\n  a: {required: true}\n")
    field = ProfileRegistry([tmp_path]).get("child").field("a")
    assert field.required and field.description == "A" and field.type == "string"


HERITAGE_OK = {
    "title": "Harbour at dawn",
    "accession_number": "HHM.2024.017",
    "collection": "Harbour photographs",
    "provenance": "Donated by the photographer's estate.",
    "creator": ["A. Photographer"],
    "rights_statement": "https://rightsstatements.org/vocab/InC/1.0/",
    "date": "1931-06",
}


def test_valid_metadata_passes_and_maps_to_dublin_core(registry: ProfileRegistry) -> None:
    p = registry.get("heritage")
    checked, findings = validate_metadata(p, HERITAGE_OK)
    assert findings == []
    dc = dublin_core(p, checked)
    assert dc["title"] == ["Harbour at dawn"]
    assert dc["identifier"] == ["HHM.2024.017"]
    assert dc["rights"] == ["https://rightsstatements.org/vocab/InC/1.0/"]
    assert checked["creator"] == ["A. Photographer"]


def test_every_metadata_problem_is_reported_at_once(registry: ProfileRegistry) -> None:
    p = registry.get("heritage")
    bad = {
        **HERITAGE_OK,
        "accession_number": "seventeen",
        "date": "1931-13-01",
        "type": "Painting",
        "colour": "sepia",
        "language": "English!",
        "creator": 5,
    }
    del bad["collection"]
    _, findings = validate_metadata(p, bad)
    codes = sorted(f.code for f in findings)
    assert codes == ["E401", "E402", "E403", "E403", "E405", "E406", "E406"], findings
    paths = " ".join(f.path for f in findings)
    for name in ("accession_number", "date", "type", "colour", "language", "collection", "creator"):
        assert name in paths


def test_nested_object_fields_are_checked(registry: ProfileRegistry) -> None:
    p = registry.get("research")
    data = {
        "title": "T",
        "licence": "CC-BY-4.0",
        "creators": [{"name": "Ada", "orcid": "https://orcid.org/0000-0002-1825-0097"}, {"orcid": "x"}],
    }
    _, findings = validate_metadata(p, data)
    assert {(f.code, f.path) for f in findings} == {
        ("E402", "metadata: creators[1].name"),
        ("E406", "metadata: creators[1].orcid"),
    }


def test_legal_access_rules(registry: ProfileRegistry) -> None:
    p = registry.get("legal")
    assert resolve_access(p, {"legal_hold": True, "confidentiality": "internal"}).level == "legal-hold"
    assert resolve_access(p, {"legal_hold": False, "confidentiality": "privileged"}).level == "confidential"
    assert resolve_access(p, {"legal_hold": False, "confidentiality": "internal"}).level == "restricted"


def test_embargo_sets_access(registry: ProfileRegistry) -> None:
    access = resolve_access(registry.get("research"), {"embargo_until": "2031-01-01", "licence": "CC0-1.0"})
    assert access.level == "embargoed" and str(access.embargo_until) == "2031-01-01"
    assert access.statement == "CC0-1.0"


def test_format_policy(registry: ProfileRegistry) -> None:
    heritage = registry.get("heritage")
    assert check_format(heritage, "a.tif", FormatInfo("fmt/353", "TIFF")) is None
    assert check_format(heritage, "a.jpg", FormatInfo("fmt/43", "JPEG")).code == "W202"
    assert check_format(heritage, "a.exe", FormatInfo("x-fmt/411", "PE")).code == "E202"
    assert check_format(heritage, "a.bin", FormatInfo(None)).code == "W201"
    assert check_format(registry.get("research"), "a.bin", FormatInfo(None)) is None


def test_explicit_access_level_cannot_loosen_a_legal_hold(registry: ProfileRegistry) -> None:
    p = registry.get("legal")
    assert resolve_access(p, {"legal_hold": True, "access_level": "open"}).level == "legal-hold"
    # a submission may only tighten the profile's default: asking for open is refused (E430, in
    # check_access) and the package would keep the default (tests/test_access_tightening.py)
    assert (
        resolve_access(p, {"legal_hold": False, "confidentiality": "internal", "access_level": "open"}).level
        == "restricted"
    )
    assert (
        resolve_access(p, {"legal_hold": False, "confidentiality": "internal", "access_level": "confidential"}).level
        == "confidential"
    )

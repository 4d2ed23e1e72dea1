"""The one package-id check (archive.ids) and how each surface says its refusal.

The function is pure and raises InvalidRequest; storage restates it as StorageError, the
commands as NotFound (exit 1), and the API answers the InvalidRequest itself (400).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archive
from archive.api.deps import UUID_PATTERN
from archive.errors import InvalidRequest, NotFound, StorageError
from archive.ids import PACKAGE_ID_PATTERN, check_package_id, is_package_id
from archive.services.ids import named_package_id
from archive.storage.local import package_relpath

NOT_IDS = ["", "not-a-uuid", "x" * 200, " " + str(uuid.UUID(int=1)), "ABCDEF00-0000-4000-8000-000000000001"]


@given(st.uuids())
def test_every_minted_id_passes_and_its_variants_do_not(value: uuid.UUID) -> None:
    text = str(value)
    assert check_package_id(text) == text and is_package_id(text)
    for variant in (text.replace("-", ""), "{" + text + "}", text + "\n", text[:-1], f"urn:uuid:{text}"):
        assert not is_package_id(variant)
        with pytest.raises(InvalidRequest):
            check_package_id(variant)


@pytest.mark.parametrize("value", [*NOT_IDS, None, 7])
def test_each_surface_refuses_a_malformed_id_in_its_own_terms(value: object) -> None:
    with pytest.raises(InvalidRequest, match="is not a package identifier"):
        check_package_id(value)
    with pytest.raises(StorageError, match="is not a package identifier"):
        package_relpath(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        with pytest.raises(NotFound, match=re.escape(f"{value!r} is not a package identifier (a UUID)")):
            named_package_id(value)


def test_the_message_shows_at_most_80_characters_of_the_value() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_package_id("y" * 500)
    assert caught.value.message == f"{'y' * 80!r} is not a package identifier (a lower-case UUID)"


def test_the_openapi_pattern_is_the_same_pattern_as_before() -> None:
    assert UUID_PATTERN == "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    assert re.fullmatch(UUID_PATTERN[1:-1], str(uuid.uuid4())) and UUID_PATTERN[1:-1] == PACKAGE_ID_PATTERN


def test_no_other_module_spells_a_uuid_pattern_or_parses_ids_its_own_way() -> None:
    root = Path(archive.__file__).parent
    allowed = {root / "ids.py", root / "packaging" / "mets" / "common.py"}  # the latter: PREMIS identifier *types*
    spelled = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p not in allowed and ("{8}-[0-9a-f]{4}" in (text := p.read_text()) or "uuid.UUID(" in text)
    ]
    assert spelled == []

"""Every cell of the access matrix, through HTTP: roles x levels x routes, and the policy itself."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archive.access import policy
from archive.access.policy import Grant
from archive.api import create_app
from tests.api_support import LEVELS, ROLES, ApiArchive, build_archive

REPO = Path(__file__).resolve().parent.parent

#: what each role may do with each level: (metadata visible, files downloadable)
EXPECTED: dict[str, dict[str, tuple[bool, bool]]] = {
    "anonymous": {
        "open": (True, True),
        "restricted": (False, False),
        "embargoed-future": (True, False),
        "embargoed-past": (True, True),
        "confidential": (False, False),
        "legal-hold": (False, False),
    },
    "researcher": {
        "open": (True, True),
        "restricted": (True, False),
        "embargoed-future": (True, False),
        "embargoed-past": (True, True),
        "confidential": (False, False),
        "legal-hold": (False, False),
    },
    "archivist": dict.fromkeys(LEVELS, (True, True)),
    "admin": dict.fromkeys(LEVELS, (True, True)),
}
EXPECTED["auditor"] = EXPECTED["researcher"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("access"))


@pytest.fixture(scope="module")
def client(archive: ApiArchive):
    with TestClient(create_app(archive.settings)) as c:
        yield c


def _first_file(client: TestClient, archive: ApiArchive, level: str) -> str:
    files = client.get(f"/packages/{archive.packages[level]}/files", headers=archive.headers("admin")).json()
    return files["files"][0]["path"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("level", LEVELS)
def test_access_matrix_cell(client: TestClient, archive: ApiArchive, role: str, level: str) -> None:
    see_metadata, get_files = EXPECTED[role][level]
    pid = archive.packages[level]
    h = archive.headers(role)
    listed = {p["id"] for p in client.get("/packages", headers=h, params={"limit": 500}).json()["packages"]}
    assert (pid in listed) is see_metadata
    meta_status = 200 if see_metadata else 404
    for route in ("", "/mets", "/events", "/files"):
        r = client.get(f"/packages/{pid}{route}", headers=h)
        assert r.status_code == meta_status, (route, r.text)
        if not see_metadata:
            assert r.json()["error"]["message"] == f"no package {pid}"  # exactly what an unknown id gets
    path = _first_file(client, archive, level)
    file_status = 200 if get_files else (403 if see_metadata else 404)
    r = client.get(f"/packages/{pid}/files/{path}", headers=h)
    assert r.status_code == file_status, r.text
    assert client.head(f"/packages/{pid}/files/{path}", headers=h).status_code == file_status
    r = client.get(f"/packages/{pid}/download", headers=h)
    assert r.status_code == file_status
    if file_status != 200:
        assert r.json()["error"]["status"] == file_status
        assert len(r.content) < 1000  # an error document, not the bytes
    if see_metadata:
        access = client.get(f"/packages/{pid}", headers=h).json()["access"]
        assert access["files_available"] is get_files
        if level == "embargoed-future" and not get_files:
            assert access["files_available_from"] == "2999-12-31"


def test_hidden_and_unknown_packages_answer_the_same(client: TestClient, archive: ApiArchive) -> None:
    hidden = archive.packages["legal-hold"]
    unknown = "00000000-0000-4000-8000-000000000000"
    a = client.get(f"/packages/{hidden}/files/x.eml", headers=archive.headers("researcher"))
    b = client.get(f"/packages/{unknown}/files/x.eml", headers=archive.headers("researcher"))
    assert a.status_code == b.status_code == 404
    assert a.json()["error"]["message"].replace(hidden, "ID") == b.json()["error"]["message"].replace(
        unknown, "ID"
    )


def test_search_totals_count_only_visible_packages(client: TestClient, archive: ApiArchive) -> None:
    totals = {role: client.get("/packages", headers=archive.headers(role)).json()["total"] for role in ROLES}
    visible = {role: sum(m for m, _ in EXPECTED[role].values()) for role in ROLES}
    assert totals == visible


def test_anonymous_callers_need_a_token_when_the_setting_says_so(archive: ApiArchive) -> None:
    settings = archive.settings.__class__(**{**archive.settings.__dict__, "api_anonymous": False})
    with TestClient(create_app(settings)) as c:
        r = c.get("/packages")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "E003"
        assert c.get(f"/packages/{archive.packages['open']}").status_code == 401
        assert c.get("/packages", headers=archive.headers("researcher")).status_code == 200
        assert c.get("/health").status_code == 200  # health needs no token


@pytest.mark.parametrize(
    "role, audits, stats",
    [
        ("anonymous", 401, 401),
        ("researcher", 403, 403),
        ("auditor", 200, 403),
        ("archivist", 200, 200),
        ("admin", 200, 200),
    ],
)
def test_audits_and_stats_by_role(
    client: TestClient, archive: ApiArchive, role: str, audits: int, stats: int
) -> None:
    assert client.get("/audits", headers=archive.headers(role)).status_code == audits
    assert client.get("/stats", headers=archive.headers(role)).status_code == stats


# -- the policy, pure -----------------------------------------------------------------------
TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    "until, files",
    [(date(2025, 6, 2), False), (date(2025, 6, 1), True), (date(2025, 5, 31), True), (None, False)],
)
def test_embargo_lifts_on_its_date(until: date | None, files: bool) -> None:
    d = policy.decide("researcher", "embargoed", until, TODAY)
    assert d.metadata and d.files is files
    assert policy.decide("anonymous", "embargoed", until, TODAY).files is files
    assert policy.decide("archivist", "embargoed", until, TODAY).files


def test_unknown_roles_and_levels_fail_closed() -> None:
    assert policy.decide("visitor", "open", None, TODAY).hidden
    assert policy.decide("researcher", "secret-new-level", None, TODAY).hidden
    assert policy.decide("archivist", "secret-new-level", None, TODAY).files
    assert policy.decide("anonymous", "open", None, TODAY, anonymous_allowed=False).hidden


def test_search_filter_derives_from_the_same_matrix() -> None:
    for role in policy.ROLES:
        levels = policy.metadata_levels(role)
        for level in ("open", "restricted", "embargoed", "confidential", "legal-hold"):
            visible = policy.decide(role, level, None, TODAY).metadata
            assert (levels is None or level in levels) is visible


CELL = {
    Grant.ALL: "metadata + files",
    Grant.METADATA: "metadata",
    Grant.EMBARGO: "metadata; files from the date",
    Grant.NONE: "hidden (404)",
}


def test_docs_access_md_shows_the_matrix_the_code_enforces() -> None:
    text = (REPO / "docs" / "access.md").read_text(encoding="utf-8")
    table = re.search(r"^\| role \| open \|.*?\n\n", text, re.M | re.S)
    assert table, "docs/access.md needs the matrix table (| role | open | ...)"
    lines = table.group(0).strip().splitlines()
    levels = [c.strip(" `") for c in lines[0].strip("|").split("|")][1:]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`*")] = cells[1:]
    assert set(rows) == set(policy.ROLES)
    for role, cells in rows.items():
        assert len(cells) == len(levels) == 5
        for level, cell in zip(levels, cells, strict=True):
            assert cell == CELL[policy.grant(role, level)], (role, level, cell)

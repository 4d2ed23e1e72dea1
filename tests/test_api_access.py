"""Every cell of the access matrix, through HTTP: roles x levels x routes, and the policy itself.

Also the legal profile's narrowing of the matrix (``metadata_visible_to: {restricted: [archivist,
admin]}``): no custodian, matter, title, file name (e-mail subject) or digest of a legal package
reaches an anonymous caller, a researcher or an auditor through /packages (search ``q=``,
``field=``, ``profile=``, totals), /packages/{id}, /files, /files/{path}, /mets, /events,
/download or /audits; archivists and admins see all of it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from archive.access import policy
from archive.access.policy import Grant
from archive.api import create_app
from archive.profiles import ProfileRegistry
from archive.profiles.bundled import BUNDLED_PROFILES
from archive.services.audit.report import WITHHELD
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from tests.support.api import LEVELS, ROLES, ApiArchive, build_archive

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
        "legal": (False, False),
    },
    "researcher": {
        "open": (True, True),
        "restricted": (True, False),
        "embargoed-future": (True, False),
        "embargoed-past": (True, True),
        "confidential": (False, False),
        "legal-hold": (False, False),
        "legal": (False, False),  # restricted, but the legal profile hides it from readers
    },
    "archivist": dict.fromkeys((*LEVELS, "legal"), (True, True)),
    "admin": dict.fromkeys((*LEVELS, "legal"), (True, True)),
}
EXPECTED["auditor"] = EXPECTED["researcher"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("access"), (*LEVELS, "legal"))


@pytest.fixture(scope="module")
def client(archive: ApiArchive):
    with TestClient(create_app(archive.settings)) as c:
        yield c


def _first_file(client: TestClient, archive: ApiArchive, level: str) -> str:
    files = client.get(f"/packages/{archive.packages[level]}/files", headers=archive.headers("admin")).json()
    return files["files"][0]["path"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("level", (*LEVELS, "legal"))
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
    part = client.get(f"/packages/{pid}/mets/files-0123456789abcdef.xml", headers=h)  # a small package has none
    assert part.status_code == 404
    assert (part.json()["error"]["message"] == f"no package {pid}") is not see_metadata
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
    assert a.json()["error"]["message"].replace(hidden, "ID") == b.json()["error"]["message"].replace(unknown, "ID")


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
def test_audits_and_stats_by_role(client: TestClient, archive: ApiArchive, role: str, audits: int, stats: int) -> None:
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


LEGAL_PROFILE = ProfileRegistry([BUNDLED_PROFILES]).get("legal")


def test_docs_access_md_shows_the_legal_profiles_narrowing() -> None:
    text = (REPO / "docs" / "access.md").read_text(encoding="utf-8")
    table = re.search(r"^\| role, `legal` profile \|.*?\n\n", text, re.MULTILINE | re.DOTALL)
    assert table, "docs/access.md needs the legal profile's table (| role, `legal` profile | open | ...)"
    lines = table.group(0).strip().splitlines()
    levels = [c.strip(" `") for c in lines[0].strip("|").split("|")][1:]
    visible_to = LEGAL_PROFILE.access.visible_to()
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`*")] = cells[1:]
    assert set(rows) == set(policy.ROLES)
    for role, cells in rows.items():
        for level, cell in zip(levels, cells, strict=True):
            assert cell == CELL[policy.grant(role, level, True, visible_to)], (role, level, cell)


# -- the legal profile: nothing of a legal package reaches readers --------------------------------
READERS = ("anonymous", "researcher", "auditor")
#: words of the legal example (examples/legal-contract-dispute) and of tests/data/submissions/legal-minimal
#: that only a caller who may see the package's metadata may receive
LEGAL_MARKERS = [
    "Okafor",  # custodian
    "Lindqvist",  # custodian
    "LIT-2025-0042",  # matter reference
    "Brightwater",  # title, creator
    "Marek Nowak",  # chain of custody
    "Delivery schedule for MB-900",  # an e-mail subject, in a file name
    "INV-2024-0318 disputed",  # another one
    "Test Custodian",
    "TST-2025-0001",
    "Test matter",
]
LEGAL_SEARCHES = [
    {"limit": 500},
    {"q": "Okafor"},
    {"q": "LIT-2025-0042"},
    {"q": "buoys"},
    {"q": "delivery schedule"},
    {"q": "test custodian"},
    {"profile": "legal"},
    {"field": "matter_reference=LIT-2025-0042"},
    {"field": "custodian=Test Custodian"},
    {"field": "confidentiality=internal"},
    {"puid": "fmt/950"},
    {"created_from": "2000-01-01", "limit": 500},
]


class LegalArchive:
    def __init__(
        self, archive: ApiArchive, ids: list[str], paths: dict[str, list[str]], digests: list[str], run_id: str
    ) -> None:
        self.archive, self.ids, self.paths, self.digests, self.run_id = archive, ids, paths, digests, run_id


@pytest.fixture(scope="module")
def legal(tmp_path_factory: pytest.TempPathFactory) -> LegalArchive:
    tmp = tmp_path_factory.mktemp("legal")
    archive = build_archive(tmp, ("open", "legal"))
    example = tmp / "legal-contract-dispute"
    shutil.copytree(REPO / "examples" / "legal-contract-dispute", example)
    with ArchiveContext(archive.settings) as ctx:
        matter = ingest(ctx, example, "legal", agent="api-tests").package_id
        ids = [archive.packages["legal"], matter]
        paths = {
            pid: sorted(
                p.relative_to(ctx.storage.original_bag(pid) / "data").as_posix()
                for p in (ctx.storage.original_bag(pid) / "data").rglob("*")
                if p.is_file()
            )
            for pid in ids
        }
        digests = [
            hashlib.sha256((ctx.storage.original_bag(pid) / "data" / path).read_bytes()).hexdigest()
            for pid in ids
            for path in paths[pid]
        ]
        run_id = run_audit(ctx, AuditOptions(all=True)).run_id
    return LegalArchive(archive, ids, paths, digests, run_id)


def _package_urls(legal: LegalArchive, pid: str) -> list[str]:
    base = f"/packages/{pid}"
    return [
        base,
        f"{base}/mets",
        f"{base}/events",
        f"{base}/files",
        f"{base}/download",
        *(f"{base}/files/{quote(path)}" for path in legal.paths[pid]),
    ]


def _blob(r) -> str:  # type: ignore[no-untyped-def]
    return r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items())


@pytest.mark.parametrize("role", READERS)
def test_no_legal_metadata_reaches_a_reader(legal: LegalArchive, role: str) -> None:
    a = legal.archive
    forbidden = [*LEGAL_MARKERS, *legal.digests, *(p.rsplit("/", 1)[-1] for ps in legal.paths.values() for p in ps)]
    with TestClient(create_app(a.settings)) as c:
        h = a.headers(role)
        unknown = "00000000-0000-4000-8000-000000000000"
        for pid in legal.ids:
            for url in _package_urls(legal, pid):
                r = c.get(url, headers=h)
                assert r.status_code == 404, (role, url, r.status_code)
                assert r.json()["error"]["message"] == f"no package {pid}"  # what an unknown id gets
                twin = c.get(url.replace(pid, unknown), headers=h)
                assert twin.status_code == 404 and twin.json() == {
                    "error": {**r.json()["error"], "message": f"no package {unknown}"}
                }
                assert not [m for m in forbidden if m in _blob(r)], (role, url)
                assert c.head(url, headers=h).status_code in (404, 405)
        for params in LEGAL_SEARCHES:
            r = c.get("/packages", params=params, headers=h)
            assert r.status_code == 200, (params, r.text)
            body = r.json()
            assert not {p["id"] for p in body["packages"]} & set(legal.ids), (role, params)
            answer = str({k: v for k, v in body.items() if k != "query"})  # the echo of the query aside
            assert not [m for m in forbidden if m in answer], (role, params)
            assert body["total"] == len(body["packages"]), (role, params)  # hidden ones are not counted
        everything = c.get("/packages", params={"limit": 500}, headers=h).json()
        assert everything["total"] == (1 if role != "anonymous" or a.settings.api_anonymous else 0)  # the open one
        audits = c.get(f"/audits/{legal.run_id}", headers=h)
        assert audits.status_code == (200 if role == "auditor" else 401 if role == "anonymous" else 403)
        assert not [m for m in forbidden if m in _blob(audits)]


@pytest.mark.parametrize("role", sorted(policy.SEE_ALL))
def test_archivists_see_every_legal_detail(legal: LegalArchive, role: str) -> None:
    """The sweep above is not blind: the same requests show the markers to archivists and admins."""
    a = legal.archive
    seen = ""
    with TestClient(create_app(a.settings)) as c:
        h = a.headers(role)
        for pid in legal.ids:
            for url in _package_urls(legal, pid):
                r = c.get(url, headers=h)
                assert r.status_code == 200, (role, url, r.text[:200])
                if not url.endswith("/download") and "/files/" not in url:
                    seen += r.text
        for params in LEGAL_SEARCHES:
            if params.get("q") == "delivery schedule":
                continue  # words of file names only: free text searches descriptive metadata
            body = c.get("/packages", params=params, headers=h).json()
            assert set(legal.ids) & {p["id"] for p in body["packages"]}, params
    assert [m for m in LEGAL_MARKERS if m not in seen] == []
    assert all(d in seen for d in legal.digests)


def test_audit_findings_in_a_legal_package_are_withheld_from_auditors(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open", "legal"))
    pid = a.packages["legal"]
    with ArchiveContext(a.settings) as ctx:
        stored = next(p for p in (ctx.storage.original_bag(pid) / "data").rglob("*") if p.is_file())
        name = stored.name
        stored.chmod(0o644)
        data = bytearray(stored.read_bytes())
        data[10] ^= 0xFF
        stored.write_bytes(bytes(data))
        run = run_audit(ctx, AuditOptions(all=True)).run_id
    with TestClient(create_app(a.settings)) as c:
        seen = c.get(f"/audits/{run}", headers=a.headers("auditor")).json()
        full = c.get(f"/audits/{run}", headers=a.headers("archivist")).json()
    mine = [f for f in seen["findings"] if f["package"] == pid]
    assert mine and all(f["path"] == "" and f["message"] == WITHHELD and f["expected"] is None for f in mine)
    assert name not in str(seen)
    assert any(name in f["path"] for f in full["findings"] if f["package"] == pid)


def test_a_package_whose_profile_cannot_be_loaded_is_hidden_from_readers(archive: ApiArchive, tmp_path: Path) -> None:
    """Fail closed: the narrowing of a profile the archive cannot read is unknown, so its packages are hidden."""
    broken = tmp_path / "profiles"
    broken.mkdir()
    (broken / "heritage.yaml").write_text("id: heritage\nversion: [not, a, string]\n", encoding="utf-8")
    settings = archive.settings.__class__(**{**archive.settings.__dict__, "profiles_dirs": (broken,)})
    pid = archive.packages["open"]
    with TestClient(create_app(settings)) as c:
        assert c.get(f"/packages/{pid}", headers=archive.headers("researcher")).status_code == 404
        listed = {p["id"] for p in c.get("/packages", headers=archive.headers("researcher")).json()["packages"]}
        assert pid not in listed and archive.packages["legal"] not in listed
        assert c.get(f"/packages/{pid}", headers=archive.headers("archivist")).status_code == 200


def test_the_search_filter_hides_legal_packages_on_every_catalog_engine(ctx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The (profile, level) groups of the search filter as SQL, on SQLite and (when configured) PostgreSQL."""
    from archive.services.retrieve import tokens

    ids = {}
    for name, profile in (("heritage-minimal", "heritage"), ("legal-minimal", "legal")):
        shutil.copytree(REPO / "tests" / "data" / "submissions" / name, tmp_path / name)
        ids[profile] = ingest(ctx, tmp_path / name, profile).package_id
    with TestClient(create_app(ctx)) as c:
        for role, expected in (("researcher", {ids["heritage"]}), ("archivist", set(ids.values()))):
            _, token = tokens.create(ctx, role, role)
            h = {"Authorization": f"Bearer {token}"}
            for params in ({}, {"q": "test"}, {"profile": "legal"}, {"field": "custodian=Test Custodian"}):
                body = c.get("/packages", params=params, headers=h).json()
                listed = {p["id"] for p in body["packages"]}
                assert listed <= expected and body["total"] == len(listed), (role, params)
            assert {p["id"] for p in c.get("/packages", headers=h).json()["packages"]} == expected

"""Package versions over the API: the listing, ``?version=N`` on every read of one package, and
decisions (access, legal holds) POSTed by archivists and admins.

The packages get their versions the way every package does, through
archive.services.lifecycle.changes: a file withdrawn, an access tightened, an access loosened.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path
from urllib.parse import quote

import bagit
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.api import create_app
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.lifecycle import changes
from archive.services.lifecycle.versions import Actor
from archive.storage import package_relpath
from tests.conftest import DATA
from tests.support.api import ApiArchive, build_archive
from tests.support.audit import flip_byte

ALICE = Actor("alice", "archivist")
TIF, PDF = "HHM_2024_900_001.tif", "finding-aid.pdf"


def _heritage(ctx: ArchiveContext, tmp: Path, name: str) -> str:
    """Another open heritage package (two files: a TIFF and a PDF)."""
    dest = tmp / name
    shutil.copytree(DATA / "submissions" / "heritage-minimal", dest)
    return ingest(ctx, dest, "heritage", agent="api-tests").package_id


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    """``withdrawn``: open, v2 withdraws the PDF. ``tightened``: open in v1, restricted from v2.
    ``loosened``: confidential in v1, open from v2."""
    tmp = tmp_path_factory.mktemp("versions")
    a = build_archive(tmp, ("open", "confidential"))
    with ArchiveContext(a.settings) as ctx:
        a.packages["withdrawn"] = a.packages.pop("open")
        changes.withdraw_files(ctx, a.packages["withdrawn"], [PDF], "the wrong finding aid", ALICE)
        a.packages["tightened"] = _heritage(ctx, tmp, "tightened")
        changes.set_access(ctx, a.packages["tightened"], "restricted", "the donor asked", ALICE)
        a.packages["loosened"] = a.packages.pop("confidential")
        changes.set_access(ctx, a.packages["loosened"], "open", "cleared for release", ALICE)
    return a


@pytest.fixture(scope="module")
def client(archive: ApiArchive):
    with TestClient(create_app(archive.settings)) as c:
        yield c


def _stored(archive: ApiArchive, pid: str, version: int, bag_path: str) -> bytes:
    with ArchiveContext(archive.settings) as ctx:
        return ctx.storage.version(pid, version).path(bag_path).read_bytes()


# -- the listing ---------------------------------------------------------------------------------
def test_versions_lists_every_version_oldest_first(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["withdrawn"]
    r = client.get(f"/packages/{pid}/versions", headers=archive.headers("researcher"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["package_id"], body["head_version"], body["count"]) == (pid, 2, 2)
    first, second = body["versions"]
    assert (first["version"], first["kind"], first["agent"], first["files"]) == (1, "ingest", "api-tests", 2)
    assert (second["version"], second["kind"], second["reason"], second["agent"]) == (
        2,
        "withdraw",
        "the wrong finding aid",
        "alice",
    )
    assert second["files"] == 1 and second["bytes"] < first["bytes"]
    for v in body["versions"]:
        assert v["access_level"] == "open" and v["held"] is False and v["title"].startswith("(open)")
        assert v["available"] and v["files_available"] and v["created"]
        assert v["href"] == f"/packages/{pid}?version={v['version']}"
    with ArchiveContext(archive.settings) as ctx:
        recorded = [v.as_dict() for v in ctx.catalog.versions(pid)]
    assert [{k: v[k] for k in recorded[0]} for v in body["versions"]] == recorded


def test_versions_of_a_hidden_package_answer_as_an_unknown_id(client: TestClient, archive: ApiArchive) -> None:
    hidden = client.get(f"/packages/{archive.packages['tightened']}/versions")  # restricted: hidden from anonymous
    unknown = client.get("/packages/00000000-0000-4000-8000-000000000000/versions")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["message"] == f"no package {archive.packages['tightened']}"
    assert client.get("/packages/not-a-uuid/versions").status_code == 400


def test_a_version_tighter_than_the_head_is_listed_without_its_title(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["loosened"]
    body = client.get(f"/packages/{pid}/versions", headers=archive.headers("researcher")).json()
    v1, v2 = body["versions"]
    assert (v1["access_level"], v1["available"], v1["files_available"], v1["title"]) == (
        "confidential",
        False,
        False,
        None,
    )
    assert v2["available"] and v2["files_available"] and v2["title"]
    admin = client.get(f"/packages/{pid}/versions", headers=archive.headers("admin")).json()
    assert admin["versions"][0]["title"] and admin["versions"][0]["available"]


# -- ?version on each read -----------------------------------------------------------------------
def test_package_metadata_of_a_version(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["withdrawn"]
    h = archive.headers("researcher")
    head = client.get(f"/packages/{pid}", headers=h).json()
    v1 = client.get(f"/packages/{pid}", params={"version": 1}, headers=h).json()
    v2 = client.get(f"/packages/{pid}", params={"version": 2}, headers=h).json()
    assert (head["version"], head["head_version"], head["files"]["count"]) == (2, 2, 1)
    assert (v1["version"], v1["head_version"], v1["files"]["count"]) == (1, 2, 2)
    assert {f["puid"] for f in v1["files"]["formats"]} > {f["puid"] for f in head["files"]["formats"]}
    same = {k: v for k, v in v2.items() if k not in ("links", "files")}
    assert same == {k: v for k, v in head.items() if k not in ("links", "files")}  # the head, named
    assert v2["links"]["mets"] == f"/packages/{pid}/mets?version=2"
    assert v1["links"]["files"] == f"/packages/{pid}/files?version=1"
    assert v1["links"]["download"] == f"/packages/{pid}/download?version=1"
    assert v1["links"]["versions"] == f"/packages/{pid}/versions"
    assert head["links"]["mets"] == f"/packages/{pid}/mets"


def test_mets_of_a_version_is_that_versions_document(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["withdrawn"]
    v1 = client.get(f"/packages/{pid}/mets", params={"version": 1})
    head = client.get(f"/packages/{pid}/mets")
    assert v1.status_code == head.status_code == 200
    assert v1.content == _stored(archive, pid, 1, "mets.xml") != head.content == _stored(archive, pid, 2, "mets.xml")
    assert v1.headers["etag"] == f'"{hashlib.sha256(v1.content).hexdigest()}"'
    part = client.get(f"/packages/{pid}/mets", params={"version": 1}, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == v1.content[:10]


def test_files_listing_of_a_version(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["withdrawn"]
    head = client.get(f"/packages/{pid}/files").json()
    v1 = client.get(f"/packages/{pid}/files", params={"version": 1}).json()
    assert [f["path"] for f in head["files"]] == [TIF] and head["version"] == 2 and head["total"] == 1
    assert [f["path"] for f in v1["files"]] == sorted([PDF, TIF]) and v1["version"] == 1 and v1["total"] == 2
    assert all(f["href"].endswith("?version=1") for f in v1["files"])
    page = client.get(f"/packages/{pid}/files", params={"version": 1, "limit": 1}).json()
    rest = client.get(f"/packages/{pid}/files", params={"version": 1, "cursor": page["next_cursor"]}).json()
    assert [f["path"] for f in page["files"] + rest["files"]] == [f["path"] for f in v1["files"]]
    assert rest["next_cursor"] is None


def test_a_withdrawn_file_is_404_at_the_head_and_served_from_its_version(
    client: TestClient, archive: ApiArchive
) -> None:
    pid = archive.packages["withdrawn"]
    h = archive.headers("researcher")
    gone = client.get(f"/packages/{pid}/files/{PDF}", headers=h)
    assert gone.status_code == 404 and PDF in gone.json()["error"]["message"]
    assert client.get(f"/packages/{pid}/files/{PDF}", params={"version": 2}, headers=h).status_code == 404
    r = client.get(f"/packages/{pid}/files/{PDF}", params={"version": 1}, headers=h)
    body = _stored(archive, pid, 1, f"data/{PDF}")
    assert r.status_code == 200 and r.content == body
    assert r.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    part = client.get(f"/packages/{pid}/files/{PDF}", params={"version": 1}, headers={**h, "Range": "bytes=-5"})
    assert part.status_code == 206 and part.content == body[-5:]
    head = client.head(f"/packages/{pid}/files/{PDF}", params={"version": 1}, headers=h)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(body))
    # a file every version holds is the same file from each
    assert (
        client.get(f"/packages/{pid}/files/{TIF}", params={"version": 1}).content
        == client.get(f"/packages/{pid}/files/{TIF}").content
    )


def test_download_of_a_version_is_that_versions_bag(client: TestClient, archive: ApiArchive, tmp_path: Path) -> None:
    pid = archive.packages["withdrawn"]
    for version, payload in ((1, {PDF, TIF}), (None, {TIF})):
        params = {} if version is None else {"version": version}
        r = client.get(f"/packages/{pid}/download", params=params)
        assert r.status_code == 200
        name = pid if version is None else f"{pid}-v{version}"
        assert r.headers["content-disposition"] == f'attachment; filename="{name}.zip"'
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            assert {n.removeprefix(f"{pid}/data/") for n in z.namelist() if "/data/" in n} == payload
            z.extractall(tmp_path / str(version))
        bagit.Bag(str(tmp_path / str(version) / pid)).validate()


def test_a_version_that_does_not_exist_is_404_with_its_range(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["withdrawn"]
    for url in (f"/packages/{pid}", f"/packages/{pid}/files", f"/packages/{pid}/mets", f"/packages/{pid}/download"):
        r = client.get(url, params={"version": 3})
        assert r.status_code == 404, url
        assert r.json()["error"]["message"] == f"package {pid} has no version 3: its versions are 1 to 2"
    assert client.get(f"/packages/{pid}/files/{TIF}", params={"version": 3}).status_code == 404


@pytest.mark.parametrize("value", ["0", "-1", "1.0", "one", "", " 1", "1e3", "\u0661", "0x1"])
def test_a_version_that_is_not_a_positive_number_is_400(client: TestClient, archive: ApiArchive, value: str) -> None:
    r = client.get(f"/packages/{archive.packages['withdrawn']}", params={"version": value})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "E005" and "version" in r.json()["error"]["message"]


def test_access_tightened_later_covers_the_earlier_version(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["tightened"]
    researcher, archivist = archive.headers("researcher"), archive.headers("archivist")
    v1 = client.get(f"/packages/{pid}", params={"version": 1}, headers=researcher).json()
    assert v1["access"]["level"] == "open" and v1["access"]["files_available"] is False
    for url in (f"/packages/{pid}/files/{TIF}", f"/packages/{pid}/download"):
        for version in (1, None):
            params = {} if version is None else {"version": version}
            r = client.get(url, params=params, headers=researcher)
            assert r.status_code == 403, (url, version)
        assert client.get(url, params={"version": 1}, headers=archivist).status_code == 200
    listed = client.get(f"/packages/{pid}/versions", headers=researcher).json()["versions"]
    assert [(v["access_level"], v["available"], v["files_available"]) for v in listed] == [
        ("open", True, False),
        ("restricted", True, False),
    ]
    assert client.get(f"/packages/{pid}", params={"version": 1}).status_code == 404  # anonymous: hidden at the head


def test_access_loosened_later_does_not_open_the_earlier_version(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["loosened"]
    researcher = archive.headers("researcher")
    assert client.get(f"/packages/{pid}", headers=researcher).status_code == 200
    for url in (f"/packages/{pid}", f"/packages/{pid}/files", f"/packages/{pid}/mets", f"/packages/{pid}/download"):
        r = client.get(url, params={"version": 1}, headers=researcher)
        assert r.status_code == 404, url
        assert "version 1" in r.json()["error"]["message"]
    assert client.get(f"/packages/{pid}", params={"version": 1}, headers=archive.headers("admin")).status_code == 200


@given(
    value=st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.text(max_size=40),
        st.sampled_from(["", "+1", "1 ", "00", "007", "9" * 5000, "1" + "0" * 40, "١", "²", "1_000", "%00", "nan"]),
    ),
    route=st.sampled_from(["", "/files", "/mets", "/download", f"/files/{PDF}", f"/files/{TIF}"]),
    role=st.sampled_from(["anonymous", "researcher", "admin"]),
)
@example(value="2", route=f"/files/{PDF}", role="admin")  # withdrawn in version 2: 404
@example(value="1", route=f"/files/{PDF}", role="admin")
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_version_query_is_200_400_or_404(
    client: TestClient, archive: ApiArchive, value: str, route: str, role: str
) -> None:
    pid = archive.packages["withdrawn"]
    r = client.get(f"/packages/{pid}{route}?version={quote(value, safe='')}", headers=archive.headers(role))
    assert r.status_code in (200, 400, 404), (value, route, r.status_code, r.text[:200])
    if r.status_code != 200:
        assert r.json()["error"]["code"] in ("E002", "E005")
    if r.status_code == 200 and value.isascii() and value.isdigit():
        assert int(value) in (1, 2)


def test_a_version_file_is_handed_to_nginx_from_where_that_version_stores_it(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open",), api_accel_redirect="/_archive_storage/")
    pid = a.packages["open"]
    with ArchiveContext(a.settings) as ctx:
        changes.withdraw_files(ctx, pid, [PDF], "wrong file", ALICE)
        stored = ctx.storage.version(pid, 1).stored(f"data/{PDF}")
    with TestClient(create_app(a.settings)) as c:
        r = c.get(f"/packages/{pid}/files/{PDF}", params={"version": 1})
        assert r.status_code == 200 and r.content == b""
        assert r.headers["x-accel-redirect"] == f"/_archive_storage/{quote(package_relpath(pid) + '/' + stored)}"
        assert stored == f"v1/content/data/{PDF}"
        assert "x-accel-redirect" not in c.get(f"/packages/{pid}/files/{PDF}").headers


def test_a_damaged_file_of_an_old_version_is_an_incident_not_served(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open",))
    pid = a.packages["open"]
    with ArchiveContext(a.settings) as ctx:
        changes.withdraw_files(ctx, pid, [PDF], "wrong file", ALICE)
        flip_byte(ctx.storage.version(pid, 1).path(f"data/{PDF}"))
    with TestClient(create_app(a.settings)) as c:
        r = c.get(f"/packages/{pid}/files/{PDF}", params={"version": 1})
        assert r.status_code == 500 and r.json()["error"]["code"] == "E600"
        assert "incident" in r.json()["error"]["message"]
        assert c.get(f"/packages/{pid}/files/{TIF}", params={"version": 1}).status_code == 200


# -- decisions -----------------------------------------------------------------------------------
@pytest.fixture
def decide(tmp_path: Path):
    """A fresh archive with one open package, and a client over it."""
    a = build_archive(tmp_path, ("open",))
    with TestClient(create_app(a.settings)) as c:
        yield a, c


MADE_KEYS = {"id", "version", "kind", "reason", "agent", "created", "summary", "files", "bytes", "stored_bytes"}


def test_an_archivist_sets_access_and_the_package_shows_it(decide) -> None:  # type: ignore[no-untyped-def]
    a, c = decide
    pid = a.packages["open"]
    r = c.post(
        f"/packages/{pid}/access", json={"level": "restricted", "reason": "donor asked"}, headers=a.headers("archivist")
    )
    assert r.status_code == 200, r.text
    made = r.json()
    assert set(made) == MADE_KEYS
    assert (made["id"], made["version"], made["kind"], made["reason"], made["agent"]) == (
        pid,
        2,
        "access",
        "donor asked",
        "archivist for tests",
    )
    assert c.get(f"/packages/{pid}").status_code == 404  # restricted: anonymous callers no longer see it
    shown = c.get(f"/packages/{pid}", headers=a.headers("researcher")).json()
    assert shown["access"]["level"] == "restricted" and shown["version"] == 2
    r = c.post(
        f"/packages/{pid}/access",
        json={"level": "embargoed", "reason": "until the book is out", "embargo_until": "2999-01-01"},
        headers=a.headers("admin"),
    )
    assert r.status_code == 200 and r.json()["version"] == 3
    with ArchiveContext(a.settings) as ctx:
        pkg = ctx.catalog.get_package(pid)
        assert (pkg.access.level, str(pkg.access.embargo_until)) == ("embargoed", "2999-01-01")
        assert [(v.kind, v.agent) for v in ctx.catalog.versions(pid)][1:] == [
            ("access", "archivist for tests"),
            ("access", "admin for tests"),
        ]
        decided = [e for e in pkg.events if e.type == "policy assignment"]
        assert [e.outcome_detail for e in decided][-2:] == ["donor asked", "until the book is out"]


@pytest.mark.parametrize(
    "url, body",
    [
        ("access", {"level": "confidential", "reason": "r"}),
        ("hold", {"reason": "r"}),
        ("hold/release", {"reason": "r"}),
    ],
)
@pytest.mark.parametrize("role, status", [("anonymous", 401), ("researcher", 403), ("auditor", 403)])
def test_decisions_need_an_archivist_or_admin_token(decide, url: str, body: dict, role: str, status: int) -> None:  # type: ignore[no-untyped-def,type-arg]
    a, c = decide
    pid = a.packages["open"]
    r = c.post(f"/packages/{pid}/{url}", json=body, headers=a.headers(role))
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    # the same answer for a package that does not exist: the role is refused before any lookup
    other = c.post(f"/packages/00000000-0000-4000-8000-000000000000/{url}", json=body, headers=a.headers(role))
    assert other.status_code == status
    with ArchiveContext(a.settings) as ctx:
        assert ctx.catalog.get_package(pid).version == 1  # nothing was changed


def test_a_hold_refuses_every_change_until_released(decide) -> None:  # type: ignore[no-untyped-def]
    a, c = decide
    pid = a.packages["open"]
    h = a.headers("archivist")
    r = c.post(f"/packages/{pid}/hold", json={"reason": "litigation 2026-17"}, headers=h)
    assert r.status_code == 200 and r.json()["kind"] == "hold"
    assert c.get(f"/packages/{pid}").json()["held"] is True
    refused = c.post(f"/packages/{pid}/access", json={"level": "restricted", "reason": "x"}, headers=h)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "E800"
    assert "legal hold" in refused.json()["error"]["message"]
    assert c.post(f"/packages/{pid}/hold", json={"reason": "again"}, headers=h).status_code == 409
    released = c.post(f"/packages/{pid}/hold/release", json={"reason": "settled"}, headers=h)
    assert released.status_code == 200 and released.json()["version"] == 3
    assert c.post(f"/packages/{pid}/hold/release", json={"reason": "again"}, headers=h).status_code == 409
    assert c.post(f"/packages/{pid}/access", json={"level": "restricted", "reason": "x"}, headers=h).status_code == 200
    assert c.post(f"/packages/{pid}/access", json={"level": "restricted", "reason": "x"}, headers=h).status_code == 409
    listed = c.get(f"/packages/{pid}/versions", headers=h).json()["versions"]
    assert [(v["kind"], v["held"]) for v in listed] == [
        ("ingest", False),
        ("hold", True),
        ("release", False),
        ("access", False),
    ]


@pytest.mark.parametrize(
    "url, body, status",
    [
        ("access", {"level": "restricted"}, 422),  # no reason
        ("access", {"level": "restricted", "reason": "   "}, 422),  # a blank one
        ("access", {"level": "restricted", "reason": "x" * 2001}, 422),
        ("access", {"level": "restricted", "reason": "bell\x07"}, 422),
        ("access", {"level": "secret", "reason": "x"}, 422),
        ("access", {"level": "restricted", "reason": "x", "statement": "y"}, 422),  # unknown key
        ("access", {"level": "embargoed", "reason": "x", "embargo_until": "tomorrow"}, 422),
        ("access", {"level": "embargoed", "reason": "x", "embargo_until": 1700000000}, 422),
        ("access", {"level": "embargoed", "reason": "x"}, 400),  # an embargo needs its date
        ("access", {"level": "open", "reason": "x", "embargo_until": "2030-01-01"}, 400),  # and only it takes one
        ("access", [], 422),
        ("hold", {}, 422),
        ("hold", {"reason": "x", "until": "later"}, 422),
        ("hold/release", {"reason": ""}, 422),
    ],
)
def test_decision_bodies_are_validated(decide, url: str, body: object, status: int) -> None:  # type: ignore[no-untyped-def]
    a, c = decide
    pid = a.packages["open"]
    r = c.post(f"/packages/{pid}/{url}", json=body, headers=a.headers("archivist"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == "E005"
    with ArchiveContext(a.settings) as ctx:
        assert ctx.catalog.get_package(pid).version == 1


def test_a_decision_about_an_unknown_package_is_404_and_bodies_are_bounded(decide) -> None:  # type: ignore[no-untyped-def]
    a, c = decide
    h = a.headers("admin")
    r = c.post("/packages/00000000-0000-4000-8000-000000000000/hold", json={"reason": "x"}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["message"] == "no package 00000000-0000-4000-8000-000000000000"
    assert c.post("/packages/not-a-uuid/hold", json={"reason": "x"}, headers=h).status_code == 400
    big = c.post(f"/packages/{a.packages['open']}/hold", content=b'{"reason": "' + b"x" * 20_000 + b'"}', headers=h)
    assert big.status_code == 413
    assert c.post(f"/packages/{a.packages['open']}/hold", content=b"not json", headers=h).status_code == 422
    lone = c.post(f"/packages/{a.packages['open']}/hold", content=b'{"reason": "a \\ud800 b"}', headers=h)
    assert lone.status_code == 422  # a lone surrogate can be sent in JSON, never recorded
    assert c.get(f"/packages/{a.packages['open']}/hold").status_code in (404, 405)


def test_openapi_describes_versions_and_decisions(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    assert "get" in paths["/packages/{package_id}/versions"]
    for path in ("/packages/{package_id}/access", "/packages/{package_id}/hold", "/packages/{package_id}/hold/release"):
        op = paths[path]["post"]
        assert op["requestBody"]["required"] is True
        assert {"200", "401", "403", "404", "409", "422"} <= set(op["responses"])
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/VersionMade")
    schemas = doc["components"]["schemas"]
    assert schemas["AccessDecision"]["additionalProperties"] is False
    assert set(schemas["AccessDecision"]["required"]) == {"level", "reason"}
    assert "VersionsPage" in schemas and "VersionEntry" in schemas
    for path in (
        "/packages/{package_id}",
        "/packages/{package_id}/mets",
        "/packages/{package_id}/files",
        "/packages/{package_id}/files/{path}",
        "/packages/{package_id}/download",
    ):
        for method, op in paths[path].items():
            names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
            assert "version" in names, (method, path)

"""GET /packages (search, filters, pagination) on SQLite and PostgreSQL; one package's metadata routes."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from archive.api import create_app
from archive.services.ingest.run import ingest
from archive.services.retrieve import tokens
from tests.conftest import DATA
from tests.support.api import ApiArchive, build_archive, research_submission


def _ingest_mix(ctx, tmp: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    ids = {}
    for name, profile in (
        ("heritage-minimal", "heritage"),
        ("legal-minimal", "legal"),
        ("research-bag", "research"),
    ):
        shutil.copytree(DATA / "submissions" / name, tmp / name)
        ids[name] = ingest(ctx, tmp / name, profile).package_id
    ids["cafe"] = ingest(
        ctx,
        research_submission(
            tmp, "cafe", {"a.bin": b"\x00\x01cafe"}, title="Café du Port: données horaires", date="1951/1958"
        ),
        "research",
    ).package_id
    ids["june"] = ingest(
        ctx,
        research_submission(tmp, "june", {"b.bin": b"\x00\x02june"}, title="Saltmarsh readings", date="2024-06"),
        "research",
    ).package_id
    return ids


@pytest.fixture
def searchable(ctx, tmp_path: Path):  # type: ignore[no-untyped-def]
    ids = _ingest_mix(ctx, tmp_path)
    _, token = tokens.create(ctx, "archivist", "archivist")
    with TestClient(create_app(ctx)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, ids


def _ids(client: TestClient, **params: object) -> set[str]:
    r = client.get("/packages", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["packages"]) == body["count"]
    return {p["id"] for p in body["packages"]}


def test_search_filters(searchable) -> None:  # type: ignore[no-untyped-def]
    client, ids = searchable
    assert _ids(client) == set(ids.values())
    assert _ids(client, q="photograph") == {ids["heritage-minimal"]}
    assert _ids(client, q="PHOTO") == {ids["heritage-minimal"]}  # prefix, any case
    assert _ids(client, q="cafe donnees") == {ids["cafe"]}  # accents ignored, every word must match
    assert _ids(client, q="Café zzz") == set()
    assert _ids(client, q="%_'") == set(ids.values())  # no words: no text filter
    assert _ids(client, profile="legal") == {ids["legal-minimal"]}
    assert _ids(client, collection="Test collection") == {ids["heritage-minimal"]}
    assert _ids(client, field="matter_reference=TST-2025-0001") == {ids["legal-minimal"]}
    assert _ids(client, field=["licence=CC-BY-4.0", "type=Dataset"]) >= {ids["cafe"], ids["june"]}
    assert _ids(client, field="dc:title=Saltmarsh readings") == {ids["june"]}
    assert _ids(client, puid="fmt/353") == {ids["heritage-minimal"]}
    assert _ids(client, puid=["fmt/353", "fmt/18"]) == {ids["heritage-minimal"]}
    assert _ids(client, date_from="1955-01-01", date_to="1955-12-31") == {ids["cafe"]}
    assert _ids(client, date_from="2024-06-30") == {ids["june"]}
    assert _ids(client, date_to="1950-12-31") == set()
    today = date.today()
    assert _ids(client, created_from=str(today - timedelta(days=1)), created_to=str(today + timedelta(days=1))) == set(
        ids.values()
    )
    assert _ids(client, created_from=str(today + timedelta(days=2))) == set()
    assert _ids(client, q="test", profile="heritage") == {ids["heritage-minimal"]}


def test_pagination_is_stable_with_a_total(searchable, ctx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, ids = searchable
    originals = set(ids.values())
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/packages", params=params).json()
        assert body["total"] == len(originals) + (1 if pages >= 1 else 0)
        assert len(body["packages"]) <= 2
        seen += [p["id"] for p in body["packages"]]
        pages += 1
        if pages == 1:  # a package stored while paging: nothing is repeated or skipped because of it
            late = research_submission(tmp_path, "late", {"c.bin": b"\x00late"}, title="Late arrival")
            ingest(ctx, late, "research")
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) and originals <= set(seen)
    assert pages >= 3


@pytest.mark.parametrize(
    "params, status, where",
    [
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": "WyJ4IiwieSJd"}, 400, "cursor"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": "many"}, 422, "limit"),
        ({"limit": 501}, 422, "limit"),
        ({"created_from": "yesterday"}, 422, "created_from"),
        ({"date_from": "2024-13-01"}, 422, "date_from"),
        ({"created_from": "2024-02-01", "created_to": "2024-01-01"}, 400, "created_to"),
        ({"field": "no-equals-sign"}, 400, "NAME=VALUE"),
        ({"field": "bad name=x"}, 400, "NAME=VALUE"),
        ({"q": " ".join(f"w{i}" for i in range(17))}, 400, "words"),
        ({"q": "x" * 501}, 422, "q"),
    ],
)
def test_bad_query_parameters_are_4xx_with_a_message(
    params: dict[str, object], status: int, where: str, tmp_path: Path
) -> None:
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(tmp_path / "home"))) as client:
        r = client.get("/packages", params=params)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"code", "type", "status", "message"} and where in err["message"]


# -- one package ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("packages"), ("open", "restricted"))


@pytest.fixture(scope="module")
def client(archive: ApiArchive):
    with TestClient(create_app(archive.settings)) as c:
        c.headers.update(archive.headers("researcher"))
        yield c


def test_package_detail(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["open"]
    body = client.get(f"/packages/{pid}").json()
    assert body["id"] == pid and body["profile"] == "heritage" and body["profile_version"] == "1.0.0"
    assert body["metadata"]["accession_number"] == "HHM.2024.900"
    assert body["dublin_core"]["identifier"] == ["HHM.2024.900"]
    assert body["access"] == {
        "level": "open",
        "embargo_until": None,
        "statement": "https://rightsstatements.org/vocab/NoC-US/1.0/",
        "files_available": True,
        "files_withheld_because": None,
        "files_available_from": None,
    }
    assert body["files"]["count"] == 2 and {f["puid"] for f in body["files"]["formats"]} == {
        "fmt/353",
        "fmt/18",
    }
    assert body["last_audit"]["outcome"] is None and body["last_audit"]["checked_at"] is None  # never audited
    restricted = client.get(f"/packages/{archive.packages['restricted']}").json()
    assert restricted["access"]["files_available"] is False
    assert "archivists" in restricted["access"]["files_withheld_because"]


def test_mets_is_the_stored_document(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["restricted"]  # metadata, so a researcher may read it
    r = client.get(f"/packages/{pid}/mets")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert etree.fromstring(r.content).tag.endswith("mets")
    from archive.services.context import ArchiveContext

    with ArchiveContext(archive.settings) as ctx:
        assert r.content == (ctx.storage.original_bag(pid) / "mets.xml").read_bytes()


def test_events_with_pagination_and_type(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["open"]
    everything = client.get(f"/packages/{pid}/events").json()["events"]
    assert {"ingestion", "validation", "format identification"} <= {e["type"] for e in everything}
    paged, cursor = [], None
    while True:
        body = client.get(f"/packages/{pid}/events", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        paged += body.json()["events"]
        cursor = body.json()["next_cursor"]
        if not cursor:
            break
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    idents = client.get(f"/packages/{pid}/events", params={"type": "format identification"}).json()["events"]
    assert len(idents) == 2 and all(e["type"] == "format identification" for e in idents)


def test_file_list_with_pagination(client: TestClient, archive: ApiArchive) -> None:
    pid = archive.packages["open"]
    first = client.get(f"/packages/{pid}/files", params={"limit": 1}).json()
    assert first["total"] == 2 and first["count"] == 1 and first["next_cursor"]
    second = client.get(f"/packages/{pid}/files", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert second["next_cursor"] is None
    files = first["files"] + second["files"]
    assert [f["path"] for f in files] == ["HHM_2024_900_001.tif", "finding-aid.pdf"]
    tif = files[0]
    assert tif["size"] == 1120 and len(tif["digests"]["sha256"]) == 64 and len(tif["digests"]["sha512"]) == 128
    assert tif["format"] == {
        "puid": "fmt/353",
        "name": "Tagged Image File Format",
        "mime": "image/tiff",
        "basis": "signature",
    }


@pytest.mark.parametrize(
    "package_id, status",
    [
        ("not-a-uuid", 400),
        ("F96B1FF1-79DA-489A-A9D3-F0E7274E086E", 400),
        ("00000000-0000-4000-8000-000000000000", 404),
        ("x" * 65, 422),
    ],
)
def test_bad_and_unknown_ids(client: TestClient, package_id: str, status: int) -> None:
    for route in ("", "/mets", "/events", "/files", "/download", "/files/a.txt"):
        r = client.get(f"/packages/{package_id}{route}")
        assert r.status_code == status, (route, r.text)
        assert r.json()["error"]["message"]


def test_an_event_of_many_files_lists_a_page_of_them_and_counts_them(
    client: TestClient, archive: ApiArchive, monkeypatch
) -> None:
    """An ingest's digest event concerns every file (a million paths in a big package): an events
    page lists the first few of each event's objects and how many it has, never all at once."""
    from archive.catalog import retrieval

    monkeypatch.setattr(retrieval, "EVENT_OBJECTS_SHOWN", 1)
    events = client.get(f"/packages/{archive.packages['open']}/events").json()["events"]
    digest = next(e for e in events if e["type"] == "message digest calculation")
    assert digest["objects_count"] == 2 and len(digest["objects"]) == 1
    assert all(len(e["objects"]) == min(1, e["objects_count"]) for e in events)

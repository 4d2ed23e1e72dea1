"""Page cursors are signed: the API accepts the cursors it handed out, and refuses any other with 400.

A cursor is ``<payload>.<tag>`` (archive/api/cursors.py): the tag is an HMAC under a secret kept
in the archive's home (``api-cursor.key``, 0600, made on first use). Forged, altered, truncated,
borrowed (another package, another kind of page, another archive) and random cursors are all
refused with the JSON error document, before the catalog is asked anything.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.api import create_app
from archive.api.cursors import SECRET_FILE, Cursors, load_or_create_secret
from archive.errors import InvalidRequest
from tests.support.api import ApiArchive, build_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("cursors"), ("open", "embargoed-past", "restricted"))


@pytest.fixture(scope="module")
def client(archive: ApiArchive):
    with TestClient(create_app(archive.settings)) as c:
        yield c


def _pages(archive: ApiArchive) -> dict[str, str]:
    pid = archive.packages["open"]
    return {"packages": "/packages", "events": f"/packages/{pid}/events", "files": f"/packages/{pid}/files"}


def _first_cursor(client: TestClient, url: str) -> str:
    cursor = client.get(url, params={"limit": 1}).json()["next_cursor"]
    assert cursor, url
    return str(cursor)


def _refused(r: Any) -> None:
    assert r.status_code == 400, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["code"] == "E005" and error["status"] == 400 and "cursor" in error["message"]


def test_handed_out_cursors_page_through_everything(client: TestClient, archive: ApiArchive) -> None:
    for kind, url in _pages(archive).items():
        whole = client.get(url, params={"limit": 500}).json()
        key = {"packages": "packages", "events": "events", "files": "files"}[kind]
        seen, cursor = [], None
        while True:
            page = client.get(url, params={"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
            seen += page[key]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == whole[key] and len(seen) >= 2, kind


def test_unsigned_cursors_of_the_old_layout_are_refused(client: TestClient, archive: ApiArchive) -> None:
    """What the API used to hand out (base64 of the key, unsigned) is now a forgery like any other."""
    pid = archive.packages["open"]
    hidden = archive.packages["restricted"]

    def b64(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    forged = [
        ("/packages", b64(json.dumps(["2000-01-01T00:00:00+00:00", hidden]))),
        ("/packages", b64(json.dumps(["2000-01-01T00:00:00+00:00", pid]))),
        (f"/packages/{pid}/events", b64("2000-01-01T00:00:00+00:00 x")),
        (f"/packages/{pid}/files", b64("a")),
        (f"/packages/{pid}/files", b64("")),
    ]
    for url, cursor in forged:
        _refused(client.get(url, params={"cursor": cursor}))


def test_altered_and_borrowed_cursors_are_refused(client: TestClient, archive: ApiArchive) -> None:
    pages = _pages(archive)
    cursors = {kind: _first_cursor(client, url) for kind, url in pages.items()}
    other = archive.packages["embargoed-past"]
    for kind, url in pages.items():
        cursor = cursors[kind]
        payload, tag = cursor.split(".")
        for bad in (
            cursor[:-1],
            cursor + "A",
            payload,
            f"{payload}.",
            f".{tag}",
            f"{payload}.{tag[::-1]}",
            f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{tag}",
            cursor.replace(".", ".."),
            cursor.upper(),
            " " + cursor,
        ):
            if bad != cursor:
                _refused(client.get(url, params={"cursor": bad}))
        for other_kind, other_cursor in cursors.items():  # a cursor of another kind of page
            if other_kind != kind:
                _refused(client.get(url, params={"cursor": other_cursor}))
        if kind != "packages":  # a cursor of the same kind of page of another package
            _refused(client.get(url.replace(archive.packages["open"], other), params={"cursor": cursor}))


def test_a_cursor_of_another_archive_is_refused(client: TestClient, archive: ApiArchive, tmp_path: Path) -> None:
    stranger = Cursors(tmp_path)
    pid = archive.packages["open"]
    _refused(client.get("/packages", params={"cursor": stranger.issue("packages", "", ["2000-01-01T00:00:00", pid])}))
    _refused(client.get(f"/packages/{pid}/files", params={"cursor": stranger.files_next(pid, 1)}))


def test_the_secret_is_made_on_first_use_private_and_shared(archive: ApiArchive, tmp_path: Path) -> None:
    key = archive.settings.home / SECRET_FILE
    assert key.is_file()  # made by the pages the tests above asked for
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with TestClient(create_app(archive.settings)) as a, TestClient(create_app(archive.settings)) as b:
        cursor = _first_cursor(a, "/packages")  # one process hands it out...
        assert b.get("/packages", params={"cursor": cursor, "limit": 1}).status_code == 200  # ...another takes it
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert not (fresh / SECRET_FILE).exists()
    cursors = Cursors(fresh)
    assert not (fresh / SECRET_FILE).exists()  # nothing made before a cursor is needed
    cursor = cursors.issue("packages", "", ["x", "y"])
    assert stat.S_IMODE((fresh / SECRET_FILE).stat().st_mode) == 0o600
    assert Cursors(fresh).read("packages", "", cursor, 2) == ["x", "y"]


def test_racing_processes_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda: found.append(load_or_create_secret(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1 and len(found) == 8
    assert sorted(os.listdir(tmp_path)) == [SECRET_FILE]  # no temporary file left behind


def test_a_damaged_secret_is_a_storage_error_not_a_crash(tmp_path: Path) -> None:
    from archive.errors import StorageError

    (tmp_path / SECRET_FILE).write_text("not hex")
    with pytest.raises(StorageError):
        Cursors(tmp_path).issue("packages", "", ["x"])
    with pytest.raises(InvalidRequest):  # a bad cursor is still the caller's problem, checked first
        Cursors(tmp_path).read("packages", "", "!!", 1)


_ALPHABET = st.characters(codec="utf-8", exclude_characters="\x00")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["packages", "events", "files"]),
    cursor=st.one_of(
        st.text(_ALPHABET, min_size=1, max_size=80),
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=", min_size=1, max_size=200),
        st.binary(max_size=120).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.tuples(st.binary(max_size=60), st.binary(min_size=16, max_size=16)).map(
            lambda p: (
                base64.urlsafe_b64encode(p[0]).decode().rstrip("=")
                + "."
                + base64.urlsafe_b64encode(p[1]).decode().rstrip("=")
            )
        ),
    ),
)
@example(kind="packages", cursor="W10.AAAAAAAAAAAAAAAAAAAAAA")
@example(kind="files", cursor="WyIxIl0.AAAAAAAAAAAAAAAAAAAAAA")
def test_no_cursor_the_api_did_not_hand_out_is_accepted(
    client: TestClient, archive: ApiArchive, kind: str, cursor: str
) -> None:
    r = client.get(_pages(archive)[kind], params={"cursor": cursor})
    assert r.status_code == 400, (kind, cursor, r.status_code, r.text[:200])
    assert r.json()["error"]["code"] == "E005" and r.json()["error"]["status"] == 400


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["packages", "events", "files"]), data=st.data())
def test_no_change_to_a_handed_out_cursor_is_accepted(
    client: TestClient, archive: ApiArchive, kind: str, data: st.DataObject
) -> None:
    url = _pages(archive)[kind]
    cursor = _first_cursor(client, url)
    at = data.draw(st.integers(0, len(cursor) - 1))
    replacement = data.draw(st.text(_ALPHABET, min_size=0, max_size=3))
    changed = cursor[:at] + replacement + cursor[at + 1 :]
    if changed == cursor:
        return
    _refused(client.get(url, params={"cursor": changed}))

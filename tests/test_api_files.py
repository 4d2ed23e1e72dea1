"""GET/HEAD of one stored file: headers, Range, conditional requests, path tricks, damaged storage."""

from __future__ import annotations

import base64
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.api import create_app
from archive.api.serving import StreamAborted
from archive.catalog import callers
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.storage import package_relpath
from tests.conftest import make_settings
from tests.support.api import ApiArchive, build_archive, raw_request, research_submission

BIG = os.urandom(300_000)  # larger than the chunk size the tests use (64 KiB): streamed in several reads


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("files"), ("open",))


@pytest.fixture(scope="module")
def client(archive: ApiArchive):
    with TestClient(create_app(archive.settings)) as c:
        yield c


def _url(archive: ApiArchive, path: str = "HHM_2024_900_001.tif") -> str:
    return f"/packages/{archive.packages['open']}/files/{path}"


def _stored(archive: ApiArchive, path: str = "HHM_2024_900_001.tif") -> bytes:
    with ArchiveContext(archive.settings) as ctx:
        return (ctx.storage.original_bag(archive.packages["open"]) / "data" / path).read_bytes()


def test_whole_file_headers(client: TestClient, archive: ApiArchive) -> None:
    body = _stored(archive)
    r = client.get(_url(archive))
    assert r.status_code == 200 and r.content == body
    sha256, sha512 = hashlib.sha256(body).digest(), hashlib.sha512(body).digest()
    assert r.headers["content-length"] == str(len(body))
    assert r.headers["content-type"] == "image/tiff"  # from the identified format (fmt/353)
    assert r.headers["etag"] == f'"{sha256.hex()}"'
    assert r.headers["repr-digest"] == (
        f"sha-256=:{base64.b64encode(sha256).decode()}:, sha-512=:{base64.b64encode(sha512).decode()}:"
    )
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert client.get(_url(archive, "finding-aid.pdf")).headers["content-type"] == "application/pdf"


def test_head_sends_headers_only(client: TestClient, archive: ApiArchive) -> None:
    get = client.get(_url(archive))
    head = client.head(_url(archive))
    assert head.status_code == 200 and head.content == b""
    for h in ("content-length", "etag", "repr-digest", "content-type", "accept-ranges"):
        assert head.headers[h] == get.headers[h]


@pytest.mark.parametrize(
    "spec, start, end",
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100-", 100, None),
        ("bytes=-16", -16, None),
        ("bytes=1000-999999", 1000, None),
        ("Bytes = 5-5", 5, 6),
    ],
)
def test_single_range_is_206(client: TestClient, archive: ApiArchive, spec: str, start: int, end: int | None) -> None:
    body = _stored(archive)
    r = client.get(_url(archive), headers={"Range": spec})
    expected = body[start:end]
    assert r.status_code == 206 and r.content == expected
    first = start % len(body)
    assert r.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{len(body)}"
    assert r.headers["content-length"] == str(len(expected))
    assert r.headers["repr-digest"].startswith("sha-256=:")  # the digest of the whole representation


@pytest.mark.parametrize("spec", ["bytes=99999-", "bytes=-0", "bytes=abc", "bytes=9-2", "bytes=-", "bytes=1-2-3"])
def test_unsatisfiable_or_malformed_range_is_416(client: TestClient, archive: ApiArchive, spec: str) -> None:
    r = client.get(_url(archive), headers={"Range": spec})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(_stored(archive))}"
    assert r.json()["error"]["code"] == "E006" and r.json()["error"]["message"]


@pytest.mark.parametrize("spec", ["bytes=0-1,5-6", "items=0-5"])
def test_multiple_ranges_and_other_units_are_ignored(client: TestClient, archive: ApiArchive, spec: str) -> None:
    r = client.get(_url(archive), headers={"Range": spec})
    assert r.status_code == 200 and r.content == _stored(archive)


def test_if_range(client: TestClient, archive: ApiArchive) -> None:
    etag = client.head(_url(archive)).headers["etag"]
    assert client.get(_url(archive), headers={"Range": "bytes=0-3", "If-Range": etag}).status_code == 206
    assert client.get(_url(archive), headers={"Range": "bytes=0-3", "If-Range": '"other"'}).status_code == 200


@pytest.mark.parametrize(
    "inm, status", [("ETAG", 304), ("W/ETAG", 304), ("*", 304), ('"a", ETAG', 304), ('"nope"', 206)]
)
def test_if_none_match(client: TestClient, archive: ApiArchive, inm: str, status: int) -> None:
    etag = client.head(_url(archive)).headers["etag"]
    r = client.get(_url(archive), headers={"If-None-Match": inm.replace("ETAG", etag), "Range": "bytes=0-1"})
    assert r.status_code == status
    if status == 304:
        assert r.content == b"" and r.headers["etag"] == etag


TRICKS = [
    "../../../../etc/passwd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "HHM_2024_900_001.tif%2f",
    "masters%2FHHM_2024_900_001.tif",
    "HHM_2024_900_001.tif%00.txt",
    "HHM_2024_900_001.tif\\..\\x",
    "./HHM_2024_900_001.tif",
    "/HHM_2024_900_001.tif",
    "a//HHM_2024_900_001.tif",
    "x" * 5000,
    "../../bagit.txt",
    "../manifest-sha256.txt",
    "%2e%2e%2fmets.xml",
]


@pytest.mark.parametrize("trick", TRICKS)
def test_path_tricks_serve_zero_bytes(archive: ApiArchive, trick: str) -> None:
    app = create_app(archive.settings)
    r = raw_request(app, f"/packages/{archive.packages['open']}/files/{trick}")
    assert 400 <= r.status < 500, (trick, r.status, r.body[:200])
    assert r.body.startswith(b'{"error":'), r.body[:100]
    assert r.error is None
    assert b"root:" not in r.body and b"BagIt" not in r.body


def test_long_and_nul_paths_are_refused_with_a_message(client: TestClient, archive: ApiArchive) -> None:
    r = client.get(_url(archive, "y" * 5000))
    assert r.status_code == 400 and "5000 characters" in r.json()["error"]["message"]
    r = raw_request(create_app(archive.settings), _url(archive, "a%00b"))
    assert r.status == 400 and b"NUL" in r.body


def test_unknown_path_is_404(client: TestClient, archive: ApiArchive) -> None:
    r = client.get(_url(archive, "no/such/file.tif"))
    assert r.status_code == 404 and r.json()["error"]["type"] == "NotFound"


def test_download_is_recorded_head_and_304_are_not(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open",))
    pid = a.packages["open"]
    with TestClient(create_app(a.settings)) as c:
        h = a.headers("researcher")
        size = len(c.get(f"/packages/{pid}/files/finding-aid.pdf", headers=h).content)
        c.get(f"/packages/{pid}/files/finding-aid.pdf", headers={**h, "Range": "bytes=10-19"})
        etag = c.head(f"/packages/{pid}/files/finding-aid.pdf", headers=h).headers["etag"]
        assert c.get(f"/packages/{pid}/files/finding-aid.pdf", headers={**h, "If-None-Match": etag}).status_code == 304
    with ArchiveContext(a.settings) as ctx:
        log = [e for e in callers.access_entries(ctx.catalog, pid) if e["action"] == "file"]
    assert [(e["range"], e["bytes_planned"], e["bytes_sent"], e["outcome"]) for e in log] == [
        ("", size, size, "complete"),
        ("bytes=10-19", 10, 10, "complete"),
    ]
    assert {e["role"] for e in log} == {"researcher"} and log[0]["token_id"] == a.token_ids["researcher"]
    assert log[0]["path"] == "finding-aid.pdf" and log[0]["profile"] == "heritage"


# -- stored bytes that no longer match the catalog ---------------------------------------------
@pytest.fixture
def big(tmp_path: Path):
    """An archive holding one 300 kB file, served in 64 KiB chunks."""
    settings = make_settings(tmp_path / "home", api_chunk_size=65536)
    with ArchiveContext(settings) as ctx:
        sub = research_submission(tmp_path, "big", {"dump.bin": BIG, "small.txt": b"hello\n"})
        pid = ingest(ctx, sub, "research").package_id
        stored = ctx.storage.original_bag(pid) / "data"
    yield settings, pid, stored


def _incidents(settings) -> list[dict]:  # type: ignore[no-untyped-def]
    with ArchiveContext(settings) as ctx:
        return callers.incidents(ctx.catalog)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_big_file_streams_verified_and_then_trusted(big) -> None:  # type: ignore[no-untyped-def]
    settings, pid, _ = big
    app = create_app(settings)
    first = raw_request(app, f"/packages/{pid}/files/dump.bin")
    assert first.status == 200 and first.body == BIG and first.error is None
    # trusted now: a Range is served without hashing the whole file again
    part = raw_request(app, f"/packages/{pid}/files/dump.bin", headers={"Range": "bytes=70000-70009"})
    assert part.status == 206 and part.body == BIG[70000:70010]
    assert _incidents(settings) == []


def test_corrupted_big_file_aborts_the_stream_and_records_an_incident(big) -> None:  # type: ignore[no-untyped-def]
    settings, pid, stored = big
    _flip(stored / "dump.bin", 150_000)  # same size: only the digest tells
    r = raw_request(create_app(settings), f"/packages/{pid}/files/dump.bin")
    assert r.status == 200  # headers had gone out; the body is cut short
    assert len(r.body) < len(BIG) and isinstance(r.error, StreamAborted)
    assert len(r.body) == len(BIG) - len(BIG) % 65536  # the last chunk is held back until the digest is known
    incidents = _incidents(settings)
    assert [(i["path"], i["kind"]) for i in incidents] == [("data/dump.bin", "digest-mismatch")]
    with ArchiveContext(settings) as ctx:
        entry = [e for e in callers.access_entries(ctx.catalog, pid) if e["action"] == "file"][-1]
    assert entry["outcome"] == "failed" and entry["bytes_sent"] == len(r.body)


@pytest.mark.parametrize("headers", [{"Range": "bytes=0-99"}, {}])
def test_corrupted_file_answers_an_error_before_any_byte(big, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    settings, pid, stored = big
    _flip(stored / "small.txt", 0)
    _flip(stored / "dump.bin", 5)
    with TestClient(create_app(settings)) as c:
        path = "dump.bin" if headers else "small.txt"  # a Range, or a file of one chunk, is verified first
        r = c.get(f"/packages/{pid}/files/{path}", headers=headers)
        assert r.status_code == 500
        err = r.json()["error"]
        assert err["code"] == "E600" and "incident" in err["message"] and "does not match" in err["message"]
    assert _incidents(settings)[0]["kind"] == "digest-mismatch"


def test_changed_after_verification_is_caught(big) -> None:  # type: ignore[no-untyped-def]
    settings, pid, stored = big
    app = create_app(settings)
    assert raw_request(app, f"/packages/{pid}/files/dump.bin").body == BIG  # verified, trusted
    _flip(stored / "dump.bin", 299_999)  # rewriting the file changes its ctime: trust is gone
    r = raw_request(app, f"/packages/{pid}/files/dump.bin", headers={"Range": "bytes=0-9"})
    assert r.status == 500 and b"E600" in r.body


@pytest.mark.parametrize(
    "damage, kind", [("truncate", "size-mismatch"), ("delete", "missing"), ("symlink", "not-regular")]
)
def test_missing_or_wrong_size_is_an_incident(big, damage: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    settings, pid, stored = big
    target = stored / "dump.bin"
    if damage == "truncate":
        target.write_bytes(BIG[:1000])
    elif damage == "delete":
        target.unlink()
    else:
        target.unlink()
        target.symlink_to("/etc/passwd")
    with TestClient(create_app(settings)) as c:
        r = c.get(f"/packages/{pid}/files/dump.bin")
        assert r.status_code == 500 and r.json()["error"]["code"] == "E600"
        assert b"root:" not in r.content
    z = raw_request(create_app(settings), f"/packages/{pid}/download")  # tag files go first: starts, then aborts
    assert z.status == 200 and isinstance(z.error, StreamAborted)
    assert len(z.body) < int(z.headers["content-length"])
    assert kind in {i["kind"] for i in _incidents(settings)}


def test_memory_stays_flat_for_a_large_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    payload = os.urandom(1024 * 1024) * 40  # 40 MiB
    with ArchiveContext(settings) as ctx:
        pid = ingest(ctx, research_submission(tmp_path, "large", {"large.bin": payload}), "research").package_id
    app = create_app(settings)
    for url in (f"/packages/{pid}/files/large.bin", f"/packages/{pid}/download"):
        tracemalloc.start()
        try:
            r = raw_request(app, url, keep_body=False)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert r.status == 200 and r.error is None and r.received >= len(payload)
        assert peak < 12 * 1024 * 1024, f"{url}: peak {peak / 1e6:.1f} MB for a 42 MB body"


# -- handing the bytes to nginx ------------------------------------------------------------------
def test_accel_redirect_hands_over_after_authorising_and_recording(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open", "restricted"), api_accel_redirect="/_archive_storage/")
    pid = a.packages["open"]
    with TestClient(create_app(a.settings)) as c:
        r = c.get(f"/packages/{pid}/files/HHM_2024_900_001.tif", headers={"Range": "bytes=0-9"})
        assert r.status_code == 200 and r.content == b""
        assert (
            r.headers["x-accel-redirect"]
            == f"/_archive_storage/{package_relpath(pid)}/v1/content/data/HHM_2024_900_001.tif"
        )
        assert r.headers["etag"] and r.headers["repr-digest"] and r.headers["content-type"] == "image/tiff"
        assert "content-range" not in r.headers  # nginx answers the Range itself
        assert r.headers["accept-ranges"] == "bytes"  # nginx says it only on a whole answer: copied from here
        whole = c.get(f"/packages/{pid}/files/HHM_2024_900_001.tif")
        assert whole.headers["x-accel-redirect"] and "accept-ranges" not in whole.headers  # nginx's own then
        assert (
            c.get(f"/packages/{pid}/files/HHM_2024_900_001.tif", headers={"Range": "bytes=99999-"}).status_code == 416
        )
        hidden = c.get(f"/packages/{a.packages['restricted']}/files/x.eml")
        assert hidden.status_code == 404 and "x-accel-redirect" not in hidden.headers
    with ArchiveContext(a.settings) as ctx:
        log = [e for e in callers.access_entries(ctx.catalog, pid) if e["action"] == "file"]
    assert [(e["outcome"], e["range"], e["bytes_planned"]) for e in log] == [
        ("delegated", "bytes=0-9", 10),
        ("delegated", "", 1120),
    ]


# -- every name the catalog lists can be fetched -------------------------------------------------
#: legal, accepted at ingest (some with a warning), and awkward in a URL
AWKWARD_NAMES = [
    "line\nbreak.txt",
    "carriage\rreturn.txt",
    "both\r\nat once.txt",
    "back\\slash.txt",
    "tab\there.txt",
    "50% off?.txt",
    "#hash & amp;=.txt",
    "folder with space/Übersicht ½.txt",
    "trailing newline\n",
    "emoji 🗄/x.txt",
]


def test_awkward_names_ingested_are_listed_and_fetched_byte_for_byte(tmp_path: Path) -> None:
    from urllib.parse import quote

    files = {name: f"the file called {name!r}\n".encode() for name in AWKWARD_NAMES}
    sub = research_submission(tmp_path, "awkward", files)
    settings = make_settings(tmp_path / "home")
    with ArchiveContext(settings) as ctx:
        pid = ingest(ctx, sub, "research").package_id
    app = create_app(settings)
    with TestClient(app) as c:
        listed = c.get(f"/packages/{pid}/files").json()["files"]
        assert sorted(f["path"] for f in listed) == sorted(files)
        for f in listed:
            expected = files[f["path"]]
            via_href = c.get(f["href"])  # the listing's own link, percent-encoded
            assert via_href.status_code == 200 and via_href.content == expected, (f["path"], via_href.text[:200])
            raw = raw_request(app, f"/packages/{pid}/files/{quote(f['path'], safe='/')}")
            assert raw.status == 200 and raw.body == expected, (f["path"], raw.status, raw.body[:200])
            head = raw_request(app, f"/packages/{pid}/files/{quote(f['path'], safe='')}", "HEAD")
            # '/' between folders is a separator: sent encoded (%2F) it is refused, never looked up
            assert head.status == (400 if "/" in f["path"] else 200), (f["path"], head.status)


def _scanner_accepts(path: str) -> bool:
    """Whether the submission scanner would store a file at ``path`` (mirrors archive/submission/scan.py)."""
    import unicodedata

    from archive.packaging.bag.paths import manifest_path_problem
    from archive.submission.scan import name_problem

    segments = path.split("/")
    if any(s in ("", ".", "..") or name_problem(s) or len(s.encode()) > 200 for s in segments):
        return False
    last = segments[-1][-1]
    if last.isspace() and last not in "\r\n":
        return False
    return unicodedata.normalize("NFC", path) == path and manifest_path_problem(path) is None


@pytest.fixture(scope="module")
def writable_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[ApiArchive, object]:
    a = build_archive(tmp_path_factory.mktemp("names"), ("open",))
    return a, create_app(a.settings)


def _add_file(archive: ApiArchive, path: str, data: bytes) -> None:
    """Store ``data`` at ``data/<path>`` of the open package and list it in the catalog, as an
    ingest would have (the API serves only what the catalog lists, from where it says)."""
    from sqlalchemy import insert

    from archive.catalog.tables import FileRow

    pid = archive.packages["open"]
    with ArchiveContext(archive.settings) as ctx:
        target = ctx.storage.original_bag(pid) / "data" / path
        for parent in reversed(target.parents):
            if parent.is_dir() and str(parent).startswith(str(ctx.storage.root)):
                parent.chmod(0o755)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digests = {"sha256": hashlib.sha256(data).hexdigest(), "sha512": hashlib.sha512(data).hexdigest()}
        with ctx.catalog.engine.begin() as conn:
            conn.execute(
                insert(FileRow).values(
                    package_id=pid,
                    path=path,
                    size=len(data),
                    sha256=digests["sha256"],
                    sha512=digests["sha512"],
                    digests=digests,
                    puid=None,
                    file_metadata={},
                )
            )


_SEGMENT = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12)
_NAMES = st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join).filter(_scanner_accepts)
_COUNTER = iter(range(10**9))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(name=_NAMES)
@example(name="line\nfeed.txt")
@example(name="carriage\rreturn/and\r\nboth")
@example(name="back\\slash/50% off?#.txt")
def test_every_name_the_scanner_accepts_is_fetchable_percent_encoded(
    writable_package: tuple[ApiArchive, object], name: str
) -> None:
    from urllib.parse import quote

    archive, app = writable_package
    path = f"h{next(_COUNTER)}/{name}"  # a fresh folder: each example its own file
    data = f"bytes of {path!r}".encode()
    _add_file(archive, path, data)
    url = f"/packages/{archive.packages['open']}/files/{quote(path, safe='/')}"
    r = raw_request(app, url)
    assert r.status == 200 and r.body == data, (path, r.status, r.body[:300])
    assert r.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'

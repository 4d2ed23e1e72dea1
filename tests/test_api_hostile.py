"""Hostile callers: nothing a caller may not see leaves the API, whatever they send.

An archive with a package at every access level (tests/support/api.py) plus a *canary* package
at each protected level (restricted, embargoed until 2999, confidential, legal-hold) whose file
bytes, file name, digest and title are unique markers. Every route is called with no token; an
expired, a revoked, a malformed and a forged token; a token of each role; with the ids of hidden
packages, random UUIDs and non-UUIDs; with and without Range and conditional headers; and every
answer (body and headers) is searched for the markers the caller may not see. Then: hidden
packages answer exactly like unknown ones, path tricks serve nothing, tokens expire and are
compared in constant time, no token reaches a log, and request sizes are bounded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from archive.access import policy
from archive.api import create_app
from archive.api.limits import MAX_HEADER_BYTES, MAX_HEADERS, MAX_PATH_BYTES, MAX_QUERY_BYTES
from archive.catalog import callers, retrieval
from archive.catalog.tables import TokenRow
from archive.cli import main
from archive.errors import AuthenticationRequired
from archive.services.audit.report import WITHHELD
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.retrieve import tokens as token_service
from tests.support.api import LEVELS, ApiArchive, build_archive, raw_request, research_submission

PROTECTED = {  # canary level -> metadata line that gives it
    "restricted": "access_level: restricted\n",
    "embargoed": "embargo_until: 2999-01-01\n",
    "confidential": "access_level: confidential\n",
    "legal-hold": "access_level: legal-hold\n",
}
#: how the sweep presents itself: credential -> role it proves (None: every package route is 401)
CREDENTIALS: dict[str, str | None] = {
    "no token": "anonymous",
    "expired": None,
    "revoked": None,
    "malformed": None,
    "forged secret": None,
    "researcher": "researcher",
    "auditor": "auditor",
    "archivist": "archivist",
    "admin": "admin",
}
#: written out here, not derived from archive.access.policy, so that a policy bug fails the sweep:
#: role -> level -> (metadata visible, files served); "embargoed" means a date still ahead
MATRIX: dict[str, dict[str, tuple[bool, bool]]] = {
    "anonymous": {
        "open": (True, True),
        "restricted": (False, False),
        "embargoed": (True, False),
        "embargo-lifted": (True, True),
        "confidential": (False, False),
        "legal-hold": (False, False),
    },
    "researcher": {
        "open": (True, True),
        "restricted": (True, False),
        "embargoed": (True, False),
        "embargo-lifted": (True, True),
        "confidential": (False, False),
        "legal-hold": (False, False),
    },
}
MATRIX["auditor"] = MATRIX["researcher"]
MATRIX["archivist"] = MATRIX["admin"] = dict.fromkeys(MATRIX["anonymous"], (True, True))
UNKNOWN = "5a1f0c9e-2b7d-4e8a-9c3f-0d1e2f3a4b5c"
NOT_UUIDS = ["not-a-uuid", UNKNOWN.upper(), UNKNOWN.replace("-", ""), UNKNOWN[:-1], "%20" + UNKNOWN, "x" * 64]


@dataclass(frozen=True)
class Grant:
    metadata: bool
    files: bool

    @property
    def hidden(self) -> bool:
        return not self.metadata


@dataclass
class Secret:
    """What a package holds that only some callers may see."""

    level: str
    embargo: Any
    metadata: list[bytes]  # markers visible with its metadata (title, file names, digests)
    files: list[bytes]  # markers of its file bytes
    paths: list[str]


@dataclass
class Hostile:
    archive: ApiArchive
    app: Any
    client: TestClient
    credentials: dict[str, dict[str, str]]
    secrets: dict[str, Secret] = field(default_factory=dict)  # package id -> what it hides
    run_id: str = ""

    def decision(self, credential: str, package_id: str) -> Grant | None:
        role = CREDENTIALS[credential]
        if role is None:
            return None
        s = self.secrets[package_id]
        lifted = s.embargo is not None and s.embargo <= datetime.now(UTC).date()
        return Grant(*MATRIX[role]["embargo-lifted" if lifted else s.level])

    def forbidden(self, credential: str) -> list[bytes]:
        """Every marker this credential must never receive, from any route."""
        out: list[bytes] = []
        for pid, s in self.secrets.items():
            d = self.decision(credential, pid)
            if d is None or not d.metadata:
                out += s.metadata + s.files
            elif not d.files:
                out += s.files
        return out


def _canary(tmp: Path, ctx: ArchiveContext, level: str) -> tuple[str, bytes, str]:
    tag = uuid.uuid4().hex[:16]
    marker = f"<<canary-{level}-{tag}>>".encode()
    payload = b"".join(os.urandom(8) + marker for _ in range(64))
    name = f"canary-{tag}.bin"
    sub = research_submission(tmp, f"canary-{level}", {name: payload}, title=f"Canary {level} zq{tag}")
    with open(sub / "metadata.yaml", "a", encoding="utf-8") as meta:
        meta.write(PROTECTED[level])
    return ingest(ctx, sub, "research").package_id, payload, name


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    archive = build_archive(tmp, LEVELS)
    app = create_app(archive.settings)
    creds = {name: archive.headers(name) for name in ("researcher", "auditor", "archivist", "admin")}
    creds["no token"] = {}
    with ArchiveContext(archive.settings) as ctx:
        canaries = {level: _canary(tmp, ctx, level) for level in PROTECTED}
        # the most powerful roles, for the tokens that must not work
        expired_info, expired = token_service.create(
            ctx, "expired admin", "admin", datetime.now(UTC) + timedelta(hours=1)
        )
        with ctx.catalog.engine.begin() as conn:
            conn.execute(
                update(TokenRow)
                .where(TokenRow.id == expired_info.id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        revoked_info, revoked = token_service.create(ctx, "revoked admin", "admin")
        token_service.revoke(ctx, revoked_info.id)
        run_id = run_audit(ctx, AuditOptions(all=True)).run_id
        admin = archive.tokens["admin"]
        creds["expired"] = {"Authorization": f"Bearer {expired}"}
        creds["revoked"] = {"Authorization": f"Bearer {revoked}"}
        creds["malformed"] = {"Authorization": f"Bearer {admin}x"}  # one character too many
        creds["forged secret"] = {"Authorization": f"Bearer {admin[:-6]}AAAAAA"}
        h = Hostile(archive, app, TestClient(app), creds, run_id=run_id)
        for pid in [*archive.packages.values(), *(c[0] for c in canaries.values())]:
            info = retrieval.package_info(ctx.catalog, pid)
            paths = [f.path for f in retrieval.files_page(ctx.catalog, pid, None, 100)]
            h.secrets[pid] = Secret(info.access_level, info.embargo_until, [], [], paths)
        for level, (pid, payload, name) in canaries.items():
            s = h.secrets[pid]
            s.metadata = [
                f"zq{name[7:23]}".encode(),  # the title's marker word
                name.encode(),
                hashlib.sha256(payload).hexdigest().encode(),
                hashlib.sha512(payload).hexdigest()[:64].encode(),
            ]
            s.files = [payload[:10], payload[-16:], f"<<canary-{level}-".encode()]
        for level in ("confidential", "legal-hold"):  # the legal fixture's e-mail
            pid = archive.packages[level]
            h.secrets[pid].metadata.append(f"({level}) Test matter".encode())
            eml = (ctx.storage.original_bag(pid) / "data" / h.secrets[pid].paths[0]).read_bytes()
            h.secrets[pid].files.append(eml[:64])
    with h.client:
        yield h


def _leaks(r: httpx.Response, forbidden: list[bytes]) -> list[bytes]:
    blob = r.content + b"\n".join(f"{k}: {v}".encode() for k, v in r.headers.items())
    return [m for m in forbidden if m in blob]


def _package_requests(h: Hostile, pid: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Every package route: (method, url, extra headers)."""
    base = f"/packages/{pid}"
    yield "GET", base, {}
    yield "GET", f"{base}/mets", {}
    yield "GET", f"{base}/mets", {"Range": "bytes=0-99"}
    yield "GET", f"{base}/events", {}
    yield "GET", f"{base}/files", {}
    yield "GET", f"{base}/download", {}
    paths = h.secrets[pid].paths if pid in h.secrets else ["canary.bin", "x.eml"]
    for path in paths:
        url = f"{base}/files/{path}"
        for extra in ({}, {"Range": "bytes=0-9"}, {"Range": "bytes=-16"}, {"Range": "bytes=5-"}):
            yield "GET", url, extra
        yield "HEAD", url, {}
        yield "HEAD", url, {"Range": "bytes=0-9"}
        yield "GET", url, {"If-None-Match": "*"}


# -- the sweep -------------------------------------------------------------------------------------
@pytest.mark.parametrize("credential", list(CREDENTIALS))
def test_no_route_serves_what_the_caller_may_not_see(hostile: Hostile, credential: str) -> None:
    h = hostile
    headers = h.credentials[credential]
    forbidden = h.forbidden(credential)
    assert forbidden or CREDENTIALS[credential] in policy.SEE_ALL
    targets = [*h.secrets, UNKNOWN, str(uuid.uuid4()), *NOT_UUIDS]
    seen = 0
    for pid in targets:
        decision = h.decision(credential, pid) if pid in h.secrets else None
        for method, url, extra in _package_requests(h, pid):
            r = h.client.request(method, url, headers={**headers, **extra})
            seen += 1
            assert r.status_code < 500, (credential, method, url, r.text[:300])
            assert not _leaks(r, forbidden), (credential, method, url, extra, _leaks(r, forbidden))
            if CREDENTIALS[credential] is None:
                assert r.status_code == 401, (credential, url)  # never a fall-back to anonymous
                assert r.headers["www-authenticate"].startswith("Bearer")
            elif decision is None:  # a guessed id
                assert r.status_code in (400, 404, 422), (credential, url, r.status_code)
            elif decision.hidden:
                assert r.status_code == 404, (credential, url, r.status_code)
            elif not decision.files and ("/files/" in url or url.endswith("/download")):
                assert r.status_code == 403, (credential, url, r.status_code)
    # search, listing and counting
    visible = {pid for pid in h.secrets if (d := h.decision(credential, pid)) is not None and d.metadata}
    searches: list[dict[str, Any]] = [
        {"limit": 500},
        {"q": "canary"},
        {"q": "test matter"},
        {"profile": "legal"},
        {"profile": "research", "limit": 1},
        {"field": "access_level=confidential"},
        {"field": "access_level=legal-hold"},
        {"field": "legal_hold=true"},
        {"created_from": "2000-01-01", "limit": 500},
    ]
    for s in h.secrets.values():
        searches += [{"q": m.decode()} for m in s.metadata[:1]]
    for params in searches:
        r = h.client.get("/packages", params=params, headers=headers)
        if CREDENTIALS[credential] is None:
            assert r.status_code == 401
            continue
        assert r.status_code == 200, (params, r.text)
        body = r.json()
        listed = {p["id"] for p in body["packages"]}
        assert listed <= visible, (credential, params, listed - visible)
        answer = json.dumps({k: v for k, v in body.items() if k != "query"}).encode()  # not the echo
        assert not [m for m in forbidden if m in answer], (credential, params)
        if body["next_cursor"] is None:
            assert body["total"] == len(listed), (credential, params)  # hidden ones are not counted
    if CREDENTIALS[credential] is not None:  # walking every page sees exactly the visible packages
        walked: set[str] = set()
        cursor = None
        while True:
            page = h.client.get(
                "/packages", params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=headers
            ).json()
            walked |= {p["id"] for p in page["packages"]}
            assert page["total"] == len(visible)
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert walked == visible
    # archive-wide resources
    for url in (
        "/stats",
        "/stats?period=day&top=1000",
        "/audits",
        f"/audits/{h.run_id}",
        "/audits/no-such-run",
    ):
        r = h.client.get(url, headers=headers)
        assert r.status_code < 500 and not _leaks(r, forbidden), (credential, url)
        if CREDENTIALS[credential] is None:
            assert r.status_code == 401
    assert seen > 250


def test_the_sweep_would_see_a_leak(hostile: Hostile) -> None:
    """The markers are found where they are allowed: the sweep's searches are not blind."""
    h = hostile
    everything = h.forbidden("no token")
    found: set[bytes] = set()
    for pid in h.secrets:
        for method, url, extra in _package_requests(h, pid):
            if method == "GET":
                r = h.client.request(method, url, headers={**h.credentials["admin"], **extra})
                found |= set(_leaks(r, everything))
    assert found == set(everything)


# -- hidden answers exactly like unknown ------------------------------------------------------------
HIDING = [  # credential, protected level it cannot see
    ("no token", "restricted"),
    ("no token", "confidential"),
    ("no token", "legal-hold"),
    ("researcher", "confidential"),
    ("researcher", "legal-hold"),
    ("auditor", "legal-hold"),
]


@pytest.mark.parametrize("credential, level", HIDING)
def test_a_hidden_package_answers_exactly_like_an_unknown_one(hostile: Hostile, credential: str, level: str) -> None:
    h = hostile
    hidden = h.archive.packages[level]
    assert h.decision(credential, hidden).hidden  # type: ignore[union-attr]
    unknown = str(uuid.uuid4())
    path = quote(h.secrets[hidden].paths[0])
    for method, route, extra in [
        ("GET", "", {}),
        ("GET", "/mets", {}),
        ("GET", "/mets", {"Range": "bytes=0-9", "If-None-Match": "*"}),
        ("GET", "/events", {}),
        ("GET", "/events?limit=1&type=ingestion", {}),
        ("GET", "/files", {}),
        ("GET", "/files?limit=1", {}),
        ("GET", "/download", {}),
        ("GET", f"/files/{path}", {}),
        ("GET", f"/files/{path}", {"Range": "bytes=0-9"}),
        ("GET", f"/files/{path}", {"Range": "bytes=999999-"}),  # unsatisfiable: still 404
        ("GET", f"/files/{path}", {"If-None-Match": "*"}),
        ("HEAD", f"/files/{path}", {}),
        ("GET", "/files/no/such/file", {}),
        ("GET", "/files/../mets.xml", {}),
    ]:
        a = raw_request(h.app, f"/packages/{hidden}{route}", method, {**h.credentials[credential], **extra})
        b = raw_request(h.app, f"/packages/{unknown}{route}", method, {**h.credentials[credential], **extra})
        assert a.status == b.status == 404, (route, a.status, b.status, a.body[:200])
        assert a.headers == b.headers, route
        assert a.body.replace(hidden.encode(), b"ID") == b.body.replace(unknown.encode(), b"ID"), route
        assert json.loads(a.body)["error"]["message"] == f"no package {hidden}"


def test_malformed_ids_answer_the_same_for_hidden_and_unknown(hostile: Hostile) -> None:
    h = hostile
    hidden = h.archive.packages["legal-hold"]
    for variant in (str.upper, lambda s: s + " ", lambda s: s.replace("-", ""), lambda s: s[:-1]):
        a = h.client.get(f"/packages/{variant(hidden)}")
        b = h.client.get(f"/packages/{variant(UNKNOWN)}")
        assert a.status_code == b.status_code == 400
        assert a.json()["error"]["type"] == b.json()["error"]["type"] == "InvalidRequest"


# -- path tricks ---------------------------------------------------------------------------------------
PATH_TRICKS = [
    "..",
    "../mets.xml",
    "../bagit.txt",
    "../bag-info.txt",
    "../manifest-sha256.txt",
    "../tagmanifest-sha256.txt",
    "../../../../../../etc/passwd",
    "%2e%2e/mets.xml",
    "%2E%2E/%2E%2E/bagit.txt",
    ".%2e/mets.xml",
    "%2e%2e%2fmets.xml",
    "..%2Fmets.xml",
    "..%5cmets.xml",
    "..\\mets.xml",
    "data\\..\\..\\mets.xml",
    "%00",
    "FILE%00.txt",
    "FILE\x00.txt",
    "bagit.txt",
    "mets.xml",
    "manifest-sha256.txt",
    "tagmanifest-sha512.txt",
    "bag-info.txt",
    "data/FILE",
    "./FILE",
    "/FILE",
    "FILE/",
    "FILE/.",
    "FILE//",
    "%252e%252e/mets.xml",  # double-encoded: stays literal
    "%E2%80%A5/mets.xml",  # TWO DOT LEADER, looks like '..'
    "%EF%BC%8E%EF%BC%8E/mets.xml",  # FULLWIDTH FULL STOPs
    "..%EF%BC%8Fmets.xml",  # FULLWIDTH SOLIDUS
    "..%E2%88%95mets.xml",  # DIVISION SLASH
    "%C0%AE%C0%AE/mets.xml",  # overlong UTF-8 '..'
    "F%CC%81ILE",  # combining accent
    "x" * 5000,
    "a/" * 3000 + "FILE",
    "../../OTHER/data/OTHERFILE",
]


@pytest.mark.parametrize("credential, level", [("no token", "open"), ("admin", "legal-hold")])
def test_path_tricks_serve_no_byte(hostile: Hostile, credential: str, level: str) -> None:
    h = hostile
    pid = h.archive.packages[level]
    other = h.archive.packages["confidential"]
    real = h.secrets[pid].paths[0]
    with ArchiveContext(h.archive.settings) as ctx:
        bag = ctx.storage.original_bag(pid)
        tag_files = [p.read_bytes() for p in bag.iterdir() if p.is_file()]
        payload = [p.read_bytes() for p in (bag / "data").rglob("*") if p.is_file()]
    secrets = [t[:200] for t in tag_files] + [p[:64] for p in payload] + [b"root:", b"BagIt-Version"]
    for trick in PATH_TRICKS:
        raw = (
            trick.replace("OTHERFILE", quote(h.secrets[other].paths[0]))
            .replace("OTHER", other)
            .replace("FILE", quote(real))
        )
        for method in ("GET", "HEAD"):
            r = raw_request(h.app, f"/packages/{pid}/files/{raw}", method, h.credentials[credential])
            assert r.error is None and 400 <= r.status < 500, (trick, r.status, r.body[:200])
            assert r.body.startswith(b'{"error":') or (method == "HEAD" and not r.body), (trick, r.body[:100])
            assert not [s for s in secrets if s in r.body], trick
            assert "etag" not in r.headers and "content-range" not in r.headers


def test_only_catalogued_paths_are_served(hostile: Hostile) -> None:
    """Files that exist on disk inside the bag, but are not catalogued payload, are 404."""
    h = hostile
    pid = h.archive.packages["open"]
    for name in ("bagit.txt", "bag-info.txt", "mets.xml", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
        r = h.client.get(f"/packages/{pid}/files/{name}")
        assert r.status_code == 404 and r.json()["error"]["type"] == "NotFound", name


# -- stats and audits ------------------------------------------------------------------------------
def test_audit_findings_in_hidden_packages_withhold_paths_and_digests(tmp_path: Path) -> None:
    settings_archive = build_archive(tmp_path, ("open",))
    with ArchiveContext(settings_archive.settings) as ctx:
        hidden, payload, name = _canary(tmp_path, ctx, "confidential")
        for pid, path in ((hidden, name), (settings_archive.packages["open"], "finding-aid.pdf")):
            stored = ctx.storage.original_bag(pid) / "data" / path
            stored.chmod(0o644)
            data = bytearray(stored.read_bytes())
            data[20] ^= 0xFF
            stored.write_bytes(bytes(data))
        run = run_audit(ctx, AuditOptions(all=True)).run_id
    with TestClient(create_app(settings_archive.settings)) as c:
        seen = c.get(f"/audits/{run}", headers=settings_archive.headers("auditor"))
        full = c.get(f"/audits/{run}", headers=settings_archive.headers("archivist")).json()
    assert seen.status_code == 200
    by_package = {f["package"]: f for f in seen.json()["findings"]}
    assert set(by_package) == {hidden, settings_archive.packages["open"]}
    assert by_package[hidden]["path"] == "" and by_package[hidden]["message"] == WITHHELD
    assert by_package[hidden]["expected"] is None and by_package[hidden]["found"] is None
    assert by_package[hidden]["kind"]  # what went wrong is still reported
    assert "finding-aid.pdf" in by_package[settings_archive.packages["open"]]["path"]
    for marker in (name, hashlib.sha256(payload).hexdigest(), "Canary"):
        assert marker not in seen.text
    assert any(name in f["path"] for f in full["findings"])  # archivists see everything


# -- tokens ------------------------------------------------------------------------------------------
def _cli(home: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--home", str(home), *args], env={"ARCHIVE_CONFIG": ""})


def test_tokens_expire_and_are_then_refused_like_unknown_ones(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = hostile
    now = datetime.now(UTC)
    with ArchiveContext(h.archive.settings) as ctx:
        info, token = token_service.create(ctx, "short-lived", "archivist", now + timedelta(days=30))
    assert info.expires_at is not None and info.as_dict()["expires"]
    hidden = h.archive.packages["legal-hold"]
    header = {"Authorization": f"Bearer {token}"}
    unknown = {"Authorization": f"Bearer arc_{'0' * 12}_{token.split('_', 2)[2]}"}
    assert h.client.get(f"/packages/{hidden}", headers=header).status_code == 200
    monkeypatch.setattr(token_service, "_now", lambda: now + timedelta(days=30) - timedelta(seconds=1))
    assert h.client.get(f"/packages/{hidden}", headers=header).status_code == 200
    monkeypatch.setattr(token_service, "_now", lambda: now + timedelta(days=30))
    expired = h.client.get(f"/packages/{hidden}", headers=header)
    stranger = h.client.get(f"/packages/{hidden}", headers=unknown)
    assert expired.status_code == stranger.status_code == 401
    assert expired.content == stranger.content and expired.headers == stranger.headers
    assert h.client.get("/packages", headers=header).status_code == 401  # never anonymous instead


def test_tokens_create_with_an_expiry_from_the_command_line(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open",))
    home = a.settings.home
    before = datetime.now(UTC)
    r = _cli(home, "tokens", "create", "--name", "month", "--role", "researcher", "--expires-in", "30d", "--json")
    assert r.exit_code == 0, r.output
    made = json.loads(r.stdout)
    expires = datetime.fromisoformat(made["expires"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30, seconds=1)
    r = _cli(home, "tokens", "create", "--name", "dated", "--role", "auditor", "--expires", "2099-01-01")
    assert r.exit_code == 0 and r.stdout.strip().startswith("arc_")
    listed = {t["name"]: t for t in json.loads(_cli(home, "tokens", "list", "--json").stdout)["tokens"]}
    assert listed["dated"]["expires"] == "2099-01-01T00:00:00+00:00"
    assert listed["month"]["expires"] == made["expires"]
    assert listed["researcher for tests"]["expires"] is None  # without an option: never
    for bad in (
        ["--expires-in", "30d", "--expires", "2099-01-01"],
        ["--expires", "2999-01-01"],  # more than 100 years ahead
        ["--expires-in", "0d"],
        ["--expires-in", "5y"],
        ["--expires-in", "30"],
        ["--expires-in", "999999w"],
        ["--expires", "2001-01-01"],
        ["--expires", "tomorrow"],
    ):
        r = _cli(home, "tokens", "create", "--name", "bad", "--role", "researcher", *bad)
        assert r.exit_code == 2, (bad, r.output)
        assert "arc_" not in r.stdout
    names = [t["name"] for t in json.loads(_cli(home, "tokens", "list", "--json").stdout)["tokens"]]
    assert "bad" not in names  # nothing created


def test_expiry_parsing() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert token_service.expiry(expires_in="90m", now=now) == now + timedelta(minutes=90)
    assert token_service.expiry(expires_in="12h", now=now) == now + timedelta(hours=12)
    assert token_service.expiry(expires_in="2W", now=now) == now + timedelta(weeks=2)
    assert token_service.expiry(expires="2026-02-01", now=now) == datetime(2026, 2, 1, tzinfo=UTC)
    assert token_service.expiry(expires="2026-02-01T09:00+01:00", now=now) == datetime(2026, 2, 1, 8, tzinfo=UTC)
    assert token_service.expiry(now=now) is None


def test_token_secrets_are_compared_in_constant_time(hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.access.tokens as pure_tokens

    calls: list[tuple[Any, Any]] = []
    real = pure_tokens.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(pure_tokens.hmac, "compare_digest", spy)
    good = hostile.archive.tokens["researcher"]
    wrong = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    unknown = f"arc_{'f' * 12}_{good.split('_', 2)[2]}"
    with ArchiveContext(hostile.archive.settings) as ctx:
        assert token_service.authenticate(ctx, f"Bearer {good}").role == "researcher"
        for token in (wrong, unknown):
            with pytest.raises(AuthenticationRequired, match="not valid"):
                token_service.authenticate(ctx, f"Bearer {token}")
    assert len(calls) == 3  # every well-formed token, known id or not, takes the same path
    assert all(isinstance(x, str) and len(x) == 64 for pair in calls for x in pair)


# -- no token in any log -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(hostile: Hostile) -> Iterator[str]:
    """The app under a real uvicorn (in a thread), logging at DEBUG with its access log."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        create_app(hostile.archive.settings),
        host="127.0.0.1",
        port=port,
        log_level="debug",
        log_config=None,
        access_log=True,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    levels = {name: logging.getLogger(name).level for name in ("uvicorn", "uvicorn.error", "uvicorn.access")}
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_no_token_or_secret_is_ever_logged_or_recorded(
    hostile: Hostile, server: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    h = hostile
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "archive", "sqlalchemy.engine", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    # a token made on the command line, while everything logs at DEBUG
    made = _cli(h.archive.settings.home, "tokens", "create", "--name", "logged?", "--role", "admin")
    assert made.exit_code == 0
    cli_token = made.stdout.strip()
    tokens = [*h.archive.tokens.values(), cli_token]
    bad = [
        h.credentials[c]["Authorization"].split(" ", 1)[1] for c in ("expired", "revoked", "malformed", "forged secret")
    ]
    pid = h.archive.packages["open"]
    hidden = h.archive.packages["legal-hold"]
    urls = [
        "/packages",
        f"/packages/{pid}",
        f"/packages/{pid}/files/{h.secrets[pid].paths[0]}",
        f"/packages/{hidden}/download",
        f"/packages/{hidden}/files/x.eml",
        "/stats",
        "/audits",
        "/packages/not-a-uuid",
        "/no/such/route",
    ]
    with httpx.Client(base_url=server, timeout=30) as real:
        for token in tokens + bad:
            for url in urls:
                for client in (h.client, real):
                    r = client.get(url, headers={"Authorization": f"Bearer {token}", "Range": "bytes=0-9"})
                    assert r.status_code < 500
        r = real.get(f"/packages/{pid}", headers={"Authorization": f"Basic {tokens[0]}"})
        assert r.status_code == 401
    secrets = tokens + bad + [t.split("_", 2)[2] for t in tokens + bad]
    records = caplog.records
    assert any(r.name == "uvicorn.access" for r in records), "uvicorn's access log was not captured"
    assert any(r.name.startswith("sqlalchemy.engine") for r in records), "SQL logging was not captured"
    for record in records:
        rendered = record.getMessage() + " ".join(repr(v) for v in record.__dict__.values())
        leaked = [s for s in secrets if s in rendered]
        assert not leaked, (record.name, rendered[:300])
    # nor in the catalog's access log, its incidents, or the usage statistics
    with ArchiveContext(h.archive.settings) as ctx:
        log = callers.access_entries(ctx.catalog)
        incidents = callers.incidents(ctx.catalog)
        with ctx.catalog.engine.connect() as conn:
            stored = [str(v) for row in conn.execute(text("SELECT * FROM api_tokens")) for v in row]
    assert log and any(e["token_id"] == h.archive.token_ids["researcher"] for e in log)
    stats = h.client.get("/stats?period=day", headers=h.credentials["admin"]).text
    listing = _cli(h.archive.settings.home, "tokens", "list", "--json").stdout
    for blob in (json.dumps(log), json.dumps(incidents), " ".join(stored), stats, listing):
        assert not [s for s in secrets if s in blob]


# -- limits ----------------------------------------------------------------------------------------
def _integer_parameters(h: Hostile) -> Iterator[tuple[str, str, dict[str, Any]]]:
    spec = h.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                schema = p["schema"]
                if p["in"] == "query" and schema.get("type") == "integer" and method == "get":
                    url = path.replace("{package_id}", h.archive.packages["open"]).replace("{run_id}", h.run_id)
                    yield url, p["name"], schema


def test_every_page_size_and_number_is_bounded(hostile: Hostile) -> None:
    h = hostile
    admin = h.credentials["admin"]
    checked = set()
    for url, name, schema in _integer_parameters(h):
        assert "maximum" in schema and "minimum" in schema, (url, name)  # no unbounded number
        ok = h.client.get(url, params={name: schema["maximum"]}, headers=admin)
        assert ok.status_code == 200, (url, name, ok.text)
        for value in (
            schema["maximum"] + 1,
            schema["minimum"] - 1,
            10**30,
            -(10**30),
            "1e3",
            "0x10",
            "",
            "١٢",
        ):
            r = h.client.get(url, params={name: value}, headers=admin)
            assert r.status_code == 422, (url, name, value, r.status_code)
            err = r.json()["error"]
            assert name in err["message"] and err["details"][0]["where"] == f"query parameter {name!r}"
        checked.add((url.split("?")[0], name))
    assert {n for _, n in checked} >= {"limit", "offset", "top"} and len(checked) >= 7


def test_oversized_requests_are_refused_with_4xx(hostile: Hostile) -> None:
    c = hostile.client
    pid = hostile.archive.packages["open"]
    cases = [
        (c.get("/packages/" + pid + "/files/" + "a" * (MAX_PATH_BYTES + 1)), 414),
        (c.get("/packages", params={"q": "x" * (MAX_QUERY_BYTES + 1)}), 414),
        (c.get("/packages", params={"cursor": "x" * 5000}), 422),
        (c.get("/packages", params={"field": [f"a=b{i}" for i in range(21)]}), 422),
        (c.get("/packages", params={"puid": ["fmt/1"] * 51}), 422),
        (c.get("/packages", params={"puid": "x" * 33}), 422),
        (c.get("/health", headers={f"x-h{i}": "1" for i in range(MAX_HEADERS + 1)}), 431),
        (c.get("/health", headers={"x-big": "b" * (MAX_HEADER_BYTES + 1)}), 431),
        (c.get("/health", headers={"Authorization": "Bearer " + "a" * (MAX_HEADER_BYTES + 1)}), 431),
        (c.request("GET", "/packages", content=b"{}"), 413),
        (c.request("GET", f"/packages/{pid}/download", content=b"x" * 100_000), 413),
        (c.request("GET", "/packages", content=iter([b"chunked", b"body"])), 413),
        (c.get(f"/packages/{pid}/files/x", headers={"Range": "bytes=" + "1" * 2000 + "-"}), 404),
        (
            c.get(
                f"/packages/{pid}/files/{hostile.secrets[pid].paths[0]}",
                headers={"Range": "bytes=" + "1" * 2000 + "-"},
            ),
            416,
        ),
        (c.get("/packages", params={"created_from": "1700000000"}), 422),
    ]
    for r, status in cases:
        assert r.status_code == status, (r.request.url, r.status_code, r.text[:200])
        assert r.json()["error"]["status"] == status and r.json()["error"]["message"]
    head = c.request("HEAD", f"/packages/{pid}/files/x", content=b"x")
    assert head.status_code == 413
    assert c.get("/packages", headers={"Content-Length": "0"}).status_code == 200  # an empty body is no body


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_forged_cursors_and_nul_characters_are_400(hostile: Hostile) -> None:
    c = hostile.client
    pid = hostile.archive.packages["open"]
    forged = [
        ("/packages", _b64(json.dumps(["9999-12-31T23:59:59-23:59", pid]))),  # past the calendar's end
        ("/packages", _b64(json.dumps(["0001-01-01T00:00:00+23:59", pid]))),
        ("/packages", _b64(json.dumps(["2024-01-01T00:00:00+00:00", "a\u0000b"]))),
        ("/packages", _b64(json.dumps(["2024-01-01T00:00:00", pid]))),  # no zone
        ("/packages", _b64(json.dumps({"a": 1}))),
        (f"/packages/{pid}/events", _b64("2024-01-01T00:00:00+00:00 \x00")),
        (f"/packages/{pid}/events", _b64("yesterday x")),
        (f"/packages/{pid}/files", _b64("a\x00")),
    ]
    for url, cursor in forged:
        r = c.get(url, params={"cursor": cursor})
        assert r.status_code == 400 and "cursor" in r.json()["error"]["message"], (url, cursor, r.text)
    for url in (
        "/packages?q=a%00b",
        f"/packages/{pid}/events?type=%00",
        "/stats?profile=%00",
        "/health?x=%00",
    ):
        r = c.get(url, headers=hostile.credentials["admin"])
        assert r.status_code == 400 and "NUL" in r.json()["error"]["message"], url


def _raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return data


def test_a_real_server_answers_oversized_requests_with_4xx(server: str) -> None:
    end = b"Host: x\r\nConnection: close\r\n\r\n"
    requests = [
        b"GET /packages?q=" + b"a" * 100_000 + b" HTTP/1.1\r\n" + end,
        b"GET /packages/" + b"a" * 100_000 + b" HTTP/1.1\r\n" + end,
        b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n" + end,
        b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(5000)) + end,
        b"GET /health HTTP/1.1\r\nContent-Length: 1000000\r\n" + end + b"x" * 10_000,  # refused unread
        b"GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + end + b"5\r\nhello\r\n0\r\n\r\n",
    ]
    for request in requests:
        answer = _raw(server, request)
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, (request[:60], answer[:200])
    assert httpx.get(f"{server}/health", timeout=10).status_code == 200  # and the server is still there

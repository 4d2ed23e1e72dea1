"""Tokens (CLI and checks), the one JSON error shape, /audits and /health."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from archive.api import create_app
from archive.api.errors import STATUS
from archive.cli import main
from archive.errors import ArchiveError
from archive.services.context import ArchiveContext
from tests.support.api import ApiArchive, build_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("tokens"), ("open", "restricted"))


@pytest.fixture(scope="module")
def client(archive: ApiArchive):
    with TestClient(create_app(archive.settings)) as c:
        yield c


def _cli(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--home", str(home), *args], env={"ARCHIVE_CONFIG": ""})
    return result.exit_code, result.stdout


def test_tokens_cli_create_list_revoke(tmp_path: Path) -> None:
    a = build_archive(tmp_path, ("open",))
    home = a.settings.home
    code, out = _cli(home, "tokens", "create", "--name", "Dr Reader", "--role", "researcher")
    assert code == 0
    token = out.strip()
    assert token.startswith("arc_") and len(token.splitlines()) == 1
    code, out = _cli(home, "tokens", "list", "--json")
    listed = json.loads(out)["tokens"]
    mine = [t for t in listed if t["name"] == "Dr Reader"]
    assert len(mine) == 1 and mine[0]["role"] == "researcher" and mine[0]["revoked"] is None
    assert token not in out and token.split("_", 2)[2] not in out  # the secret is never shown again
    with ArchiveContext(a.settings) as ctx, ctx.catalog.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM api_tokens")) for v in row)
    assert token.split("_", 2)[2] not in stored  # only a salted digest is kept
    app = create_app(a.settings)
    with TestClient(app) as c:
        pid = a.packages["open"]
        assert c.get(f"/packages/{pid}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        code, out = _cli(home, "tokens", "revoke", mine[0]["id"])
        assert code == 0 and "Revoked" in out
        r = c.get(f"/packages/{pid}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert _cli(home, "tokens", "revoke", "000000000000")[0] == 1
    assert _cli(home, "tokens", "create", "--name", "x", "--role", "superuser")[0] == 2


@pytest.mark.parametrize(
    "header, message",
    [
        ("Bearer arc_000000000000_" + "A" * 43, "not valid"),
        ("Bearer nonsense", "not an archive API token"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer"),
        ("Bearer ", "must be 'Bearer"),
    ],
)
def test_bad_credentials_are_401_never_anonymous(
    client: TestClient, archive: ApiArchive, header: str, message: str
) -> None:
    r = client.get(f"/packages/{archive.packages['open']}", headers={"Authorization": header})
    assert r.status_code == 401 and message in r.json()["error"]["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_token_with_a_wrong_secret_is_rejected(client: TestClient, archive: ApiArchive) -> None:
    good = archive.tokens["archivist"]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    r = client.get("/packages", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "method, url, status",
    [
        ("GET", "/no/such/route", 404),
        ("POST", "/packages", 405),
        ("DELETE", "/packages/00000000-0000-4000-8000-000000000000", 405),
        ("GET", "/packages?limit=-1", 422),
        ("GET", "/packages/not-a-uuid", 400),
        ("GET", "/packages/00000000-0000-4000-8000-000000000000", 404),
        ("GET", "/audits", 401),
        ("GET", "/stats?period=decade", 422),
    ],
)
def test_one_json_error_shape(client: TestClient, method: str, url: str, status: int) -> None:
    r = client.request(method, url)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body) == ["error"]
    err = body["error"]
    assert {"code", "type", "status", "message"} <= set(err) and err["status"] == status
    assert err["code"].startswith("E") and err["message"]


def test_every_archive_error_maps_to_a_status() -> None:
    def subclasses(cls: type) -> list[type]:
        return [cls] + [s for c in cls.__subclasses__() for s in subclasses(c)]

    from archive.api.errors import status_for

    for cls in subclasses(ArchiveError):
        try:
            exc = cls("x")
        except TypeError:
            continue
        assert 400 <= status_for(exc) < 600
    assert STATUS[ArchiveError] == 500


def test_audits_routes_read_audit_runs(archive: ApiArchive) -> None:
    from archive.services.audit.run import AuditOptions, run_audit

    with TestClient(create_app(archive.settings)) as client:
        h = archive.headers("auditor")
        pid = archive.packages["open"]
        assert client.get(f"/packages/{pid}", headers=h).json()["last_audit"]["outcome"] is None  # never audited
        assert client.get("/audits/no-such-run", headers=h).status_code == 404
        assert client.get("/audits/bad id!", headers=h).status_code == 400
        with ArchiveContext(archive.settings) as ctx:
            result = run_audit(ctx, AuditOptions(all=True))
        body = client.get("/audits", headers=h).json()
        assert body["count"] == 1 and body["runs"][0]["id"] == result.run_id
        assert body["runs"][0]["outcome"] == "success"
        one = client.get(f"/audits/{result.run_id}", headers=h).json()
        assert one["id"] == result.run_id and one["findings"] == []
        last = client.get(f"/packages/{pid}", headers=h).json()["last_audit"]
        assert last["outcome"] == "success" and last["checked_at"] and last["run"] == result.run_id
        assert client.get("/audits", headers=archive.headers("researcher")).status_code == 403


def test_health(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_health_reports_unreachable_storage(tmp_path: Path) -> None:
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(tmp_path / "home", storage=str(tmp_path / "nowhere")))) as c:
        r = c.get("/health")
    assert r.status_code == 503 and r.json()["error"]["code"] == "E500"


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/packages",
        "/packages/{package_id}",
        "/packages/{package_id}/mets",
        "/packages/{package_id}/mets/{part}",
        "/packages/{package_id}/events",
        "/packages/{package_id}/files",
        "/packages/{package_id}/files/{path}",
        "/packages/{package_id}/download",
        "/packages/{package_id}/versions",
        "/packages/{package_id}/access",
        "/packages/{package_id}/hold",
        "/packages/{package_id}/hold/release",
        "/audits",
        "/audits/{run_id}",
        "/stats",
        "/health",
    }
    assert set(spec["paths"]["/packages/{package_id}/files/{path}"]) == {"get", "head"}
    assert client.get("/docs").status_code == 200

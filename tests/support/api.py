"""An archive for API tests: one package at every access level, and one token per role.

Built once per test session (ingest is the slow part) and only read by the tests that share
it; tests that damage storage or revoke tokens build their own with :func:`build_archive`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from archive.config import Settings
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.retrieve import tokens
from tests.conftest import DATA, make_settings

ROLES = ("anonymous", "researcher", "auditor", "archivist", "admin")
#: one package per cell of the access matrix (docs/access.md); "restricted" is a heritage package
#: that asked for restricted access, so that researchers see its metadata. A legal package at its
#: profile's default (restricted, but hidden from researchers by the legal profile) is "legal",
#: built only when asked for (tests/test_api_access.py)
LEVELS = ("open", "restricted", "embargoed-future", "embargoed-past", "confidential", "legal-hold")

#: level -> (fixture submission, profile, metadata lines added to its metadata.yaml)
SUBMISSIONS: dict[str, tuple[str, str, str]] = {
    "open": ("heritage-minimal", "heritage", ""),
    "restricted": ("heritage-minimal", "heritage", "access_level: restricted\n"),
    "legal": ("legal-minimal", "legal", ""),
    "embargoed-future": ("heritage-minimal", "heritage", "embargo_until: 2999-12-31\n"),
    "embargoed-past": ("heritage-minimal", "heritage", "embargo_until: 2001-02-03\n"),
    "confidential": ("legal-minimal", "legal", "confidentiality_override: confidential\n"),
    "legal-hold": ("legal-minimal", "legal", "legal_hold_override: true\n"),
}


@dataclass
class ApiArchive:
    settings: Settings
    packages: dict[str, str] = field(default_factory=dict)  # level -> package id
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token
    token_ids: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}


def _submission(tmp: Path, level: str) -> tuple[Path, str]:
    name, profile, extra = SUBMISSIONS[level]
    dest = tmp / f"sub-{level}"
    shutil.copytree(DATA / "submissions" / name, dest)
    meta = dest / "metadata.yaml"
    text = meta.read_text(encoding="utf-8")
    if "confidentiality_override" in extra:
        text = text.replace("confidentiality: internal", "confidentiality: confidential")
    elif "legal_hold_override" in extra:
        text = text.replace("legal_hold: false", "legal_hold: true")
    else:
        text += extra
    text = text.replace("title: ", f"title: ({level}) ", 1)
    meta.write_text(text, encoding="utf-8")
    return dest, profile


def build_archive(tmp: Path, levels: tuple[str, ...] = LEVELS, **overrides: object) -> ApiArchive:
    settings = make_settings(tmp / "home", **overrides)
    archive = ApiArchive(settings)
    with ArchiveContext(settings) as ctx:
        for level in levels:
            sub, profile = _submission(tmp, level)
            archive.packages[level] = ingest(ctx, sub, profile, agent="api-tests").package_id
        for role in ROLES[1:]:
            info, token = tokens.create(ctx, f"{role} for tests", role)
            archive.tokens[role] = token
            archive.token_ids[role] = info.id
    return archive


RESEARCH_META = """title: "{title}"
creators:
  - name: Tester, Tess
licence: CC-BY-4.0
type: Dataset
date: "{date}"
"""


def research_submission(
    tmp: Path, name: str, files: dict[str, bytes], title: str = "Sensor dump", date: str = "2024-06"
) -> Path:
    """A research submission with the given payload files (random bytes are accepted unidentified)."""
    dest = tmp / name
    dest.mkdir(parents=True)
    (dest / "metadata.yaml").write_text(RESEARCH_META.format(title=title, date=date), encoding="utf-8")
    for rel, data in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    error: BaseException | None  # raised by the app after the response started (an aborted stream)
    received: int = 0  # body bytes, counted even when not kept


async def _raw_call(
    app: object, method: str, raw_path: bytes, headers: list[tuple[bytes, bytes]], keep_body: bool
) -> RawResponse:
    from urllib.parse import unquote

    path_part, _, query = raw_path.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path_part.decode("ascii")),
        "raw_path": path_part,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    out = RawResponse(0, {}, b"", None)
    chunks: list[bytes] = []
    sent_request = False

    async def receive() -> dict[str, object]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        import anyio

        await anyio.sleep(3600)
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            out.status = int(message["status"])  # type: ignore[call-overload]
            out.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}  # type: ignore[attr-defined]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            out.received += len(body)  # type: ignore[arg-type]
            if keep_body:
                chunks.append(bytes(body))  # type: ignore[arg-type]

    try:
        await app(scope, receive, send)  # type: ignore[operator]
    except Exception as exc:
        out.error = exc
    out.body = b"".join(chunks)
    return out


def raw_request(
    app: object,
    raw_path: str | bytes,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    keep_body: bool = True,
) -> RawResponse:
    """Send exactly ``raw_path`` to the ASGI app (no client-side normalisation of '..' or '%2e')."""
    import anyio

    raw = raw_path.encode("latin-1") if isinstance(raw_path, str) else raw_path
    hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return anyio.run(_raw_call, app, method, raw, hdrs, keep_body)

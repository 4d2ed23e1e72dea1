"""The app factory. Nothing is opened at import time: the catalog opens when the app starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from archive import __version__
from archive.api import errors
from archive.api.cursors import Cursors
from archive.api.limits import RequestLimits
from archive.api.routes import audits, decisions, files, health, packages, stats
from archive.config import Settings, load_settings
from archive.services.context import ArchiveContext
from archive.services.retrieve.verified import VerifiedFiles

DESCRIPTION = """Find, read and download what the archive holds, within each caller's access rights.

Send an API token (`archive tokens create`) as `Authorization: Bearer <token>`. Without one,
a caller sees open packages only (when the archive allows anonymous access). Hidden packages
answer 404, exactly like unknown ones. Every error has the shape
`{"error": {"code", "type", "status", "message"}}`. Reads of one package take `?version=N` (default:
the head). Decisions (access, legal holds) are POSTed as small JSON bodies by archivist and admin
tokens; no other route takes a body. URLs, headers, bodies and page sizes are bounded (docs/api.md,
"Limits"). See docs/api.md and docs/access.md."""


def create_app(settings_or_ctx: Settings | ArchiveContext) -> FastAPI:
    """An app over ``settings`` (it opens and closes its own context) or over a running context."""
    owned = not isinstance(settings_or_ctx, ArchiveContext)
    ctx = ArchiveContext(settings_or_ctx) if isinstance(settings_or_ctx, Settings) else settings_or_ctx

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.catalog  # open and migrate before the first request  # noqa: B018
        try:
            yield
        finally:
            if owned:
                ctx.close()

    app = FastAPI(title="archive retrieval API", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.verified = VerifiedFiles(ctx.settings.api_verify_ttl)
    app.state.cursors = Cursors(ctx.settings.home)
    errors.install(app)
    app.add_middleware(RequestLimits)
    for module in (packages, files, decisions, audits, stats, health):
        app.include_router(module.router)
    return app


def create_app_from_environment() -> FastAPI:
    """For ``uvicorn --factory``: settings from ``$ARCHIVE_CONFIG`` / ``ARCHIVE_*`` variables."""
    return create_app(load_settings())

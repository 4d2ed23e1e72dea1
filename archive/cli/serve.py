"""archive serve: run the retrieval API with uvicorn."""

from __future__ import annotations

import os

import click

from archive.cli import State, handles_errors, render


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface; put a TLS proxy such as nginx in front).",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="uvicorn's log level.",
)
@click.pass_obj
@handles_errors
def serve(state: State, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the retrieval API (OpenAPI documentation at /docs). Stop with Ctrl-C."""
    import uvicorn

    settings = state.ctx.settings
    state.ctx.catalog.ping()  # open and migrate the catalog now: a broken setting fails here, clearly
    # each worker builds its app from the environment: hand it the same settings file and home
    if state.config:
        os.environ["ARCHIVE_CONFIG"] = str(state.config)
    os.environ["ARCHIVE_HOME"] = str(settings.home)
    shown = f"[{host}]" if ":" in host else host
    render.err.print(
        f"Serving the archive at {settings.home} on http://{shown}:{port} (OpenAPI: http://{shown}:{port}/docs)"
    )
    state.close()
    uvicorn.run(
        "archive.api.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )

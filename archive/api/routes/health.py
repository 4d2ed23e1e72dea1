"""GET /health: can the API reach its catalog and its storage? (No token needed.)"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from archive import __version__
from archive.api import errors
from archive.api.deps import Ctx
from archive.api.schemas import Health
from archive.errors import ArchiveError, CatalogError, StorageError

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    summary="Catalog and storage reachable",
    response_model=None,
    responses={200: {"model": Health, "description": "Both answer"}, **errors.responses()},
)
def health(ctx: Ctx) -> dict[str, Any]:
    try:
        ctx.catalog.ping()
    except ArchiveError as exc:
        raise CatalogError("the catalog database does not answer") from exc
    if not ctx.storage.reachable():
        raise StorageError("the primary storage is not reachable")
    return {"status": "ok", "catalog": "ok", "storage": "ok", "version": __version__}

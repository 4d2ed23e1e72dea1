"""Packages in the old storage layout (``<root>/<aa>/<bb>/<uuid>/``, one BagIt bag each), for the
migration tests: :func:`stored_legacy` ingests and makes sure every storage root holds the package
as a bag of the old layout, whatever layout ingest writes."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.recovery.migrate import legacy_path, object_id
from archive.storage.ocfl import OcflRoot
from archive.storage.ocfl.layout import ROOT_NAMASTE
from archive.tree_removal import remove_tree


def to_legacy_layout(storage_root: Path, package_id: str, bag_folder: Path) -> Path:
    """Place a copy of ``bag_folder`` at the package's path of the old layout (copied beside, renamed in)."""
    target = legacy_path(Path(storage_root), package_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(storage_root) / f".legacy-{uuid.uuid4()}"
    shutil.copytree(bag_folder, scratch, symlinks=True)
    os.rename(scratch, target)
    return target


def as_legacy(ctx: ArchiveContext, package_id: str) -> None:
    """Every storage root holds ``package_id`` as a bag of the old layout (an OCFL object of it,
    as a newer ingest writes, is materialised there and removed)."""
    for storage in ctx.all_storage:
        root = storage.root
        if legacy_path(root, package_id).is_dir() or not (root / ROOT_NAMASTE).exists():
            continue
        ocfl = OcflRoot(root)
        oid = object_id(package_id)
        if not ocfl.exists(oid):
            continue
        scratch = root / f".legacy-{uuid.uuid4()}"
        ocfl.materialise(oid, scratch, 1)
        to_legacy_layout(root, package_id, scratch)
        remove_tree(scratch)
        objdir = ocfl.object_path(oid)
        remove_tree(objdir)
        for parent in (objdir.parent, objdir.parent.parent, objdir.parent.parent.parent):
            try:
                os.rmdir(parent)
            except OSError:
                break


def stored_legacy(ctx: ArchiveContext, submission: Path, profile: str = "heritage") -> str:
    """Ingest ``submission``; return the package id, stored in the old layout in every root."""
    package_id = ingest(ctx, submission, profile).package_id
    as_legacy(ctx, package_id)
    return package_id

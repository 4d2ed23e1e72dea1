"""Helpers for the audit, repair, ledger and scheduler tests: stored packages and ways to damage them."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from archive.services.audit.run import AuditOptions, AuditResult, run_audit
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest

HERITAGE = "submissions/heritage-minimal"
TIF = "data/HHM_2024_900_001.tif"
PDF = "data/finding-aid.pdf"


def stored(
    ctx: ArchiveContext, copy_fixture: Callable[[str], Path], rel: str = HERITAGE, profile: str = "heritage"
) -> str:
    return ingest(ctx, copy_fixture(rel), profile).package_id


def audit(ctx: ArchiveContext, **options: object) -> AuditResult:
    now = options.pop("now", None)
    return run_audit(ctx, AuditOptions(**options), now=now)  # type: ignore[arg-type]


def later(days: float = 0, minutes: float = 0) -> datetime:
    from archive.model import utcnow

    return utcnow() + timedelta(days=days, minutes=minutes)


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def rewrite_consistently(bag: Path, rel: str, content: bytes) -> None:
    """Replace a payload file and update every manifest and tag manifest so the bag validates."""
    (bag / rel).write_bytes(content)
    for algo in ("sha256", "sha512"):
        digest = hashlib.new(algo, content).hexdigest()
        manifest = bag / f"manifest-{algo}.txt"
        lines = [
            f"{digest}  {rel}" if line.endswith(f"  {rel}") else line for line in manifest.read_text().splitlines()
        ]
        manifest.write_text("\n".join(lines) + "\n")
    for algo in ("sha256", "sha512"):
        tagmanifest = bag / f"tagmanifest-{algo}.txt"
        out = []
        for line in tagmanifest.read_text().splitlines():
            _, name = line.split("  ", 1)
            out.append(f"{hashlib.new(algo, (bag / name).read_bytes()).hexdigest()}  {name}")
        tagmanifest.write_text("\n".join(out) + "\n")


def forged(path: Path) -> bytes:
    """Other content of the same size (so only digests can tell)."""
    data = path.read_bytes()
    return data[:-16] + b"forged content!\n"


def _content(bag: Path) -> None:
    flip_byte(bag / TIF)


def _truncate(bag: Path) -> None:
    p = bag / PDF
    p.write_bytes(p.read_bytes()[:100])


def _symlink(bag: Path) -> None:
    (bag / PDF).unlink()
    (bag / PDF).symlink_to("/etc/hostname")


#: name -> (damage, expected kind, expected path)
DAMAGE: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "content-changed": (_content, "changed", TIF),
    "truncated": (_truncate, "truncated", PDF),
    "missing-file": (lambda b: (b / PDF).unlink(), "missing", PDF),
    "extra-payload-file": (
        lambda b: (b / "data" / "stowaway.txt").write_text("not ours"),
        "extra",
        "data/stowaway.txt",
    ),
    "bag-info-changed": (
        lambda b: _append(b / "bag-info.txt", "Contact-Name: Mallory\n"),
        "tag-changed",
        "bag-info.txt",
    ),
    "mets-changed": (
        lambda b: (b / "mets.xml").write_bytes(
            (b / "mets.xml").read_bytes().replace(b"Test accession", b"Best accession", 1)
        ),
        "tag-changed",
        "mets.xml",
    ),
    "manifest-changed": (
        lambda b: _append(b / "manifest-sha256.txt", "0" * 64 + "  data/ghost\n"),
        "tag-changed",
        "manifest-sha256.txt",
    ),
    "replaced-by-symlink": (_symlink, "not-regular", PDF),
    # b is v1/content: the whole object goes
    "package-missing": (
        lambda b: shutil.rmtree(b.parent.parent),
        "package-missing",
        "",
    ),  # b is v1/content: the object goes
    "rewritten-with-manifests": (lambda b: rewrite_consistently(b, PDF, forged(b / PDF)), "changed", PDF),
}


def object_folder(storage_root: Path, package_id: str) -> Path:
    """Where a package's OCFL object is under a storage root (layout 0003)."""
    from archive.storage import package_relpath

    return Path(storage_root) / package_relpath(package_id)


#: what an OCFL storage root holds of its own (made with the archive): not a package, not a submission's
OCFL_ROOT_FILES = frozenset(
    {"0=ocfl_1.1", "ocfl_layout.json", "extensions/0003-hash-and-id-n-tuple-storage-layout/config.json"}
)

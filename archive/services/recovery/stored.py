"""Read a stored package from storage alone (METS and tag files) and check that it is whole.

Used where storage is the truth and the catalog has nothing to compare with: ``archive doctor``
(a package stored by an ingest that died before its catalog record) and ``archive reindex``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from archive.audit.budget import Budget
from archive.audit.check import Expected, check_copy, expected_entries
from archive.audit.workers import CheckPool
from archive.errors import PackagingError
from archive.fixity import hash_file
from archive.ledger import package_token
from archive.model import Package
from archive.packaging.bag.write import decode_path, encode_path
from archive.packaging.mets.parts import METS_NAME
from archive.packaging.mets.read import read_mets
from archive.storage.local import StoredVersion

_MANIFEST = re.compile(r"manifest-([a-z0-9]+)\.txt")


@dataclass
class StoredPackage:
    """A stored package as its own files describe it, and what is wrong with it (if anything)."""

    package: Package
    mets_sha256: str
    tag_digests: dict[str, dict[str, str]]  # every tag file, hashed as it is now
    problems: list[str] = field(default_factory=list)

    @property
    def token(self) -> str:
        """The content token an ingest ledgers (:func:`archive.ledger.package_token`)."""
        return package_token(((f.path, f.size, f.digests) for f in self.package.files), self.tag_digests)


def _manifest_entries(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition(" ")
            out[decode_path(name.lstrip(" *"))] = digest.lower()
    return out


def _check_tags(bag: _Bag, algorithms: list[str], problems: list[str]) -> dict[str, dict[str, str]]:
    recorded: dict[str, dict[str, str]] = {}
    for algo in algorithms:
        listing = bag / f"tagmanifest-{algo}.txt"
        if not listing.is_file():
            problems.append(f"tagmanifest-{algo}.txt is missing")
            continue
        for name, digest in _manifest_entries(listing).items():
            recorded.setdefault(name, {})[algo] = digest
    names = set(recorded) | {f"tagmanifest-{a}.txt" for a in algorithms if (bag / f"tagmanifest-{a}.txt").is_file()}
    digests: dict[str, dict[str, str]] = {}
    for name in sorted(names):
        if not (bag / name).is_file() or (bag / name).is_symlink():
            problems.append(f"tag file {name} is missing")
            continue
        digests[name] = hash_file(bag / name, algorithms)[1]
        for algo, value in recorded.get(name, {}).items():
            if digests[name].get(algo) != value:
                problems.append(f"tag file {name}: {algo} differs from the tag manifest")
    return digests


def _check_manifests(bag: _Bag, pkg: Package, algorithms: list[str], problems: list[str]) -> None:
    """The payload manifests must list exactly the METS's files with the METS's digests."""
    for algo in algorithms:
        if any(algo not in f.digests for f in pkg.files):
            problems.append(f"METS records no {algo} digests but the bag has manifest-{algo}.txt")
            continue
        lines = [f"{f.digests[algo]}  {encode_path(f.bag_path)}\n" for f in sorted(pkg.files, key=lambda f: f.path)]
        if (bag / f"manifest-{algo}.txt").read_bytes() != "".join(lines).encode("utf-8"):
            problems.append(f"manifest-{algo}.txt does not list exactly the files and digests of the METS")


def _check_payload(bag: _Bag, pkg: Package, verify: bool, problems: list[str], workers: int) -> None:
    if verify:
        entries = [
            Expected(e.path, e.size, e.digests, bag.version.stored(e.path))
            for e in expected_entries(((f.path, f.size, f.digests) for f in pkg.files), {})
        ]
        with CheckPool(workers) as pool:
            result = check_copy(bag.version.folder, entries, pkg.id, "", Budget(), pool if workers > 1 else None)
        problems.extend(f"{f.path}: {f.message}" for f in result.findings)
        return
    for f in pkg.files:
        path = bag / f.bag_path
        try:
            st = os.lstat(path)
        except OSError:
            problems.append(f"{f.bag_path}: file missing")
            continue
        if not path.is_file() or path.is_symlink() or st.st_size != f.size:
            problems.append(f"{f.bag_path}: not a regular file of {f.size} bytes")


class _Bag:
    """A stored version seen as a bag folder: ``bag / name`` is where that bag path's bytes are."""

    def __init__(self, version: StoredVersion) -> None:
        self.version = version

    def __truediv__(self, rel: str) -> Path:
        return self.version.path(rel)

    def names(self) -> list[str]:
        return sorted(self.version.state)


def read_stored(version: StoredVersion, package_id: str, verify: bool = True, workers: int = 1) -> StoredPackage:
    """Read one stored version of a package; with ``verify`` every payload byte is hashed and
    compared with the METS's digests. Raises PackagingError when its METS cannot be read at all."""
    bag = _Bag(version)
    try:
        mets = (bag / METS_NAME).read_bytes()
    except OSError as exc:
        raise PackagingError(f"package {package_id}: cannot read {METS_NAME}: {exc.strerror or exc}") from exc
    parts: list[str] = []

    def part(name: str) -> bytes:
        parts.append(name)
        return (bag / name).read_bytes()

    pkg = read_mets(mets, validate=True, parts=part)
    if pkg.id != package_id:
        raise PackagingError(f"package folder {package_id} holds the METS of package {pkg.id}")
    pkg.version = version.number
    problems: list[str] = []
    algorithms = sorted(m[1] for name in bag.names() if (m := _MANIFEST.fullmatch(name)))
    if not algorithms:
        raise PackagingError(f"package {package_id}: no payload manifest")
    tag_digests = _check_tags(bag, algorithms, problems)
    problems.extend(
        f"{name} is not covered by the tag manifests" for name in (METS_NAME, *parts) if name not in tag_digests
    )
    _check_manifests(bag, pkg, algorithms, problems)
    _check_payload(bag, pkg, verify, problems, workers)
    expected = set(tag_digests) | {f.bag_path for f in pkg.files}
    problems.extend(
        f"{rel}: a file the version holds that its bag does not list" for rel in bag.names() if rel not in expected
    )
    return StoredPackage(pkg, hashlib.sha256(mets).hexdigest(), tag_digests, problems)

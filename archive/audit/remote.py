"""Checking a package's copy in object storage: read as a stream (full tier) or by the server's word (cheap tier).

``full`` reads every object's bytes back as a stream, never a temporary copy of the package, and
computes every algorithm the catalog has for it, as a check of a folder does. ``cheap`` reads
nothing but each object's size and the SHA-256 the server computed when it accepted the upload
(an upload that did not match it was refused), and compares them with the catalog's: it proves
the server holds what was sent, not that its disks still do, so ``full`` runs on schedule too.
Both are recorded in the audit's PREMIS event (its detail names the tier).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from archive.audit.check import OCFL_STRUCTURE, Expected, FileOutcome, outcome_of, read_entry
from archive.errors import StorageError
from archive.storage.objects import transfer_failed
from archive.storage.s3 import S3Storage

TIERS = ("full", "cheap")


class ObjectCopy:
    """One package's object in an :class:`S3Storage`, as :func:`archive.audit.check.check_copy` reads it."""

    def __init__(self, storage: S3Storage, package_id: str, tier: str = "full") -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown audit tier {tier!r}")
        self.storage = storage
        self.package_id = package_id
        self.tier = tier

    def _key(self, entry: Expected) -> str:
        return self.storage.object_key(self.package_id, entry.location)

    def check(
        self, entry: Expected, copy_to: Path | None = None, on_bytes: Callable[[int], None] | None = None
    ) -> FileOutcome:
        bucket = self.storage.bucket
        try:
            if self.tier == "cheap" and copy_to is None:
                info = bucket.info(self._key(entry))
                if info is None:
                    return FileOutcome(entry, 0, "missing", error=FileNotFoundError(entry.location))
                if info.sha256 is not None and "sha256" in entry.digests:
                    narrowed = replace(entry, digests={"sha256": entry.digests["sha256"]})
                    return replace(outcome_of(narrowed, info.size, {"sha256": info.sha256}), read=0)
            # the full tier (and a file the server keeps no SHA-256 for): the bytes, as a stream
            with bucket.open(self._key(entry)) as stream:
                size, found = read_entry(stream, entry, copy_to, on_bytes)
        except FileNotFoundError as exc:
            return FileOutcome(entry, 0, "missing", error=exc)
        except StorageError as exc:
            return FileOutcome(entry, 0, "unreadable", exc.message, error=OSError(exc.message))
        except OSError as exc:
            return FileOutcome(entry, 0, "unreadable", f"read error: {exc}", error=exc)
        except Exception as exc:
            if not transfer_failed(exc):
                raise
            return FileOutcome(entry, 0, "unreadable", f"read broke off: {exc}", error=OSError(str(exc)))
        return outcome_of(entry, size, found)

    def extras(self, expected: set[str]) -> list[tuple[str, str]]:
        return sorted(
            (rel, "unexpected object not in the catalog")
            for rel, _ in self.storage.keys(self.package_id)
            if rel not in expected and not OCFL_STRUCTURE.fullmatch(rel)
        )

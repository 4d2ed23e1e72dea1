"""The running archive: settings plus the adapters built from them, opened lazily.

Opening the catalog creates it (and the home folder) when it is not there yet. Only a command
that means to make a new archive (``archive ingest``) may do that: it calls :meth:`create_archive`;
the others call :meth:`require_archive` first, which refuses with :class:`ArchiveNotFound` naming
the home it looked at, so a mistyped or unset ``ARCHIVE_HOME`` never becomes a new, empty archive.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from archive.config import DEFAULT_HOME_SOURCE, Settings
from archive.errors import CatalogError, ConfigError, StorageError
from archive.profiles import ProfileRegistry
from archive.storage import LocalStorage

if TYPE_CHECKING:
    from archive.catalog import Catalog
    from archive.formats import Identifier
    from archive.ledger import Ledger
    from archive.storage.s3 import S3Storage


class ArchiveNotFound(ConfigError):
    """The home (and catalog) the settings name hold no archive; nothing was created."""

    code = "E007"


class ArchiveContext:
    """Holds what a command or the API needs; adapters open on first use and close together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def profiles(self) -> ProfileRegistry:
        return ProfileRegistry(self.settings.all_profile_dirs)

    # -- is there an archive at home? ----------------------------------------------
    def where(self) -> str:
        """``<home> (home from <source>)``, for messages."""
        return f"{self.settings.home} (home from {self.settings.home_source})"

    def archive_exists(self) -> bool:
        """The catalog has been created (its tables are there); creates nothing. CatalogError: unreachable."""
        from archive.catalog.db import catalog_exists

        return catalog_exists(self.settings.database_url)

    def require_archive(self, storage: bool = False) -> None:
        """Refuse (ArchiveNotFound, exit status 2) unless the catalog exists; ``storage``: the primary
        storage root will do instead (reindex and doctor rebuild or settle a lost catalog, and report an
        unreachable catalog themselves)."""
        from archive.catalog.db import redact

        s = self.settings
        try:
            if self.archive_exists():
                return
        except CatalogError:
            if storage:
                return
            raise
        if storage and s.storage.is_dir():
            return
        if not s.home.is_dir():
            problem = "the folder does not exist"
        elif storage:
            problem = f"it holds neither a catalog ({redact(s.database_url)}) nor a storage folder ({s.storage})"
        else:
            problem = f"it holds no catalog ({redact(s.database_url)})"
        hint = (
            "; nothing chose a home, so the current folder's ./var was looked at"
            if s.home_source == DEFAULT_HOME_SOURCE
            else ""
        )
        raise ArchiveNotFound(
            f"no archive at {self.where()}: {problem}{hint}. Set ARCHIVE_HOME (or --home, or home: in the "
            "settings file) to the folder of an existing archive; `archive ingest` creates a new one. "
            "Nothing was created."
        )

    def create_archive(self) -> bool:
        """Make sure an archive is there (home, storage roots, catalog); True when it was just created."""
        existed = self.archive_exists()
        try:
            self.settings.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the archive's home {self.where()}: {exc.strerror}") from exc
        self.storage.ensure()  # a storage root that cannot be written fails here, before the catalog exists
        self.catalog.ping()  # opening creates and migrates the catalog
        return not existed

    @cached_property
    def catalog(self) -> Catalog:
        from archive.catalog import Catalog

        return Catalog(self.settings.database_url)

    @cached_property
    def storage(self) -> LocalStorage:
        return LocalStorage(self.settings.storage, "primary")

    @cached_property
    def replicas(self) -> list[LocalStorage]:
        return [LocalStorage(p, f"replica{i + 1}") for i, p in enumerate(self.settings.replicas)]

    @property
    def all_storage(self) -> list[LocalStorage]:
        return [self.storage, *self.replicas]

    @cached_property
    def object_replicas(self) -> list[S3Storage]:
        """The storage roots in object storage (``object_replicas``): each receives a copy of every package."""
        from archive.storage.objects import Location, client
        from archive.storage.s3 import S3Storage

        urls = self.settings.object_replicas
        if not urls:
            return []
        s3 = client(self.settings.s3_endpoint_url, self.settings.s3_region, self.settings.s3_addressing_style)
        return [S3Storage(Location.parse(u), s3, f"object{i + 1}") for i, u in enumerate(urls)]

    @property
    def copy_targets(self) -> list[LocalStorage | S3Storage]:
        """Where every package is copied once primary storage holds it: replicas on disk, then in object storage."""
        return [*self.replicas, *self.object_replicas]

    @property
    def audited_copies(self) -> list[LocalStorage | S3Storage]:
        """Every copy an audit checks, in this order (an audit's cursor counts copies so)."""
        return [*self.all_storage, *self.object_replicas]

    @cached_property
    def ledger(self) -> Ledger:
        """The hash-chained event ledger in the primary storage root, copied to every replica root."""
        from archive.ledger import Ledger, ledger_dir

        return Ledger(ledger_dir(self.settings.storage), [ledger_dir(p) for p in self.settings.replicas])

    @cached_property
    def identifier(self) -> Identifier:
        from archive.formats import Identifier

        return Identifier(engine=self.settings.identify_engine, workers=self.settings.workers)

    def close(self) -> None:
        if "identifier" in self.__dict__:
            self.identifier.close()
        if "catalog" in self.__dict__:
            self.catalog.close()

    def __enter__(self) -> ArchiveContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

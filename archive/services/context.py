"""The running archive: settings plus the adapters built from them, opened lazily."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from archive.config import Settings
from archive.profiles import ProfileRegistry
from archive.storage import LocalStorage

if TYPE_CHECKING:
    from archive.catalog import Catalog
    from archive.formats import Identifier
    from archive.ledger import Ledger


class ArchiveContext:
    """Holds what a command or the API needs; adapters open on first use and close together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def profiles(self) -> ProfileRegistry:
        return ProfileRegistry(self.settings.all_profile_dirs)

    @cached_property
    def catalog(self) -> "Catalog":
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
    def ledger(self) -> "Ledger":
        """The hash-chained event ledger in the primary storage root, copied to every replica root."""
        from archive.ledger import LEDGER_DIR, Ledger

        return Ledger(self.settings.storage / LEDGER_DIR, [p / LEDGER_DIR for p in self.settings.replicas])

    @cached_property
    def identifier(self) -> "Identifier":
        from archive.formats import Identifier

        return Identifier(engine=self.settings.identify_engine, workers=self.settings.workers)

    def close(self) -> None:
        if "identifier" in self.__dict__:
            self.identifier.close()
        if "catalog" in self.__dict__:
            self.catalog.close()

    def __enter__(self) -> "ArchiveContext":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

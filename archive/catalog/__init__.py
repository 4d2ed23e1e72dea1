"""The catalog: an SQL index of everything in storage (rebuildable from storage alone)."""

from archive.catalog.repository import Catalog, PackageSummary

__all__ = ["Catalog", "PackageSummary"]

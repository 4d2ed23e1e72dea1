"""The catalog: an SQL index of everything in storage (rebuildable from storage alone)."""

from archive.catalog.records import PackageInfo
from archive.catalog.repository import Catalog

__all__ = ["Catalog", "PackageInfo"]

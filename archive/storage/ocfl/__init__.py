"""OCFL 1.1 objects, one per package: a storage root, versions written crash-safe, reads verified."""

from archive.storage.ocfl.inventory import User, VersionInfo, ocfl_time, parse_ocfl_time
from archive.storage.ocfl.root import OcflRoot
from archive.storage.ocfl.writing import VersionConflict

__all__ = ["OcflRoot", "User", "VersionConflict", "VersionInfo", "ocfl_time", "parse_ocfl_time"]

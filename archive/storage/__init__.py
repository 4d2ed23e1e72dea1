"""Where packages live: local folders, write-once, with atomic commits."""

from archive.storage.local import LocalStorage, package_relpath

__all__ = ["LocalStorage", "package_relpath"]

"""Write checked archive members into the extraction folder, and take them back on refusal.

Only names :mod:`archive.submission.members` accepted reach here, as keys (``a/b/c.txt``: no
``..``, no absolute path, no empty part). Folders are made one ``mkdir`` at a time without
recursion (``Path.mkdir(parents=True)`` recurses once per missing level), an existing entry on
the way must be a real folder (never a link), and a file is created with ``O_EXCL |
O_NOFOLLOW``: nothing is overwritten and nothing is written through a link. The extraction
folder starts empty, so a refused archive is taken back by emptying it with the archive's one
tree removal (:func:`archive.tree_removal.remove_tree`: no recursion, links never entered).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, cast

from archive.submission.members import Limits
from archive.tree_removal import remove_tree

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Budget:
    """The bytes still allowed to be written: the total limit and the whole archive's ratio."""

    def __init__(self, limits: Limits, archive_size: int) -> None:
        self.limits = limits
        self.archive_size = archive_size
        self.total_left = limits.max_bytes
        bound = limits.ratio_bound(archive_size)
        self.ratio_left = bound

    def take(self, n: int) -> tuple[str, str] | None:
        """Spend ``n`` bytes; (code, message) once a limit is passed."""
        self.total_left -= n
        if self.total_left < 0:
            return "E125", f"expands beyond the limit of {self.limits.max_bytes} bytes on a submission's size"
        if self.ratio_left is not None:
            self.ratio_left -= n
            if self.ratio_left < 0:
                return "E128", (
                    f"expands beyond {self.limits.max_expansion_ratio}:1 of the archive's "
                    f"{self.archive_size} bytes while extracting (setting max_expansion_ratio): "
                    "a compression bomb"
                )
        return None


class Tree:
    """The extraction folder (empty when extraction starts)."""

    def __init__(self, dest: Path) -> None:
        self.root = os.fspath(dest)

    def _path(self, parts: list[str]) -> str:
        return self.root + "/" + "/".join(parts)

    @staticmethod
    def _must_be_folder(path: str) -> None:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise FileExistsError(errno.EEXIST, "exists and is not a folder", path)

    def make_dirs(self, parts: list[str]) -> None:
        """Make the folder ``parts`` and any missing above it: up until one can be made, then down."""
        depth = len(parts)
        while depth > 0:
            path = self._path(parts[:depth])
            try:
                os.mkdir(path, 0o755)
            except FileNotFoundError:
                depth -= 1
                continue
            except FileExistsError:
                self._must_be_folder(path)
            break
        for below in range(depth + 1, len(parts) + 1):
            os.mkdir(self._path(parts[:below]), 0o755)

    def new_file(self, parts: list[str]) -> BinaryIO:
        """A new, empty regular file at ``parts`` (its folder made first), open for writing."""
        self.make_dirs(parts[:-1])
        path = self._path(parts)
        fd = os.open(path, _NEW_FILE, 0o644)
        return cast(BinaryIO, os.fdopen(fd, "wb"))

    def discard(self) -> None:
        """Remove everything made here: the folder is left as empty as extraction found it."""
        with os.scandir(self.root) as entries:
            names = [entry.name for entry in entries]
        for name in names:
            try:
                remove_tree(os.path.join(self.root, name))
            except OSError:
                pass  # inside a staging folder: removed with it

"""Remove a folder tree of any depth: no recursion, links removed and never followed.

``shutil.rmtree`` recurses once per level, so a tree deeper than the interpreter's recursion
limit (a real 1,000-level transfer) raises ``RecursionError`` half-way and leaves the rest.
This walks holding one folder descriptor at a time (``..`` leads back up) and removes entries
relative to it (``dir_fd``), so neither the depth nor the length of the full path matters, and
a symbolic link is unlinked as a name, never entered. Shared by storage (staging, rollback),
extraction (a refused archive) and export.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["remove_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _is_dir(name: str, parent_fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(name, dir_fd=parent_fd).st_mode)
    except FileNotFoundError:
        return False


def remove_tree(path: str | os.PathLike[str], missing_ok: bool = True) -> None:
    """Remove ``path`` and everything below it; a file or link at ``path`` is unlinked.

    Raises ``OSError`` for the first entry that cannot be removed (after removing what it can
    reach); never ``RecursionError``.
    """
    path = Path(path)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    if not stat.S_ISDIR(mode):
        path.unlink()
        return
    parent_fd = os.open(path.parent, _DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        _remove_below(parent_fd, path.name)
    finally:
        os.close(parent_fd)


def _remove_below(top_parent_fd: int, top_name: str) -> None:
    """Empty and remove the folder ``top_name`` of ``top_parent_fd``, depth-first with a stack.

    Only the current folder is held open (".." leads back up: nothing on the way was a link),
    so the depth is bounded by nothing but the file system. Each folder is listed once: its
    files are unlinked and its subfolders remembered, then visited one by one.
    """
    cur = os.dup(top_parent_fd)
    frames: list[tuple[str, list[str]]] = []

    def enter(name: str) -> None:
        nonlocal cur
        child = os.open(name, _DIR_FLAGS, dir_fd=cur)
        os.close(cur)
        cur = child
        folders: list[str] = []
        with os.scandir(cur) as entries:
            for entry in entries:
                if _is_dir(entry.name, cur):
                    folders.append(entry.name)
                else:
                    try:
                        os.unlink(entry.name, dir_fd=cur)
                    except FileNotFoundError:
                        pass
        frames.append((name, folders))

    try:
        enter(top_name)
        while frames:
            name, pending = frames[-1]
            if pending:
                enter(pending.pop())
                continue
            parent = os.open("..", _DIR_FLAGS, dir_fd=cur)
            os.close(cur)
            cur = parent
            frames.pop()
            try:
                os.rmdir(name, dir_fd=cur)
            except FileNotFoundError:
                pass
    finally:
        os.close(cur)

"""The one way in: every file of a submission is listed and opened through this module.

``open_regular`` opens a file without following a link (``O_NOFOLLOW``), without blocking on a
FIFO (``O_NONBLOCK``; and ``lstat`` first, so a device is never opened at all), refuses anything
but a regular file from ``fstat``, checks its size against a limit before a byte is read, and
returns a stream that reads at most the bytes the file had when it was opened: a file that
grows meanwhile is refused. ``read_bounded`` reads a whole small file that way, in chunks.
``walk_tree`` lists a folder tree without recursion and without following links; each folder
is opened with ``O_NOFOLLOW | O_DIRECTORY`` and must be the very folder (device, inode) its
parent listed, so a folder swapped for a link while the walk runs is noticed, never entered.

Every problem is an :class:`UnsafeFile` carrying one :class:`~archive.errors.Finding` that
names the file (escaped by :func:`printable`) and says what was wrong. It never carries a
byte of the file, and no ``OSError`` leaves this module.

Codes: ``E137`` a symbolic link, ``E138`` a FIFO, socket, device or folder where a file was
expected, ``E139`` missing or unreadable, ``E141`` replaced or grown while being read,
``E142`` larger than the limit for its kind. Callers may report the same problem under a code
of their own (``UnsafeFile.reason`` is the message without the path).
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast

from archive.errors import Finding, SubmissionRejected, error

__all__ = [
    "CHUNK",
    "TreeEntry",
    "UnsafeFile",
    "kind_of",
    "lexists_regular",
    "open_regular",
    "printable",
    "read_bounded",
    "walk_tree",
]

#: bytes read per step
CHUNK = 1024 * 1024
_FILE_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)
_DIR_FLAGS = _FILE_FLAGS | getattr(os, "O_DIRECTORY", 0)

Identity = tuple[int, int]  # (st_dev, st_ino)


def printable(text: str) -> str:
    """``text`` safe to show anywhere: undecodable bytes, control and format characters escaped.

    ``café.txt`` stays as it is; ``a\\x1b[2Jb`` (a terminal escape), a line break, a
    right-to-left override or a byte that is not UTF-8 come out as Python escapes.
    """
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class UnsafeFile(SubmissionRejected):
    """A file of a submission was refused: ``finding`` says which and why.

    ``kind`` is one of ``link``, ``special`` (FIFO, socket, device, folder), ``unreadable``,
    ``changed`` (replaced, or grew while read) and ``too-large``.
    """

    code = "E112"

    def __init__(self, kind: str, code: str, label: str, reason: str) -> None:
        self.kind, self.reason = kind, reason
        self.finding: Finding = error(code, printable(label), reason)
        super().__init__(f"{self.finding.path or 'file'} was refused", [self.finding])

    def as_finding(self, code: str | None = None, label: str | None = None) -> Finding:
        """The finding, under another ``code`` or ``label`` if given."""
        return error(code or self.finding.code, self.finding.path if label is None else printable(label), self.reason)


def kind_of(mode: int) -> str:
    """``file``, ``folder``, ``link``, ``fifo``, ``socket``, ``device`` or ``other``."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


_WHAT = {
    "folder": "a folder",
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "device": "a device file",
    "other": "a special file",
}


def _refuse_unless_regular(mode: int, label: str) -> None:
    kind = kind_of(mode)
    if kind == "link":
        raise UnsafeFile("link", "E137", label, "is a symbolic link; links are not followed or accepted")
    if kind != "file":
        raise UnsafeFile("special", "E138", label, f"is {_WHAT[kind]}, not a regular file; it is not opened")


def _unreadable(exc: OSError, label: str) -> UnsafeFile:
    if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link (it appeared after the lstat)
        return UnsafeFile("link", "E137", label, "is a symbolic link; links are not followed or accepted")
    if exc.errno == errno.ENOENT:
        return UnsafeFile("unreadable", "E139", label, "does not exist (any more)")
    return UnsafeFile("unreadable", "E139", label, f"cannot be read: {exc.strerror or type(exc).__name__}")


class _Reader(io.FileIO):
    """A read-only file that yields at most the ``size`` bytes it had when opened; a byte more
    means it grew while being read, and is refused (:class:`UnsafeFile`, ``E141``)."""

    def __init__(self, fd: int, size: int, label: str) -> None:
        super().__init__(fd, "rb", closefd=True)
        self._left, self._size, self._label = size, size, label

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        try:
            if self._left > 0:
                n = super().readinto(view[: min(len(view), self._left)]) or 0
                self._left -= n
                return n  # 0: the file shrank; the caller sees fewer bytes than listed
            more = super().read(1)
        except OSError as exc:
            raise _unreadable(exc, self._label) from None
        if more:
            raise UnsafeFile(
                "changed", "E141", self._label, f"grew while being read (it had {self._size} bytes when opened)"
            )
        return 0

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that are left if ``size`` is negative), read in chunks."""
        parts, wanted = [], -1 if size is None or size < 0 else size
        while wanted:
            buffer = bytearray(CHUNK if wanted < 0 else min(wanted, CHUNK))
            n = self.readinto(buffer)
            if not n:
                break
            parts.append(bytes(buffer[:n]) if n < len(buffer) else bytes(buffer))
            wanted = wanted - n if wanted > 0 else wanted
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)


def open_regular(
    path: str | os.PathLike[str], label: str, *, limit: int | None = None, identity: Identity | None = None
) -> BinaryIO:
    """``path`` opened for reading as an unbuffered binary stream, if it is a regular file.

    ``label`` names the file in findings (it is escaped). ``limit``: largest size accepted,
    judged from ``fstat`` before anything is read (``E142``). ``identity``: the (device, inode)
    the file had when it was listed (:attr:`TreeEntry.identity`); another file there now is
    refused (``E141``), which also catches a folder on the way swapped for a link. Raises
    :class:`UnsafeFile`, never ``OSError``; the stream raises it too if the file grows.
    """
    try:
        _refuse_unless_regular(os.lstat(path).st_mode, label)  # a device is never even opened
        fd = os.open(path, _FILE_FLAGS)
    except OSError as exc:
        raise _unreadable(exc, label) from None
    try:
        st = os.fstat(fd)
        _refuse_unless_regular(st.st_mode, label)  # swapped between lstat and open
        if identity is not None and (st.st_dev, st.st_ino) != tuple(identity):
            raise UnsafeFile("changed", "E141", label, "was replaced by another file since it was listed")
        if limit is not None and st.st_size > limit:
            raise UnsafeFile(
                "too-large",
                "E142",
                label,
                f"is {st.st_size} bytes, more than the {limit} bytes accepted for it; it is not read",
            )
        return cast(BinaryIO, _Reader(fd, st.st_size, label))
    except BaseException as exc:
        os.close(fd)
        if isinstance(exc, OSError):
            raise _unreadable(exc, label) from None
        raise


def read_bounded(path: str | os.PathLike[str], limit: int, label: str, *, identity: Identity | None = None) -> bytes:
    """The whole content of a regular file of at most ``limit`` bytes, read in chunks.

    Refused from its size alone when larger (never read), and refused if it grows while read.
    Raises :class:`UnsafeFile`, never ``OSError``.
    """
    with open_regular(path, label, limit=limit, identity=identity) as stream:
        return stream.read()


class TreeEntry(NamedTuple):
    """One entry of a tree listed by :func:`walk_tree`, looked at without following links."""

    rel: str  #: '/'-separated path below the walk's root, as on disk (not normalised)
    path: str  #: where it is (the root joined with ``rel``)
    depth: int  #: 0 for the root's own entries, 1 for theirs, ...
    kind: str  #: ``file``, ``folder``, ``link``, ``fifo``, ``socket``, ``device``, ``other``, or ``unreadable``
    size: int = 0
    nlink: int = 1
    identity: Identity = (0, 0)
    error: str = ""  #: for ``unreadable``: why the folder ``rel`` could not be listed

    @property
    def name(self) -> str:
        return self.rel.rpartition("/")[2]


class _Unlistable(Exception):
    pass


def _list(path: str, prefix: str, depth: int, identity: Identity | None) -> list[TreeEntry]:
    """The entries of the folder ``path``, sorted by name; it must be ``identity`` if given."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _Unlistable("was replaced by a link or a file while being read") from None
        raise _Unlistable(f"cannot read folder: {exc.strerror or type(exc).__name__}") from None
    try:
        st = os.fstat(fd)
        if identity is not None and (st.st_dev, st.st_ino) != identity:
            raise _Unlistable("was replaced by another folder while being read")
        entries = []
        base = path if path.endswith(os.sep) else path + os.sep
        with os.scandir(fd) as listing:
            for item in listing:
                s = item.stat(follow_symlinks=False)
                entries.append(
                    TreeEntry(
                        prefix + item.name,
                        base + item.name,
                        depth,
                        kind_of(s.st_mode),
                        s.st_size,
                        s.st_nlink,
                        (s.st_dev, s.st_ino),
                    )
                )
    except OSError as exc:
        raise _Unlistable(f"cannot read folder: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(fd)
    entries.sort(key=lambda e: e.rel)
    return entries


def walk_tree(
    root: str | os.PathLike[str], descend: Callable[[TreeEntry], bool] = lambda entry: True
) -> Iterator[TreeEntry]:
    """Every entry below ``root``, depth first, sorted by name in each folder, without recursion.

    Links are reported (kind ``link``), never followed. A folder is yielded, then ``descend``
    decides whether its entries follow. A folder that cannot be listed, or that is not the
    folder its parent listed any more, is followed by an entry of kind ``unreadable`` with the
    same ``rel`` and the reason in ``error`` (``rel`` ``""`` for the root itself). ``root``
    itself may be reached through a link: the caller named it.
    """
    base = os.fspath(root)
    try:
        stack = [iter(_list(base, "", 0, None))]
    except _Unlistable as exc:
        yield TreeEntry("", base, 0, "unreadable", error=str(exc))
        return
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        yield entry
        if entry.kind == "folder" and descend(entry):
            try:
                stack.append(iter(_list(entry.path, entry.rel + "/", entry.depth + 1, entry.identity)))
            except _Unlistable as exc:
                yield TreeEntry(entry.rel, entry.path, entry.depth, "unreadable", error=str(exc))


def lexists_regular(path: Path) -> bool:
    """True if ``path`` is a regular file itself (not a link to one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False

"""Read .7z submissions with py7zr, within the same checks as zips and tars.

py7zr (pure Python, LGPL) parses the archive's header into a list of members; the archive's own
rules judge that list (``members.check_members``) before anything is unpacked. Unpacking goes
through a writer factory, so py7zr itself never creates a file, a folder or a link: each member
py7zr decompresses is written by :class:`~archive.submission.writing.Tree` to the path the
listing checked, counting every byte against the member's declared size and the archive's
budgets. The decision and what py7zr guarantees are in docs/decisions/0006-archive-formats.md.

Refused besides what every format refuses: encryption of the data or of the header (``E120``);
a compressed list of files that would expand past the ratio (``E128``, :func:`header_bomb`);
a compression block that would need more than :data:`MAX_CODER_MEMORY` to unpack (an LZMA or
LZMA2 dictionary, a PPMd model: the memory is allocated before the first byte, ``E120``);
attributes that say both folder and file (``E120``).
"""

from __future__ import annotations

import io
import os
import stat
import struct
from pathlib import Path
from typing import Any, BinaryIO, cast

import py7zr
import py7zr.exceptions
from py7zr.io import Py7zIO, WriterFactory

from archive.errors import Finding, error
from archive.submission.members import Member, member_key
from archive.submission.scan import printable
from archive.submission.writing import Budget, Tree

#: the most memory one compression block may need to be unpacked (7-Zip's own ultra level uses 64 MiB)
MAX_CODER_MEMORY = 1 << 30
_LZMA, _LZMA2, _PPMD = b"\x03\x01\x01", b"\x21", b"\x03\x04\x01"


class SevenZipUnreadable(Exception):
    """The archive cannot be listed (E120)."""


#: a compressed list of files may always expand this far (a transfer of a million files lists ~100 MB)
HEADER_GRACE_BYTES = 16 << 20


def header_bomb(fh: BinaryIO, size: int, max_expansion_ratio: int) -> str | None:
    """Why the archive's compressed list of files would expand too far to be read, or None.

    py7zr decodes that list into memory before anything can be checked (up to 256 MiB and
    8 million entries of its own limits); the ratio is judged first, from the few bytes that
    declare it. Anything unexpected is left to py7zr, whose own limits still hold.
    """
    if not max_expansion_ratio:
        return None
    try:
        from py7zr.archiveinfo import HeaderStreamsInfo, SignatureHeader

        fh.seek(0)
        if fh.read(6) != b"7z\xbc\xaf\x27\x1c":
            return None
        signature = SignatureHeader.retrieve(fh)
        start = 32 + signature.nextheaderofs
        if not 0 < signature.nextheadersize <= size - start:
            return None
        fh.seek(start)
        if fh.read(1) != b"\x17":  # a plain (not encoded) list is no bigger than it is
            return None
        streams = HeaderStreamsInfo.retrieve(io.BytesIO(fh.read(min(signature.nextheadersize, 1 << 20))))
        decoded = sum(int(folder.unpacksizes[-1]) for folder in streams.unpackinfo.folders)
        packed = sum(int(p) for p in streams.packinfo.packsizes)
    except Exception:
        return None
    finally:
        fh.seek(0)
    if decoded > max(max_expansion_ratio * packed, HEADER_GRACE_BYTES):
        return (
            f"its compressed list of files expands from {packed} to {decoded} bytes, more than "
            f"{max_expansion_ratio}:1 (setting max_expansion_ratio): a compression bomb"
        )
    return None


def open_7z(fh: BinaryIO, max_bytes: int) -> py7zr.SevenZipFile:
    """The archive, its header parsed. ``fh`` is passed in (not a path), so py7zr never starts threads."""
    try:
        return py7zr.SevenZipFile(fh, mode="r", max_extract_size=max_bytes)
    except py7zr.exceptions.PasswordRequired:
        raise SevenZipUnreadable(
            "is encrypted, its list of files too; the archive takes no passwords, submit it unencrypted"
        ) from None
    except Exception as exc:  # py7zr parses hostile bytes and may fail with anything (struct, index, assertion)
        raise SevenZipUnreadable(f"cannot read the archive: {type(exc).__name__}: {exc}") from exc


def _coder_memory(method: bytes, props: bytes) -> tuple[str, int] | None:
    if method == _LZMA and len(props) >= 5:
        return "LZMA dictionary", struct.unpack_from("<L", props, 1)[0]
    if method == _LZMA2 and props:
        code = props[0]
        return "LZMA2 dictionary", 0xFFFFFFFF if code >= 40 else (2 | (code & 1)) << (code // 2 + 11)
    if method == _PPMD and len(props) >= 5:
        return "PPMd model", struct.unpack_from("<L", props, 1)[0]
    return None


def _archive_problems(szf: py7zr.SevenZipFile) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if szf.needs_password():
        problems.append(("E120", "is encrypted; the archive takes no passwords, submit it unencrypted"))
    try:
        streams = getattr(szf.header, "main_streams", None)
        folders = streams.unpackinfo.folders if streams is not None else []
        for folder in folders:
            for coder in folder.coders:
                need = _coder_memory(bytes(coder.get("method") or b""), bytes(coder.get("properties") or b""))
                if need and need[1] > MAX_CODER_MEMORY:
                    problems.append(
                        (
                            "E120",
                            (
                                f"a compression block needs {need[1] >> 20} MiB to unpack ({need[0]}); "
                                f"the archive unpacks with at most {MAX_CODER_MEMORY >> 20} MiB: "
                                "compress it again with a smaller dictionary"
                            ),
                        )
                    )
    except (AttributeError, TypeError, IndexError, struct.error) as exc:
        problems.append(("E120", f"cannot read the archive's compression settings: {exc}"))
    return problems


def _kind(f: Any) -> tuple[str, str | None]:
    """(kind, problem) of a py7zr ``ArchiveFile``."""
    if f.is_symlink or f.is_junction:
        return "symlink", None
    fmt = f.st_fmt  # from the Unix mode, when the archive stores one
    if fmt is None:
        return ("dir" if f.is_directory else "file"), None
    if stat.S_ISDIR(fmt) != bool(f.is_directory):
        return "other", "archive member's attributes say both folder and file"
    if stat.S_ISDIR(fmt):
        return "dir", None
    if stat.S_ISREG(fmt):
        return "file", None
    if stat.S_ISCHR(fmt) or stat.S_ISBLK(fmt):
        return "device", None
    return ("fifo" if stat.S_ISFIFO(fmt) else "other"), None


def list_7z(szf: py7zr.SevenZipFile) -> tuple[list[Member], list[tuple[str, str]]]:
    """Every member, and problems of the whole archive."""
    members: list[Member] = []
    for f in szf.files:
        kind, problem = _kind(f)
        packed = None
        if f.folder is not None:
            packed = sum(cast(list[int], f.file_properties().get("packsizes") or [0]))
        m = Member(str(f.filename), kind, int(f.uncompressed or 0), packed=packed, block=f.folder)
        if problem:
            m.problems.append(("E120", problem))
        elif kind == "dir" and not f.emptystream:
            m.problems.append(("E120", "archive member is a folder entry holding data"))
        members.append(m)
    return members, _archive_problems(szf)


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class _Writer(Py7zIO):
    """Where py7zr writes one member: counted, bounded, into the file the listing checked."""

    def __init__(self, out: BinaryIO, member: Member, budget: Budget) -> None:
        self.out, self.member, self.budget = out, member, budget
        self.written = 0

    def write(self, s: bytes | bytearray) -> int:
        self.written += len(s)
        if self.written > self.member.size:
            raise _Refused("E120", f"archive member holds more than the {self.member.size} bytes it declares")
        problem = self.budget.take(len(s))
        if problem:
            raise _Refused(*problem)
        self.out.write(s)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        raise _Refused("E120", "archive member is unpacked twice")

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self.out.flush()

    def size(self) -> int:
        return self.written

    def close(self) -> None:
        self.out.close()


class _Factory(WriterFactory):
    def __init__(self, root: str, plan: dict[str, Member], tree: Tree, budget: Budget) -> None:
        self.root, self.plan, self.tree, self.budget = root, plan, tree, budget
        self.writers: dict[str, _Writer] = {}
        self.current: Member | None = None

    def create(self, filename: str) -> Py7zIO:
        key = member_key(filename[len(self.root) + 1 :]) if filename.startswith(self.root + "/") else ""
        member = self.plan.get(key)
        if member is None or key in self.writers:
            raise _Refused(
                "E120",
                f"py7zr asked to write {printable(filename)!r}, which the checked listing does "
                "not hold (or holds once)",
            )
        self.current = member
        writer = _Writer(self.tree.new_file(key.split("/")), member, self.budget)
        self.writers[key] = writer
        return writer


def extract_7z(szf: py7zr.SevenZipFile, members: list[Member], tree: Tree, budget: Budget) -> list[Finding]:
    """Unpack the checked ``members`` into ``tree``; findings (then the caller discards the tree)."""
    plan = {member_key(m.name): m for m in members if m.kind == "file"}
    for m in members:
        if m.kind == "dir" and member_key(m.name):
            tree.make_dirs(member_key(m.name).split("/"))
    root = os.path.abspath(tree.root)
    factory = _Factory(Path(root).as_posix(), plan, tree, budget)
    shown = printable(szf.filename or "archive")
    try:
        szf.extractall(path=Path(root), factory=factory)
    except _Refused as exc:
        return [error(exc.code, _who(factory, shown), exc.message)]
    except py7zr.exceptions.CrcError:
        return [error("E120", _who(factory, shown), "archive member fails its CRC check: the archive is damaged")]
    except py7zr.exceptions.DecompressionBombError as exc:
        return [error("E125", _who(factory, shown), f"expands beyond the limit on a submission's size: {exc}")]
    except (FileExistsError, NotADirectoryError):
        return [error("E126", _who(factory, shown), "archive member's path is both a file and a folder")]
    except OSError as exc:
        return [error("E120", _who(factory, shown), f"cannot extract: {exc.strerror or exc}")]
    except Exception as exc:
        return [error("E120", _who(factory, shown), f"cannot extract: {type(exc).__name__}: {exc}")]
    finally:
        for writer in factory.writers.values():
            if not writer.out.closed:
                writer.out.close()
    missing = [m for key, m in plan.items() if key not in factory.writers]
    short = [w.member for w in factory.writers.values() if w.written != w.member.size]
    return [error("E120", printable(m.name), "archive member was not unpacked by py7zr") for m in missing] + [
        error("E120", printable(m.name), f"archive member holds fewer bytes than the {m.size} it declares")
        for m in short
    ]


def _who(factory: _Factory, fallback: str) -> str:
    return printable(factory.current.name) if factory.current is not None else fallback

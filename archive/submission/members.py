"""Check an archive's members from its listing, before a byte of them is extracted.

Every archive format (zip, tar, 7z) is read into the same :class:`Member` records, the names
exactly as the archive holds them, and judged here by one set of rules:

* the name: no NUL, no absolute path or drive letter, no ``..``, not empty (E121); no control
  characters and nothing that is not UTF-8 (E131, E130: the rule of ``scan.name_problem``);
* the kind: links (E122), devices, FIFOs and other special members (E123), encryption (E120);
* where it goes: no two members written to the same path after the normalisation used to
  write them (``\\`` -> ``/``, empty and ``.`` parts dropped, then Unicode NFC), no file
  where another member needs a folder (E126); no deeper than ``max_depth`` folders, no path
  longer than ``max_path_bytes`` and no single name longer than 255 bytes (E129);
* how much: the files (E124), the members of any kind (E124), the declared expanded bytes
  (E125) and the expansion ratio, of the whole archive and of each compressed member or
  block (E128).

Nothing here recurses, whatever the depth of a name.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from archive.errors import Finding, error
from archive.submission.scan import MAX_DEPTH, MAX_PATH_BYTES, name_problem, printable

#: a member or archive may always expand to this many bytes, whatever its ratio: a small file
#: of zeros compresses a thousand times and is no bomb
RATIO_GRACE_BYTES = 1 << 20
#: the longest single name (path component) that common file systems store
MAX_NAME_BYTES = 255
_DRIVE = re.compile(r"[A-Za-z]:")
#: what ``scan.name_problem`` refuses, found in one pass (it is called only when this matches, with
#: the same verdict: the per-character loop there is quadratic over a thousand deep names)
_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_LONG_NAME = re.compile(rb"[^/]{%d}" % (MAX_NAME_BYTES + 1))


@dataclass
class Limits:
    """What an archive may hold. ``max_expansion_ratio`` 0 is no ratio limit (the total still applies)."""

    max_bytes: int
    max_files: int
    max_expansion_ratio: int = 0
    max_depth: int = MAX_DEPTH
    max_path_bytes: int = MAX_PATH_BYTES

    @property
    def max_members(self) -> int:
        """Members of any kind (folders, links, ...) listed before the listing is refused."""
        return 2 * self.max_files + 10_000

    def ratio_bound(self, packed: int) -> int | None:
        """The most bytes ``packed`` compressed bytes may expand to, or None without a ratio limit."""
        if not self.max_expansion_ratio:
            return None
        return max(self.max_expansion_ratio * packed, RATIO_GRACE_BYTES)


@dataclass
class Member:
    """One archive member as its archive lists it."""

    name: str  # as the archive holds it; bytes that are not UTF-8 are kept as surrogate escapes
    kind: str  # file, dir, symlink, hardlink, device, fifo, sparse, other
    size: int  # declared expanded size
    packed: int | None = None  # compressed bytes of its block (a zip member; a 7z solid block), if known
    block: object = None  # members sharing one compressed block (7z); None: the member is its own
    encrypted: bool = False
    opener: Callable[[], BinaryIO] | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (code, message) the format found


def member_path_problem(name: str) -> str | None:
    """Why an archive member name is unsafe to write anywhere, or None."""
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "is an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "climbs out of the submission with '..'"
    return None


def member_key(name: str) -> str:
    """The relative path a member is written to: ``\\`` -> ``/``, empty and ``.`` parts dropped."""
    path = name.replace("\\", "/")
    if not ("//" in path or "/./" in path or path.startswith(("/", "./")) or path.endswith(("/", "/.")) or path == "."):
        return path  # already in shape: no per-part loop over a thousand levels
    return "/".join(p for p in path.split("/") if p not in ("", "."))


def listed(members: Iterable[Member], limits: Limits, archive_size: int) -> list[Member]:
    """The members, up to and including the one that takes a count, the declared size or the
    whole archive's ratio over its limit: what follows it is never read (a .tar.gz is listed
    by inflating it, and a bomb's gigabytes are not inflated just to be refused)."""
    out: list[Member] = []
    declared = files = 0
    bound = limits.ratio_bound(archive_size)
    for m in members:
        out.append(m)
        if m.kind == "file":
            files += 1
            declared += max(m.size, 0)
        if (
            files > limits.max_files
            or len(out) > limits.max_members
            or declared > limits.max_bytes
            or (bound is not None and declared > bound)
        ):
            break
    return out


def _ratio(expanded: int, packed: int) -> str:
    return f"{expanded / packed:,.0f}:1" if packed else "unbounded"


def check_members(members: list[Member], limits: Limits, label: str, archive_size: int) -> list[Finding]:
    """Every problem of the listed members, all at once (empty: safe to extract)."""
    out: list[Finding] = []
    where: dict[str, tuple[str, str]] = {}  # NFC key -> (kind, shown name) of its first member
    too_deep: dict[str, list[int]] = {}  # the first folder past the limit -> [members, deepest]
    blocks: dict[int, list[int]] = {}  # id(block) -> [expanded, packed, members]
    block_names: dict[int, str] = {}
    files = declared = 0
    for m in members:
        shown = printable(m.name) or "(no name)"
        out.extend(error(code, shown, message) for code, message in m.problems)
        key = member_key(m.name)
        problem = member_path_problem(m.name)
        if problem is None and not key and (m.kind != "dir" or not m.name):
            problem = "has no name" if not m.name else "names no file (only separators or '.')"
        if problem:
            out.append(error("E121", shown, f"archive member {problem}"))
        else:
            named = name_problem(m.name) if _SUSPECT.search(m.name) else None
            if named:
                out.append(error(named[0], shown, f"archive member's {named[1]}"))
            elif key:
                out.extend(_placement(m, key, shown, limits, where, too_deep))
        if m.kind in ("symlink", "hardlink"):
            out.append(
                error(
                    "E122",
                    shown,
                    f"archive member is a {'hard link' if m.kind == 'hardlink' else 'symbolic link'}; "
                    "links are not accepted",
                )
            )
        elif m.kind in ("device", "fifo", "sparse", "other"):
            kind = {
                "device": "device file",
                "fifo": "FIFO (named pipe)",
                "sparse": "sparse file (tar --sparse), which the archive does not unpack: submit it without",
            }.get(m.kind, "special member, not a regular file")
            out.append(error("E123", shown, f"archive member is a {kind}"))
        if m.encrypted:
            out.append(
                error(
                    "E120", shown, "archive member is encrypted; the archive takes no passwords, submit it unencrypted"
                )
            )
        if m.kind == "file":
            files += 1
            declared += max(m.size, 0)
        if m.packed is not None:
            tally = blocks.setdefault(id(m.block) if m.block is not None else id(m), [0, m.packed, 0])
            tally[0] += max(m.size, 0)
            tally[2] += 1
            block_names.setdefault(id(m.block) if m.block is not None else id(m), shown)
    for prefix, (count, deepest) in too_deep.items():
        out.append(
            error(
                "E129",
                printable(prefix) + "/…",
                f"{count} archive member(s) are nested more than {limits.max_depth} folders deep "
                f"(the deepest {deepest}; setting max_depth)",
            )
        )
    out.extend(_clashes(where))
    if files > limits.max_files:
        out.append(error("E124", printable(label), f"holds more than {limits.max_files} files, the limit"))
    elif len(members) > limits.max_members:
        out.append(
            error(
                "E124",
                printable(label),
                f"lists more than {limits.max_members} members (folders, links "
                f"and files), the limit for {limits.max_files} files",
            )
        )
    if declared > limits.max_bytes:
        out.append(
            error(
                "E125",
                printable(label),
                f"expands to at least {declared} bytes, as its members declare; the limit is {limits.max_bytes}",
            )
        )
    bound = limits.ratio_bound(archive_size)
    if bound is not None and declared > bound:
        out.append(
            error(
                "E128",
                printable(label),
                f"expands from {archive_size} to at least {declared} bytes "
                f"({_ratio(declared, archive_size)}), as its members declare; the limit is "
                f"{limits.max_expansion_ratio}:1 (setting max_expansion_ratio): a compression bomb",
            )
        )
    for block_id, (expanded, packed, count) in blocks.items():
        bound = limits.ratio_bound(packed)
        if bound is not None and expanded > bound:
            what = "archive member" if count == 1 else f"compressed block of this and {count - 1} more member(s)"
            out.append(
                error(
                    "E128",
                    block_names[block_id],
                    f"{what} expands from {packed} to {expanded} bytes "
                    f"({_ratio(expanded, packed)}); the limit is {limits.max_expansion_ratio}:1 "
                    "(setting max_expansion_ratio): a compression bomb",
                )
            )
    return out


def _placement(
    m: Member, key: str, shown: str, limits: Limits, where: dict[str, tuple[str, str]], too_deep: dict[str, list[int]]
) -> Iterator[Finding]:
    """Depth, length and duplicates of one member whose name is otherwise clean."""
    parts = key.split("/")
    folders = len(parts) if m.kind == "dir" else len(parts) - 1
    if folders > limits.max_depth:
        tally = too_deep.setdefault("/".join(parts[: limits.max_depth + 1]), [0, 0])
        tally[0] += 1
        tally[1] = max(tally[1], folders)
        return
    nfc = unicodedata.normalize("NFC", key)
    length = len(nfc.encode("utf-8"))
    if length > limits.max_path_bytes:
        yield error(
            "E129",
            shown[:120] + "…",
            f"archive member's path is {length} bytes long; the limit is "
            f"{limits.max_path_bytes} (setting max_path_bytes)",
        )
        return
    if length > MAX_NAME_BYTES and _LONG_NAME.search(nfc.encode("utf-8")):
        yield error(
            "E129",
            shown[:120] + "…",
            f"archive member's path holds a name longer than {MAX_NAME_BYTES} bytes, more than file systems store",
        )
        return
    kind = "dir" if m.kind == "dir" else "file"
    if nfc not in where:
        where[nfc] = (kind, shown)
        return
    first_kind, first = where[nfc]
    if kind == "dir" and first_kind == "dir":
        return  # the same folder listed twice: nothing to choose between
    same = "" if first == shown else f" (as {first!r}, the same path once written: separators, '.' and NFC)"
    if kind != first_kind:
        yield error("E126", shown, f"archive member's path is both a file and a folder in the archive{same}")
    else:
        yield error("E126", shown, f"archive member appears twice{same}; which one to keep would be arbitrary")


def _clashes(where: dict[str, tuple[str, str]]) -> Iterator[Finding]:
    """A file (or link) whose path another member needs as a folder: sorted, so no ancestor sets."""
    keys = sorted(where)
    for key in keys:
        kind, shown = where[key]
        if kind == "dir":
            continue
        i = bisect.bisect_left(keys, key + "/")
        if i < len(keys) and keys[i].startswith(key + "/"):
            yield error(
                "E126",
                shown,
                f"archive member's path is both a file and a folder in the archive "
                f"({where[keys[i]][1]!r} is inside it)",
            )

"""Walk a submission folder read-only, never following links, and check every name.

The result lists the payload files (with NFC-normalised, '/'-separated paths), the metadata
files found beside the payload, a bag's tag files, and every problem as a Finding. The walk
(:func:`archive.submission.safeopen.walk_tree`) has no recursion and covers the whole tree: in a
bag, every entry beside ``data/`` too (``bag-info.txt``, manifests, ``fetch.txt``, tag folders
such as ``metadata/`` or ``logs/``), so a link, FIFO, socket or device anywhere is a finding
before anything is opened. Names in findings go through :func:`printable`, so no name can
drive a terminal.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archive.errors import FindingList
from archive.packaging.bag.paths import manifest_path_problem, tag_path_problem
from archive.submission.safeopen import TreeEntry, lexists_regular, open_regular, printable, walk_tree

__all__ = ["FILES_CSV", "METADATA_NAMES", "Scan", "ScannedFile", "name_problem", "printable", "scan_folder"]

METADATA_NAMES = ("metadata.yaml", "metadata.yml", "metadata.json")
FILES_CSV = "metadata/files.csv"
SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini", "._.DS_Store"}
#: the defaults of the settings ``max_depth`` and ``max_path_bytes``
MAX_DEPTH = 512
MAX_PATH_BYTES = 3072

_SPECIAL = {"fifo": "a FIFO", "socket": "a socket", "device": "a device file", "other": "a special file"}


class ScannedFile:
    """One file of the submission, as listed (a ``Path`` is made only when ``source`` is asked for,
    and a file listed by a scan keeps only its folder's shared prefix and its own name: a scan of a
    million files keeps no second copy of each path)."""

    __slots__ = ("_base", "_source", "identity", "original_name", "path", "size")

    def __init__(
        self,
        path: str,
        source: str | Path,
        size: int,
        original_name: str,
        identity: tuple[int, int] = (0, 0),
        base: str | None = None,
    ) -> None:
        self.path = path  # NFC, '/'-separated; relative to the payload root (a tag file: to the bag root)
        # where to read it: ``base + original_name`` when ``base`` is given (it is then not kept twice)
        self._base = base
        self._source = None if base is not None else str(source)
        self.size = size
        self.original_name = original_name  # as found on disk (may differ from path by normalisation)
        self.identity = identity  # (device, inode) when listed

    @property
    def _where(self) -> str:
        return self._source if self._base is None else self._base + self.original_name  # type: ignore[return-value]

    @property
    def source(self) -> Path:
        return Path(self._where)

    def __repr__(self) -> str:
        return f"ScannedFile(path={self.path!r}, size={self.size})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScannedFile) and (
            self.path,
            self._where,
            self.size,
            self.original_name,
            self.identity,
        ) == (other.path, other._where, other.size, other.original_name, other.identity)

    __hash__ = None  # type: ignore[assignment]

    def open(self) -> BinaryIO:
        """The file opened through the one way in (no link followed, never blocking, the very
        file that was listed, refused if it grows): raises ``safeopen.UnsafeFile``."""
        return open_regular(self._where, self.path, identity=self.identity if self.identity != (0, 0) else None)


@dataclass
class Scan:
    root: Path
    is_bag: bool
    payload_root: Path
    files: list[ScannedFile] = field(default_factory=list)
    metadata_file: Path | None = None
    files_csv: Path | None = None
    findings: FindingList = field(default_factory=FindingList)
    #: a bag's files that are not under ``data/``, relative to the bag root ('bag-info.txt',
    #: 'tagmanifest-sha256.txt', 'metadata/rights.csv', ...); empty for a folder that is no bag
    tag_files: list[ScannedFile] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def name_problem(name: str) -> tuple[str, str] | None:
    """(code, message) when a single path component is unacceptable, else None."""
    if _SURROGATE.search(name):  # os.fsdecode's escapes for bytes that are not UTF-8
        return "E130", "name is not valid UTF-8"
    if _CONTROL.search(name):
        bad = _CONTROL.findall(name)
        return "E131", f"name contains control character(s) {', '.join(repr(c) for c in bad)}"
    return None


def scan_folder(
    root: Path,
    max_files: int,
    is_bag: bool | None = None,
    *,
    max_depth: int = MAX_DEPTH,
    max_path_bytes: int = MAX_PATH_BYTES,
) -> Scan:
    """List and check the submission folder ``root`` (a bag if it holds a regular ``bagit.txt``).

    ``max_depth``: most folder levels below the payload root (a bag's tag folders: below the
    bag root); ``max_path_bytes``: longest path, in UTF-8 bytes. The walk stops once more than
    ``max_files`` files are found (``E124``)."""
    root = Path(root)
    if is_bag is None:
        is_bag = lexists_regular(root / "bagit.txt")
    scan = Scan(root=root, is_bag=is_bag, payload_root=root / "data" if is_bag else root)
    walker = _Walker(scan, max_files, max_depth, max_path_bytes)
    for entry in walk_tree(root, walker.descend):
        if not walker.add(entry):
            break
    walker.check_hard_links()
    out = scan.findings
    if is_bag and not walker.saw_data and not walker.stopped:
        out.error("E150", "data", "the bag has no data/ payload folder")
    elif not scan.files and not out.errors:
        out.error("E136", "", "the submission holds no files")
    return scan


class _Walker:
    """Judges each entry of the walk: payload, tag file, metadata file, or a finding."""

    def __init__(self, scan: Scan, max_files: int, max_depth: int, max_path_bytes: int) -> None:
        self.scan, self.out = scan, scan.findings
        self.max_files, self.max_depth, self.max_path_bytes = max_files, max_depth, max_path_bytes
        self.saw_data = self.stopped = False
        # per zone (payload, tag): NFC path -> name as found; case-folded path -> NFC path
        self.seen: dict[str, tuple[dict[str, str], dict[str, str]]] = {"payload": ({}, {}), "tag": ({}, {})}
        self.refused: set[str] = set()  # folders not entered
        # per zone: the prefix walk_tree gives the paths of its entries (one string shared by them all)
        root = os.path.join(os.fspath(scan.root), "")
        self.bases = {"payload": os.path.join(root, "data", "") if scan.is_bag else root, "tag": root}
        # (device, inode) of files with more than one name -> (their link count, the names seen here,
        # as findings name them: relative to the payload root, a bag's tag files to the bag root)
        self.linked: dict[tuple[int, int], tuple[int, list[str]]] = {}

    def _zone(self, entry: TreeEntry) -> tuple[str, str, int]:
        """(``payload`` or ``tag``, the path as on disk relative to the payload root (a tag file: to
        the bag root), the folder level of the entry's parent there)."""
        if not self.scan.is_bag:
            return "payload", entry.rel, entry.depth
        if entry.rel.startswith("data/"):
            return "payload", entry.rel[5:], entry.depth - 1
        return "tag", entry.rel, entry.depth

    def descend(self, entry: TreeEntry) -> bool:
        if entry.rel in self.refused:
            return False
        if self.scan.is_bag and entry.rel == "data":
            return True
        _zone, raw, level = self._zone(entry)
        if level + 1 > self.max_depth:
            self.out.error(
                "E134", printable(raw), f"folders are nested more than {self.max_depth} levels deep (setting max_depth)"
            )
            return False
        return True

    def _metadata(self, entry: TreeEntry) -> bool:
        """True if ``entry`` is the submission's descriptive metadata (it is then not payload)."""
        if entry.rel in METADATA_NAMES and entry.kind != "folder":
            if entry.kind == "file":
                if self.scan.metadata_file is not None:
                    self.out.error(
                        "E140", entry.rel, f"both {self.scan.metadata_file.name} and {entry.rel} are present; keep one"
                    )
                else:
                    self.scan.metadata_file = Path(entry.path)
            return True
        if entry.rel == FILES_CSV and entry.kind != "folder":
            if entry.kind == "file":
                self.scan.files_csv = Path(entry.path)
            return True
        return False

    def add(self, entry: TreeEntry) -> bool:
        """Judge one entry; False when the walk should stop (too many files)."""
        scan, out = self.scan, self.out
        if entry.kind == "unreadable":
            self.out.error("E139", printable(entry.rel) or ".", entry.error)
            return True
        zone, raw, _level = self._zone(entry)
        shown = printable(raw) if not raw.isascii() or not raw.isprintable() else raw
        if entry.kind == "file" and entry.nlink > 1:
            self.linked.setdefault(entry.identity, (entry.nlink, []))[1].append(raw)
        is_metadata = self._metadata(entry) if entry.depth <= 1 else False
        if is_metadata and not scan.is_bag and entry.kind == "file":
            return True  # a folder's metadata files are not payload
        if scan.is_bag and entry.rel == "data":
            if entry.kind == "folder":
                self.saw_data = True
            elif entry.kind == "link":
                self.saw_data = True
                self.refused.add(entry.rel)
                out.error(
                    "E137", "data", "the bag's data/ folder is a symbolic link; links are not followed or accepted"
                )
            return True
        problem = name_problem(entry.name)
        if problem:
            out.error(problem[0], shown, problem[1])
            self.refused.add(entry.rel)
            return True
        nfc = raw if raw.isascii() or unicodedata.is_normalized("NFC", raw) else unicodedata.normalize("NFC", raw)
        if len(nfc) * 4 > self.max_path_bytes and len(nfc.encode("utf-8")) > self.max_path_bytes:
            out.error(
                "E134", shown[:120] + "…", f"path is longer than {self.max_path_bytes} bytes (setting max_path_bytes)"
            )
            self.refused.add(entry.rel)
            return True
        seen_nfc, seen_fold = self.seen[zone]
        if nfc in seen_nfc:
            out.error(
                "E132",
                shown,
                f"collides with {printable(seen_nfc[nfc])!r} after Unicode NFC "
                f"normalisation (code points: {raw!a} and {seen_nfc[nfc]!a})",
            )
            self.refused.add(entry.rel)
            return True
        seen_nfc[nfc] = raw
        folded = nfc.casefold()
        if folded == nfc:
            folded = nfc  # one string kept, not two equal ones
        if folded in seen_fold:
            out.warning(
                "W133",
                shown,
                f"differs from {printable(seen_fold[folded])!r} only by case; the two collide on macOS and Windows",
            )
        else:
            seen_fold[folded] = nfc
        if "\n" in entry.name or "\r" in entry.name:
            out.warning("W131", shown, "name contains a line break; it is percent-encoded in the manifests (RFC 8493)")
        if entry.kind == "link":
            out.error("E137", shown, "is a symbolic link; links are not followed or accepted")
        elif entry.kind == "folder":
            pass
        elif entry.kind != "file":
            out.error("E138", shown, f"is {_SPECIAL[entry.kind]}, not a regular file; it is not opened")
        else:
            return self._file(entry, zone, nfc, raw, shown)
        return True

    def check_hard_links(self) -> None:
        """E143 for a hard link whose other names are not all inside the submission, else W139.

        Such a file's bytes are also a file somewhere else on this system (a link to a password
        file is as outside as a symbolic one), and nothing outside a submission may reach
        storage. A hard link whose names all lie inside stays a warning (``W139``): its bytes are
        copied once per name.
        """
        if self.stopped:
            return  # the walk did not see every name
        refused: set[str] = set()
        for nlink, names in self.linked.values():
            if len(names) >= nlink:
                for name in names:
                    self.out.warning(
                        "W139",
                        printable(name),
                        f"is a hard link ({nlink} names for the same file, all "
                        "in the submission); its bytes are copied for each name",
                    )
                continue
            others = nlink - len(names)
            refused.update(names)
            for name in names:
                self.out.error(
                    "E143",
                    printable(name),
                    f"is a hard link, and {others} of its {nlink} names lie "
                    "outside the submission: its bytes are a file elsewhere on this system; copy the "
                    "file into the submission instead of linking it",
                )
        # a refused metadata file is not read at all: its bytes may be another file's (no excerpt may show)
        if self.scan.metadata_file is not None and self.scan.metadata_file.name in refused:
            self.scan.metadata_file = None
        if self.scan.files_csv is not None and FILES_CSV in refused:
            self.scan.files_csv = None

    def _file(self, entry: TreeEntry, zone: str, rel: str, raw: str, shown: str) -> bool:
        scan, out = self.scan, self.out
        last = entry.name[-1]
        if last.isspace() and last not in "\r\n":  # CR and LF are percent-encoded; the rest is stripped
            out.error(
                "E135",
                shown,
                f"file name ends with white space (U+{ord(last):04X}); BagIt manifest "
                "readers strip it from the line, so the stored bag could not be verified: rename the file",
            )
        problem = manifest_path_problem(rel) if zone == "payload" else tag_path_problem(rel)
        if problem:
            out.error("E133", shown, problem)
        if entry.name in SYSTEM_FILES:
            out.warning("W138", shown, "is an operating-system file, probably not meant to be preserved")
        base = self.bases[zone]
        if entry.path == base + raw:  # always, as walk_tree joins names: the path is not kept twice
            found = ScannedFile(rel, "", entry.size, raw, entry.identity, base=base)
        else:  # pragma: no cover - belt and braces
            found = ScannedFile(rel, entry.path, entry.size, raw, entry.identity)
        (scan.files if zone == "payload" else scan.tag_files).append(found)
        if len(scan.files) + len(scan.tag_files) > self.max_files:
            out.error("E124", "", f"the submission holds more than {self.max_files} files")
            self.stopped = True
            return False
        return True

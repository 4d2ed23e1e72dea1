"""Walk a submission folder read-only, never following links, and check every name.

The result lists the payload files (with NFC-normalised, '/'-separated paths), the metadata
files found beside the payload, and every problem as a Finding. The metadata files and a bag's
``data/`` folder get the same care as the payload: a link there is reported, never followed.
Names in findings go through :func:`printable`, so no name can drive a terminal.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from archive.bagit_paths import manifest_path_problem
from archive.errors import FindingList

METADATA_NAMES = ("metadata.yaml", "metadata.yml", "metadata.json")
FILES_CSV = "metadata/files.csv"
SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini", "._.DS_Store"}
MAX_DEPTH = 64
MAX_PATH_BYTES = 1024


@dataclass
class ScannedFile:
    path: str  # NFC, relative to the payload root, '/'-separated
    source: Path  # where to read it
    size: int
    original_name: str  # as found on disk (may differ from path by normalisation)


@dataclass
class Scan:
    root: Path
    is_bag: bool
    payload_root: Path
    files: list[ScannedFile] = field(default_factory=list)
    metadata_file: Path | None = None
    files_csv: Path | None = None
    findings: FindingList = field(default_factory=FindingList)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def printable(text: str) -> str:
    """``text`` safe to show anywhere: undecodable bytes, control and format characters escaped.

    ``café.txt`` stays as it is; ``a\\x1b[2Jb`` (a terminal escape), a line break, a
    right-to-left override or a byte that is not UTF-8 come out as Python escapes.
    """
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _regular_file(path: Path, label: str, out: FindingList) -> Path | None:
    """``path`` if it is a regular file; a link or special file there is a finding; absent is None."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        out.error("E139", label, f"cannot read: {exc.strerror}")
        return None
    if stat.S_ISLNK(mode):
        out.error("E137", label, "is a symbolic link; links are not followed or accepted")
    elif stat.S_ISREG(mode):
        return path
    elif not stat.S_ISDIR(mode):
        out.error("E138", label, "is a FIFO, socket or device file, not a regular file")
    return None


def _real_folder(path: Path, label: str, out: FindingList) -> bool:
    """True if ``path`` is a folder and not a link to one (a link is a finding)."""
    if path.is_symlink():
        out.error("E137", label, "is a symbolic link to a folder; links are not followed or accepted")
        return False
    return path.is_dir()


def name_problem(name: str) -> tuple[str, str] | None:
    """(code, message) when a single path component is unacceptable, else None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "E130", "name is not valid UTF-8"
    bad = [c for c in name if (ord(c) < 0x20 and c not in "\t\n\r") or ord(c) == 0x7F or 0xFFFE <= ord(c) <= 0xFFFF]
    if bad:
        return "E131", f"name contains control character(s) {', '.join(repr(c) for c in bad)}"
    return None


def scan_folder(root: Path, max_files: int, is_bag: bool | None = None) -> Scan:
    root = Path(root)
    if is_bag is None:
        is_bag = (root / "bagit.txt").is_file() and not (root / "bagit.txt").is_symlink()
    payload_root = root / "data" if is_bag else root
    scan = Scan(root=root, is_bag=is_bag, payload_root=payload_root)
    out = scan.findings
    for name in METADATA_NAMES:
        candidate = _regular_file(root / name, name, out)
        if candidate is not None:
            if scan.metadata_file is not None:
                out.error("E140", name, f"both {scan.metadata_file.name} and {name} are present; keep one")
            else:
                scan.metadata_file = candidate
    if _real_folder(root / "metadata", "metadata", out):
        scan.files_csv = _regular_file(root / FILES_CSV, FILES_CSV, out)
    if is_bag and payload_root.is_symlink():
        out.error("E137", "data", "the bag's data/ folder is a symbolic link; links are not followed or accepted")
        return scan
    if is_bag and not payload_root.is_dir():
        out.error("E150", "data", "the bag has no data/ payload folder")
        return scan

    # only the metadata files themselves are left out; anything else in metadata/ is payload
    skip_top = set() if is_bag else {*METADATA_NAMES, FILES_CSV}
    seen_nfc: dict[str, str] = {}
    seen_fold: dict[str, str] = {}
    _walk(payload_root, "", 0, scan, max_files, skip_top, seen_nfc, seen_fold)
    if not scan.files and not out.errors:
        out.error("E136", "", "the submission holds no files")
    return scan


def _walk(folder: Path, prefix: str, depth: int, scan: Scan, max_files: int, skip_top: set[str],
          seen_nfc: dict[str, str], seen_fold: dict[str, str]) -> None:
    out = scan.findings
    if depth > MAX_DEPTH:
        out.error("E134", prefix, f"folders are nested more than {MAX_DEPTH} levels deep")
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        out.error("E139", prefix or ".", f"cannot read folder: {exc.strerror}")
        return
    for entry in entries:
        raw_rel = f"{prefix}{entry.name}"
        if depth <= 1 and raw_rel in skip_top and not entry.is_dir(follow_symlinks=False):
            continue
        shown = printable(raw_rel)
        problem = name_problem(entry.name)
        if problem:
            out.error(problem[0], shown, problem[1])
            continue
        rel = unicodedata.normalize("NFC", raw_rel)
        if len(rel.encode("utf-8")) > MAX_PATH_BYTES:
            out.error("E134", shown[:120] + "…", f"path is longer than {MAX_PATH_BYTES} bytes")
            continue
        if rel in seen_nfc:
            out.error("E132", shown, f"collides with {seen_nfc[rel]!r} after Unicode NFC normalisation "
                      f"(code points: {raw_rel!a} and {seen_nfc[rel]!a})")
            continue
        seen_nfc[rel] = raw_rel
        folded = rel.casefold()
        if folded in seen_fold:
            out.warning("W133", shown, f"differs from {seen_fold[folded]!r} only by case; the two collide on macOS and Windows")
        else:
            seen_fold[folded] = rel
        if any(c in entry.name for c in "\n\r"):
            out.warning("W131", shown, "name contains a line break; it is percent-encoded in the manifests (RFC 8493)")
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            out.error("E139", shown, f"cannot read: {exc.strerror}")
            continue
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            out.error("E137", shown, "is a symbolic link; links are not followed or accepted")
        elif stat.S_ISDIR(mode):
            _walk(Path(entry.path), rel + "/", depth + 1, scan, max_files, skip_top, seen_nfc, seen_fold)
        elif stat.S_ISREG(mode):
            last = entry.name[-1]
            if last.isspace() and last not in "\r\n":  # CR and LF are percent-encoded; the rest is stripped
                out.error("E135", shown, f"file name ends with white space (U+{ord(last):04X}); BagIt manifest "
                          "readers strip it from the line, so the stored bag could not be verified: rename the file")
            problem = manifest_path_problem(rel)
            if problem:
                out.error("E133", shown, problem)
            if st.st_nlink > 1:
                out.warning("W139", shown, f"is a hard link ({st.st_nlink} names for the same file); its bytes are copied")
            if entry.name in SYSTEM_FILES:
                out.warning("W138", shown, "is an operating-system file, probably not meant to be preserved")
            scan.files.append(ScannedFile(path=rel, source=Path(entry.path), size=st.st_size, original_name=raw_rel))
            if len(scan.files) == max_files + 1:
                out.error("E124", "", f"the submission holds more than {max_files} files")
        else:
            kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device file"
            out.error("E138", shown, f"is a {kind}, not a regular file")

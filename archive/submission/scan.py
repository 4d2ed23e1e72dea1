"""Walk a submission folder read-only, never following links, and check every name.

The result lists the payload files (with NFC-normalised, '/'-separated paths), the metadata
files found beside the payload, and every problem as a Finding.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from archive.errors import Finding, FindingList

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
        candidate = root / name
        if candidate.is_file() and not candidate.is_symlink():
            if scan.metadata_file is not None:
                out.error("E140", name, f"both {scan.metadata_file.name} and {name} are present; keep one")
            else:
                scan.metadata_file = candidate
    csv_path = root / FILES_CSV
    if csv_path.is_file() and not csv_path.is_symlink():
        scan.files_csv = csv_path
    if is_bag and not payload_root.is_dir():
        out.error("E150", "data", "the bag has no data/ payload folder")
        return scan

    skip_top = set() if is_bag else {*METADATA_NAMES, "metadata"}
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
        if depth == 0 and entry.name in skip_top:
            continue
        raw_rel = f"{prefix}{entry.name}"
        shown = raw_rel.encode("utf-8", "backslashreplace").decode("utf-8")
        problem = name_problem(entry.name)
        if problem:
            out.error(problem[0], shown, problem[1])
            continue
        rel = unicodedata.normalize("NFC", raw_rel)
        if len(rel.encode("utf-8")) > MAX_PATH_BYTES:
            out.error("E134", shown[:120] + "…", f"path is longer than {MAX_PATH_BYTES} bytes")
            continue
        if rel in seen_nfc:
            out.error("E132", shown, f"collides with {seen_nfc[rel]!r} after Unicode NFC normalisation")
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

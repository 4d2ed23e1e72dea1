"""Validate a BagIt bag (v0.93 to v1.0, RFC 8493) on disk, without modifying it.

bagit-python does the bulk; its exceptions become :class:`~archive.errors.Finding` objects with
stable codes (``CODES``). On top, checks for what bagit-python 1.9.0 lets through: exact
``bagit.txt`` syntax, md5sum's ``*`` marker and ``./`` in manifest paths, repeated entries,
Unicode/case name collisions, system junk files, weak algorithms, old versions, ``fetch.txt``.
"""

from __future__ import annotations

import codecs
import os
import posixpath
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bagit

from archive.bagit_paths import decode_path
from archive.errors import ArchiveError, BagInvalid, Finding, FindingList
from archive.fixity.hashing import SUPPORTED_ALGORITHMS, hash_file

__all__ = ["CODES", "BagReport", "validate_bag"]

#: every finding code this module emits (E3xx error, W3xx warning)
CODES: dict[str, str] = {
    "E301": "not a bag: no such folder, or no bagit.txt", "E302": "bagit.txt malformed (RFC 8493 §2.1.1)",
    "E303": "other bagit-python error, or unreadable", "E304": "checksum mismatch, or unreadable file",
    "E305": "a file listed in a manifest is missing", "E306": "a payload file is in no manifest",
    "E307": "a manifest/fetch.txt path escapes the bag", "E308": "fetch.txt lists remote files / malformed",
    "E309": "Payload-Oxum mismatch, or malformed", "E311": "file listed twice (differently, or v1.0)",
    "E312": "required algorithm has no payload manifest", "E313": "no data/ folder, or no payload manifest",
    "E314": "manifest line not 'CHECKSUM FILEPATH'", "E315": "tag file (bag-info.txt) cannot be parsed",
    "E316": "payload manifest lists a file outside data/", "W301": "BagIt version older than 1.0",
    "W302": "only weak payload algorithms (md5, sha1)", "W303": "manifest paths carry md5sum's '*' marker",
    "W304": "manifest paths not canonical (e.g. './')", "W305": "payload names differ only by case",
    "W306": "payload names collide after Unicode NFC", "W307": "system files (.DS_Store, Thumbs.db, ...)",
    "W308": "file listed twice, same checksum (pre-1.0)", "W309": "UTF-8 manifest or fetch.txt has a BOM",
    "W310": "fetch.txt lists only files already here",
}

WEAK_ALGORITHMS = frozenset({"md5", "sha1"})
SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", "__macosx",
                          ".spotlight-v100", ".trashes", ".fseventsd", ".apdisk"})
_MANIFEST_RE = re.compile(r"(tag)?manifest-([A-Za-z0-9]+)\.txt")
_LINE_RE = re.compile(r"\s*([0-9A-Fa-f]+)[ \t]+(.*\S)\s*")
_BAGIT_TXT = [(re.compile(r"BagIt-Version: \d+\.\d+"), "BagIt-Version: M.N"),
              (re.compile(r"Tag-File-Character-Encoding: \S+"), "Tag-File-Character-Encoding: ENCODING")]
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
#: bagit-python message fragment -> code; first match wins
_BAGIT_MESSAGES = [("unsafe", "E307"), ("multiple times", "E311"), ("invalid tag", "E315"),
                   ("data directory|no manifest files|to contain", "E313"), ("fetch.txt", "E308"),
                   ("payload-oxum", "E309"), ("bagit.txt|bag version|encoding", "E302")]
#: codes where bagit-python's first-failure message repeats what our own checks already listed
_PRECHECKED = frozenset({"E302", "E307", "E308", "E311"})


@dataclass
class BagReport:
    """What :func:`validate_bag` found. ``valid`` is true when there is no error finding."""

    valid: bool
    version: str
    findings: list[Finding] = field(default_factory=list)
    payload_files: int = 0
    payload_bytes: int = 0
    algorithms: list[str] = field(default_factory=list)
    path: str = ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "valid": self.valid, "version": self.version,
                "payload_files": self.payload_files, "payload_bytes": self.payload_bytes,
                "algorithms": list(self.algorithms), "findings": [f.as_dict() for f in self.findings]}

    def raise_if_invalid(self) -> None:
        """Raise :class:`BagInvalid` carrying every finding when the bag has errors."""
        if not self.valid:
            raise BagInvalid(f"bag {self.path} is invalid", self.findings)


def validate_bag(path: str | os.PathLike[str], fast: bool = False,
                 algorithms_required: tuple[str, ...] = ()) -> BagReport:
    """Validate the bag folder at ``path``; never raises for a bad bag, never writes to it.

    ``fast``: Payload-Oxum and completeness only, no checksums. ``algorithms_required``: checksum
    algorithms that must each have a payload manifest, e.g. ``("sha256",)``."""
    root = Path(path).absolute()
    found = FindingList()
    report = BagReport(valid=False, version="", path=str(root))
    if not root.is_dir():
        found.error("E301", "", f"{root} {'is not a folder' if root.exists() else 'does not exist'}")
    elif not (root / "bagit.txt").is_file():
        found.error("E301", "bagit.txt", "not a BagIt bag: bagit.txt is missing")
    else:
        try:
            _validate_folder(root, fast, algorithms_required, found, report)
        except OSError as exc:
            found.error("E303", "", f"cannot read the bag: {_relative(str(exc), root)}")
    report.findings, report.valid = found.items, not found.errors
    return report


def _validate_folder(root: Path, fast: bool, required: tuple[str, ...], found: FindingList,
                     report: BagReport) -> None:
    report.version, encoding = _check_bagit_txt(root, found)
    version = re.fullmatch(r"(\d+)\.(\d+)", report.version)
    version_info = (int(version[1]), int(version[2])) if version else (1, 0)
    if version_info < (1, 0):
        found.warning("W301", "bagit.txt", f"BagIt {report.version} predates BagIt 1.0 (RFC 8493)")
    report.algorithms = algorithms = sorted({m[2].lower() for p in root.iterdir()
                                             if (m := _MANIFEST_RE.fullmatch(p.name)) and not m[1]})
    for alg in sorted({a.lower() for a in required} - set(algorithms)):
        found.error("E312", f"manifest-{alg}.txt", f"no {alg} payload manifest; {alg} is required")
    if algorithms and set(algorithms) <= WEAK_ALGORITHMS:
        found.warning("W302", "", f"only weak {'/'.join(algorithms)}; RFC 8493 §2.4: use SHA-512")
    listed = _lint_manifests(root, encoding, version_info, found)
    on_disk = {Path(os.path.relpath(os.path.join(folder, name), root)).as_posix()
               for folder, _dirs, names in os.walk(root / "data") for name in names}
    report.payload_files = len(on_disk)  # dangling symlinks are counted, not sized: bagit reports them
    report.payload_bytes = sum((root / name).stat().st_size for name in on_disk if (root / name).exists())
    _check_names(listed | on_disk, found)
    _check_fetch(root, encoding, on_disk, found)
    _run_bagit(root, fast, found)


def _check_bagit_txt(root: Path, found: FindingList) -> tuple[str, str]:
    """RFC 8493 §2.1.1 to the byte (bagit-python strips whitespace around labels and values)."""
    raw = (root / "bagit.txt").read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        found.error("E302", "bagit.txt", "bagit.txt starts with a byte-order mark; it must not")
    text = raw.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
    if "\ufffd" in text:
        found.error("E302", "bagit.txt", "bagit.txt is not valid UTF-8")
    lines = _NEWLINE_RE.split(text.rstrip("\r\n"))
    for number, ((pattern, form), line) in enumerate(zip(_BAGIT_TXT, [*lines, None], strict=False), 1):
        if line is None:
            found.error("E302", "bagit.txt", f"line {number} '{form}' is missing")
        elif not pattern.fullmatch(line):
            found.error("E302", "bagit.txt", f"line {number} must be exactly '{form}' (label, colon, one "
                        f"space, value; no other whitespace), found {line!r}")
    if len(lines) > 2:
        found.error("E302", "bagit.txt", f"bagit.txt must have exactly two lines, found {len(lines)}")
    tags = {label.strip(): value.strip() for label, _, value in (ln.partition(":") for ln in lines)}
    encoding = tags.get("Tag-File-Character-Encoding") or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        found.error("E302", "bagit.txt", f"unknown Tag-File-Character-Encoding {encoding!r}")
        encoding = "utf-8"
    return tags.get("BagIt-Version", ""), encoding


def _bag_path(raw: str) -> str | None:
    """Undo RFC 8493 §2.1.3 percent-encoding (%0A, %0D, %25) as bagit-python does; None if it escapes."""
    path = decode_path(raw)
    canonical = posixpath.normpath(path)
    return None if path.startswith(("/", "~")) or canonical == ".." or canonical.startswith("../") else path


def _read_lines(file: Path, encoding: str, found: FindingList) -> list[str]:
    try:
        raw = file.read_bytes()
        if codecs.lookup(encoding).name == "utf-8":
            if raw.startswith(codecs.BOM_UTF8):
                found.warning("W309", file.name, "UTF-8 file starts with a byte-order mark")
            encoding = "utf-8-sig"
        return _NEWLINE_RE.split(raw.decode(encoding))
    except (OSError, UnicodeError) as exc:
        found.error("E314", file.name, f"cannot read {file.name} as {encoding}: {exc}")
        return []


def _lint_manifests(root: Path, encoding: str, version: tuple[int, int], found: FindingList) -> set[str]:
    """Check every (tag)manifest line; return the canonical payload paths listed."""
    listed: set[str] = set()
    for file in sorted(p for p in root.iterdir() if _MANIFEST_RE.fullmatch(p.name) and p.is_file()):
        payload = not file.name.startswith("tag")
        seen: dict[str, str] = {}
        starred, odd = [], []  # md5sum '*' markers, non-canonical paths
        for number, line in enumerate(_read_lines(file, encoding, found), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = _LINE_RE.fullmatch(line)
            if match is None:
                found.error("E314", file.name, f"line {number} is not 'CHECKSUM FILEPATH': {line!r}")
                continue
            digest, raw = match[1].lower(), match[2]
            if raw.startswith("*"):
                starred.append(raw)
                raw = raw[1:]
            path = _bag_path(raw)
            if path is None:
                found.error("E307", raw, f"{file.name} line {number} points outside the bag")
                continue
            canonical = posixpath.normpath(path)
            if canonical != path:
                odd.append(f"{raw!r} stands for {canonical!r}")
            if payload and not canonical.startswith("data/"):
                found.error("E316", canonical, f"{file.name} lists {canonical!r}, which is not in data/")
            if canonical in seen:
                same = seen[canonical] == digest
                what = f"{file.name} lists it twice with {'the same' if same else 'different'} checksums"
                if same and version < (1, 0):
                    found.warning("W308", canonical, what)
                else:
                    found.error("E311", canonical, what)
            seen[canonical] = digest
        if starred:
            found.warning("W303", file.name, f"{len(starred)} path(s) start with md5sum's binary-mode '*' "
                          f"(e.g. {starred[0]!r}); RFC 8493 §2.1.3 lines are 'CHECKSUM FILEPATH', no '*'")
        if odd:
            found.warning("W304", file.name, f"{len(odd)} path(s) are not canonical (e.g. {odd[0]})")
        listed.update(seen if payload else ())
    return listed


def _check_names(names: set[str], found: FindingList) -> None:
    by_nfc: dict[str, set[str]] = {}
    for name in sorted(names):
        by_nfc.setdefault(unicodedata.normalize("NFC", name), set()).add(name)
        if {p.lower() for p in name.split("/")} & SYSTEM_FILES or posixpath.basename(name).startswith("._"):
            found.warning("W307", name, "special system file: not content, and should not be archived")
    by_case: dict[str, set[str]] = {}
    for nfc, variants in sorted(by_nfc.items()):
        if len(variants) > 1:
            found.warning("W306", nfc, "equal under Unicode NFC: " + ", ".join(map(ascii, sorted(variants))))
        by_case.setdefault(nfc.casefold(), set()).add(nfc)
    for variants in by_case.values():
        if len(variants) > 1:
            found.warning("W305", min(variants), f"names differ only by case: {', '.join(sorted(variants))}")


def _check_fetch(root: Path, encoding: str, on_disk: set[str], found: FindingList) -> None:
    file = root / "fetch.txt"  # never followed: it passes only if every file it lists is here
    if not file.is_file():
        return
    remote: list[str] = []
    present = 0
    for number, line in enumerate(_read_lines(file, encoding, found), 1):
        parts = line.strip().split(None, 2)
        if not parts:
            continue
        if len(parts) != 3:
            found.error("E308", "fetch.txt", f"line {number} is not 'URL LENGTH FILEPATH': {line!r}")
            continue
        path = _bag_path(parts[2])
        if path is None:
            found.error("E307", parts[2], f"fetch.txt line {number} points outside the bag")
        elif posixpath.normpath(path) in on_disk:
            present += 1
        else:
            remote.append(f"{path} <- {parts[0]}")
    if remote:
        found.error("E308", "fetch.txt", "fetch.txt lists remote files; the archive does not fetch over "
                    f"the network ({len(remote)} not in the bag, e.g. {remote[0]})")
    elif present:
        found.warning("W310", "fetch.txt", f"fetch.txt lists {present} file(s), all already in the bag; "
                      "it is ignored (the archive never fetches)")


def _run_bagit(root: Path, fast: bool, found: FindingList) -> None:
    """bagit-python's validation; where it stops at a first failure, finish the remaining checks."""
    before = {f.code for f in found.errors}

    def add(exc: BaseException) -> None:
        message = _relative(str(exc), root)
        if not isinstance(exc, bagit.BagError):  # bagit-python crashed on malformed input
            if before:
                return  # ... that our own checks already rejected
            message = f"bagit-python failed on this bag: {type(exc).__name__}: {message}"
        code = next((c for pat, c in _BAGIT_MESSAGES if re.search(pat, message, re.IGNORECASE)), "E303")
        if not (code in _PRECHECKED and code in before):
            where = re.search(r'Path "(.*?)"', message)
            found.error(code, where[1] if where else "", message)

    try:
        bag = bagit.Bag(str(root))
    except (bagit.BagError, OSError, ValueError, LookupError) as exc:
        add(exc)  # the bag cannot even be opened: nothing more to check with bagit-python
        return
    complete = False
    try:
        bag.validate(processes=1, completeness_only=fast)
        return
    except bagit.BagValidationError as exc:
        if not exc.details:
            add(exc)
        for detail in exc.details:
            complete |= isinstance(detail, (bagit.FileMissing, bagit.UnexpectedFile))
            _add_detail(detail, found, root)
        if exc.details and not complete:
            return  # checksum mismatches come last: bagit-python ran every check
    except (bagit.BagError, OSError, ValueError, LookupError) as exc:
        add(exc)
    try:  # bagit-python stopped early (structure, fetch.txt, Payload-Oxum or completeness)
        if not complete:
            missing, extra = bag.compare_manifests_with_fs()
            for detail in [bagit.FileMissing(r) for r in sorted(missing)] + [
                    bagit.UnexpectedFile(r) for r in sorted(extra)]:
                _add_detail(detail, found, root)
        if not fast:
            _fixity(root, bag.entries, found)
    except (bagit.BagError, OSError, ValueError) as exc:
        add(exc)


def _relative(message: str, root: Path) -> str:
    return message.replace(f"{root}{os.sep}", "").replace(str(root), "<bag>")


def _add_detail(detail: bagit.ManifestErrorDetail, found: FindingList, root: Path) -> None:
    rel = Path(str(detail.path)).as_posix()
    if isinstance(detail, bagit.ChecksumMismatch):
        if re.fullmatch(r"[0-9a-f]+", str(detail.found)):
            found.error("E304", rel, f"{detail.algorithm} checksum mismatch: manifest expects "
                        f"{detail.expected}, file has {detail.found}")
        else:
            found.error("E304", rel, f"cannot verify the {detail.algorithm} checksum: "
                        + _relative(str(detail.found), root))
    elif isinstance(detail, bagit.FileMissing):
        found.error("E305", rel, "listed in a manifest but missing from the bag")
    else:  # bagit.UnexpectedFile, the only other ManifestErrorDetail
        found.error("E306", rel, "in the payload but not listed in any manifest")


def _fixity(root: Path, entries: dict[str, dict[str, str]], found: FindingList) -> None:
    """Verify the checksums bagit-python skipped because it stopped at an earlier failure."""
    for rel, hashes in sorted(entries.items()):
        full = root / rel
        algorithms = [a for a in hashes if a in SUPPORTED_ALGORITHMS]
        if not algorithms or not full.is_file():
            continue  # a missing file was reported by the completeness check
        try:
            digests = hash_file(full, algorithms)[1]
        except ArchiveError as exc:
            digests = {a: str(exc) for a in algorithms}
        for alg in algorithms:
            if hashes[alg].lower() != digests[alg]:
                _add_detail(bagit.ChecksumMismatch(rel, alg, hashes[alg].lower(), digests[alg]), found, root)

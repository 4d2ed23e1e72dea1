"""Validate a BagIt bag (v0.93 to v1.0, RFC 8493) on disk, without modifying it.

First the archive's own checks, reading every file through the one way in
(:mod:`archive.submission.safeopen`, via :mod:`archive.packaging.bag.read`): the whole bag is
surveyed without following links (a link, FIFO, socket or device anywhere is ``E317``, and then
bagit-python never opens the bag: it follows links and blocks on FIFOs); tag files are size- and
line-bounded (``E318``); the declared encoding must be a character set (``E319``); ``bagit.txt``
is checked to the byte; manifests, ``bag-info.txt`` and ``fetch.txt`` are parsed in one linear
pass; every tag manifest is verified (in fast mode too: tag files are small). Then bagit-python
does the payload: completeness, ``Payload-Oxum`` and (unless ``fast``) checksums; its
exceptions become findings with stable codes (``CODES``). No finding quotes a line of a file:
it names the file (escaped), the line number and what is wrong.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from archive.errors import BagInvalid, Finding, FindingList
from archive.packaging.bag import read as bagread
from archive.packaging.bag.bagit_run import run_bagit
from archive.packaging.bag.codes import CODES
from archive.packaging.bag.paths import decode_path
from archive.packaging.bag.read import BagContents, Survey
from archive.submission.safeopen import CHUNK, UnsafeFile, open_regular, printable

__all__ = ["CODES", "BagContents", "BagReport", "validate_bag"]


WEAK_ALGORITHMS = frozenset({"md5", "sha1"})
SYSTEM_FILES = frozenset(
    {
        ".ds_store",
        "thumbs.db",
        "ehthumbs.db",
        "desktop.ini",
        "__macosx",
        ".spotlight-v100",
        ".trashes",
        ".fseventsd",
        ".apdisk",
    }
)
_MANIFEST_RE = re.compile(r"(tag)?manifest-([A-Za-z0-9]+)\.txt")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_BAGIT_TXT = [
    (re.compile(r"BagIt-Version: \d+\.\d+"), "BagIt-Version: M.N"),
    (re.compile(r"Tag-File-Character-Encoding: \S+"), "Tag-File-Character-Encoding: ENCODING"),
]
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
#: codes after which bagit-python must not open the bag at all
_BLOCKING = frozenset({"E317", "E318", "E319"})

# bagit-python logs what it finds (manifest lines among it) to stderr when nothing else is configured;
# everything it says is reported as a finding instead
_bagit_log = logging.getLogger("bagit")
_bagit_log.addHandler(logging.NullHandler())
_bagit_log.propagate = False


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
    #: the bag's tags and manifest entries as read (not in ``as_dict``)
    contents: BagContents = field(default_factory=BagContents, repr=False, compare=False)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "valid": self.valid,
            "version": self.version,
            "payload_files": self.payload_files,
            "payload_bytes": self.payload_bytes,
            "algorithms": list(self.algorithms),
            "findings": [f.as_dict() for f in self.findings],
        }

    def raise_if_invalid(self) -> None:
        """Raise :class:`BagInvalid` carrying every finding when the bag has errors."""
        if not self.valid:
            raise BagInvalid(f"bag {self.path} is invalid", self.findings)


@dataclass
class _Limits:
    tag_bytes: int
    manifest_bytes: int


def validate_bag(
    path: str | os.PathLike[str],
    fast: bool = False,
    algorithms_required: tuple[str, ...] = (),
    *,
    max_tag_bytes: int = bagread.DEFAULT_MAX_TAG_BYTES,
    max_manifest_bytes: int = bagread.DEFAULT_MAX_MANIFEST_BYTES,
    max_depth: int = bagread.DEFAULT_MAX_DEPTH,
    max_files: int | None = None,
) -> BagReport:
    """Validate the bag folder at ``path``; never raises for a bad bag, never writes to it.

    ``fast``: Payload-Oxum and completeness of the payload, without its checksums (tag manifests
    are still verified). ``algorithms_required``: checksum algorithms that must each have a
    payload manifest, e.g. ``("sha256",)``. ``max_tag_bytes``: largest ``bag-info.txt``,
    ``package-info.txt`` or ``fetch.txt``; ``max_manifest_bytes``: largest (tag) manifest;
    ``max_depth``: most folder levels below ``data/``; ``max_files``: most files (``None``: any)."""
    root = Path(path).absolute()
    found = FindingList()
    report = BagReport(valid=False, version="", path=str(root))
    try:
        if not root.is_dir():
            found.error(
                "E301", "", f"{printable(str(root))} {'is not a folder' if os.path.lexists(root) else 'does not exist'}"
            )
        else:
            bag = bagread.survey(root, found, max_depth, max_files)
            bagit_txt = bag.top.get("bagit.txt")
            if bag.truncated:
                pass  # too many files: E318, and nothing more is read
            elif bagit_txt is None or bagit_txt.kind == "folder":
                found.error("E301", "bagit.txt", "not a BagIt bag: bagit.txt is missing")
            elif bagit_txt.kind == "file":
                _validate_folder(
                    bag, fast, algorithms_required, _Limits(max_tag_bytes, max_manifest_bytes), found, report
                )
    except OSError as exc:  # the folder itself cannot be looked at (every file goes through safeopen)
        found.error("E303", "", f"cannot read the bag: {exc.strerror or type(exc).__name__}")
    report.findings, report.valid = found.items, not found.errors
    return report


def _validate_folder(
    bag: Survey, fast: bool, required: tuple[str, ...], limits: _Limits, found: FindingList, report: BagReport
) -> None:
    raw = bagread.read_file(bag, "bagit.txt", bagread.BAGIT_TXT_BYTES, found)
    if raw is None:
        return
    declared_version, declared = _check_bagit_txt(raw, found)
    version = re.fullmatch(r"(\d{1,4})\.(\d{1,4})", declared_version)
    report.version = declared_version if version else ""  # never what else bagit.txt says
    version_info = (int(version[1]), int(version[2])) if version else (1, 0)
    if not (0, 93) <= version_info < (2, 0):
        found.error("E302", "bagit.txt", f"BagIt-Version {report.version} is not supported (0.93 to 1.0)")
    elif version_info < (1, 0):
        found.warning("W301", "bagit.txt", f"BagIt {report.version} predates BagIt 1.0 (RFC 8493)")
    report.payload_files, report.payload_bytes = len(bag.payload), sum(bag.payload.values())
    report.algorithms = algorithms = sorted(
        {m[2].lower() for name in bag.tags if (m := _MANIFEST_RE.fullmatch(name)) and not m[1]}
    )
    for alg in sorted({a.lower() for a in required} - set(algorithms)):
        found.error("E312", f"manifest-{alg}.txt", f"no {alg} payload manifest; {alg} is required")
    if algorithms and set(algorithms) <= WEAK_ALGORITHMS:
        found.warning("W302", "", f"only weak {'/'.join(algorithms)}; RFC 8493 §2.4: use SHA-512")
    encoding, code, problem = bagread.text_codec(declared)
    if encoding is None:
        found.error(code, "bagit.txt", problem)
        return  # no tag file can be read: bagit-python would fail on each (LookupError, TypeError)
    contents = report.contents
    contents.info = _read_bag_info(bag, encoding, version_info, limits.tag_bytes, found)
    listed = _lint_manifests(bag, encoding, version_info, limits.manifest_bytes, contents, found)
    _check_names(listed | set(bag.payload), found)
    _check_fetch(bag, encoding, limits.tag_bytes, found)
    _check_tag_manifests(bag, contents, found)
    if bag.unsafe or bag.ambiguous or any(f.code in _BLOCKING for f in found.errors):
        return  # bagit-python would follow a link, block on a FIFO or take quadratic time
    run_bagit(bag.root, fast, found)


def _check_bagit_txt(raw: bytes, found: FindingList) -> tuple[str, str]:
    """RFC 8493 §2.1.1 to the byte (bagit-python strips whitespace around labels and values)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        found.error("E302", "bagit.txt", "bagit.txt starts with a byte-order mark; it must not")
    text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    if "\ufffd" in text:
        found.error("E302", "bagit.txt", "bagit.txt is not valid UTF-8")
    lines = _NEWLINE_RE.split(text.rstrip("\r\n"))
    for number, ((pattern, form), line) in enumerate(zip(_BAGIT_TXT, [*lines, None], strict=False), 1):
        if line is None:
            found.error("E302", "bagit.txt", f"line {number} '{form}' is missing")
        elif not pattern.fullmatch(line):
            found.error(
                "E302",
                "bagit.txt",
                f"line {number} must be exactly '{form}' (label, colon, one space, value; no other whitespace)",
            )
    if len(lines) > 2:
        found.error("E302", "bagit.txt", f"bagit.txt must have exactly two lines, found {len(lines)}")
    tags = {label.strip(): value.strip() for label, _, value in (ln.partition(":") for ln in lines)}
    return tags.get("BagIt-Version", ""), tags.get("Tag-File-Character-Encoding") or "utf-8"


def _read_bag_info(
    bag: Survey, encoding: str, version: tuple[int, int], limit: int, found: FindingList
) -> dict[str, str | list[str]]:
    """bag-info.txt (package-info.txt before BagIt 0.96), parsed as bagit-python parses it."""
    name = "package-info.txt" if (0, 93) <= version <= (0, 95) else "bag-info.txt"
    if name not in bag.tags:
        return {}
    data = bagread.read_file(bag, name, limit, found)
    text = None if data is None else bagread.decode_tag_file(data, encoding, name, found)
    if text is None:
        return {}
    info = bagread.parse_tags(text, name, found)
    oxum = info.get("Payload-Oxum")
    first = oxum[0] if isinstance(oxum, list) else oxum
    if first is not None and not re.fullmatch(r"[0-9]+\.[0-9]+", first):
        found.error("E309", name, "Payload-Oxum must be 'OCTETS.FILES' (two whole numbers)")
    return info


def _bag_path(raw: str) -> str | None:
    """Undo RFC 8493 §2.1.3 percent-encoding (%0A, %0D, %25) as bagit-python does; None if it escapes."""
    path = decode_path(raw)
    canonical = posixpath.normpath(path)
    return None if path.startswith(("/", "~")) or canonical == ".." or canonical.startswith("../") else path


def _manifest_line(line: str) -> tuple[str, str] | None:
    """(digest, path) of a 'CHECKSUM FILEPATH' line (hex digits, spaces or tabs, a path), else None.

    One pass, no backtracking (a regular expression ``\\s*([0-9A-F]+)[ \\t]+(.*\\S)\\s*`` took
    quadratic time on a digit followed by thousands of spaces)."""
    stripped = line.strip()
    digits = _HEX_RE.match(stripped)
    end = digits.end() if digits else 0
    if not end or end == len(stripped) or stripped[end] not in " \t":
        return None
    return stripped[:end], stripped[end:].lstrip(" \t")


def _lint_manifests(
    bag: Survey, encoding: str, version: tuple[int, int], limit: int, contents: BagContents, found: FindingList
) -> set[str]:
    """Check every (tag)manifest line; return the canonical payload paths listed."""
    listed: set[str] = set()
    for name in sorted(n for n in bag.tags if _MANIFEST_RE.fullmatch(n)):
        payload = not name.startswith("tag")
        algorithm = _MANIFEST_RE.fullmatch(name)[2].lower()  # type: ignore[index]
        if algorithm not in contents.algorithms:
            contents.algorithms.append(algorithm)
        seen: dict[str, str] = {}
        starred, odd = [], []  # md5sum '*' markers, non-canonical paths
        for number, line in bagread.iter_lines(bag, name, encoding, limit, found):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parsed = _manifest_line(line)
            if parsed is None:
                found.error(
                    "E314", name, f"line {number} is not 'CHECKSUM FILEPATH' (hexadecimal digits, white space, a path)"
                )
                continue
            digest, raw = parsed[0].lower(), parsed[1]
            if raw.startswith("*"):
                starred.append(f"{printable(raw)!r}, line {number}")
                raw = raw[1:]
            path = _bag_path(raw)
            if path is None:
                found.error(
                    "E307",
                    name,
                    f"line {number} lists a path outside the bag (absolute, from '~' or "
                    "climbing out with '..'); it is never opened",
                )
                continue
            canonical = posixpath.normpath(path)
            if canonical != path:
                odd.append(f"{printable(raw)!r} stands for {printable(canonical)!r}, line {number}")
            if payload and not canonical.startswith("data/"):
                found.error("E316", printable(canonical), f"{name} line {number} lists a file that is not in data/")
            if canonical in seen:
                same = seen[canonical] == digest
                what = f"{name} lists it twice with {'the same' if same else 'different'} checksums"
                if same and version < (1, 0):
                    found.warning("W308", printable(canonical), what)
                else:
                    found.error("E311", printable(canonical), what)
            seen[canonical] = digest
            contents.entries.setdefault(canonical, {})[algorithm] = digest
        if starred:
            found.warning(
                "W303",
                name,
                f"{len(starred)} path(s) start with md5sum's binary-mode '*' "
                f"(e.g. {starred[0]}); RFC 8493 §2.1.3 lines are 'CHECKSUM FILEPATH', no '*'",
            )
        if odd:
            found.warning("W304", name, f"{len(odd)} path(s) are not canonical (e.g. {odd[0]})")
        listed.update(seen if payload else ())
    return listed


def _check_names(names: set[str], found: FindingList) -> None:
    by_nfc: dict[str, set[str]] = {}
    for name in sorted(names):
        by_nfc.setdefault(unicodedata.normalize("NFC", name), set()).add(name)
        if {p.lower() for p in name.split("/")} & SYSTEM_FILES or posixpath.basename(name).startswith("._"):
            found.warning("W307", printable(name), "special system file: not content, and should not be archived")
    by_case: dict[str, set[str]] = {}
    for nfc, variants in sorted(by_nfc.items()):
        if len(variants) > 1:
            found.warning("W306", printable(nfc), "equal under Unicode NFC: " + ", ".join(map(ascii, sorted(variants))))
        by_case.setdefault(nfc.casefold(), set()).add(nfc)
    for variants in by_case.values():
        if len(variants) > 1:
            found.warning(
                "W305", printable(min(variants)), f"names differ only by case: {printable(', '.join(sorted(variants)))}"
            )


def _check_fetch(bag: Survey, encoding: str, limit: int, found: FindingList) -> None:
    """fetch.txt is never followed: it passes only if every file it lists is here."""
    remote: list[int] = []
    present = 0
    for number, line in bagread.iter_lines(bag, "fetch.txt", encoding, limit, found, decode_code="E308"):
        parts = line.strip().split(None, 2)
        if not parts:
            continue
        if len(parts) != 3:
            found.error("E308", "fetch.txt", f"line {number} is not 'URL LENGTH FILEPATH'")
            continue
        url = urlparse(parts[0])
        if not ((url.scheme and url.netloc) or url.scheme == "file"):
            found.error("E308", "fetch.txt", f"line {number}: the URL is malformed (no scheme and host)")
        if not (parts[1] == "-" or parts[1].isdigit()):
            found.error("E308", "fetch.txt", f"line {number}: the length is neither a whole number nor '-'")
        path = _bag_path(parts[2])
        if path is None:
            found.error("E307", "fetch.txt", f"line {number} lists a path outside the bag; it is never fetched")
        elif posixpath.normpath(path) in bag.payload:
            present += 1
        else:
            remote.append(number)
    if remote:
        found.error(
            "E308",
            "fetch.txt",
            "fetch.txt lists remote files; the archive does not fetch over the "
            f"network ({len(remote)} not in the bag, first on line {remote[0]})",
        )
    elif present:
        found.warning(
            "W310",
            "fetch.txt",
            f"fetch.txt lists {present} file(s), all already in the bag; it is ignored (the archive never fetches)",
        )


def _check_tag_manifests(bag: Survey, contents: BagContents, found: FindingList) -> None:
    """Verify every tag manifest entry (every version, fast or not): a listed tag file must be a
    regular file of the bag with the listed digests. bagit-python's tag-file findings are dropped."""
    for rel, expected in sorted(contents.tagfile_entries().items()):
        entry = bag.tags.get(rel)
        if entry is None:
            if not bag.hidden(rel):  # a link or FIFO there (or on the way) is E317 already
                found.error("E305", printable(rel), "listed in a tag manifest but missing from the bag")
            continue
        algorithms = [a for a in expected if a in hashlib.algorithms_guaranteed]
        try:
            with open_regular(entry.path, rel, identity=entry.identity) as stream:
                hashers = {a: hashlib.new(a) for a in algorithms}
                while chunk := stream.read(CHUNK):
                    for h in hashers.values():
                        h.update(chunk)
        except UnsafeFile as exc:
            found.error("E304", printable(rel), f"cannot verify its checksum: {exc.reason}")
            continue
        for alg, hasher in hashers.items():
            if hasher.hexdigest() != expected[alg].lower():
                found.error(
                    "E304",
                    printable(rel),
                    f"{alg} checksum mismatch: tagmanifest-{alg}.txt expects "
                    f"{expected[alg].lower()}, file has {hasher.hexdigest()}",
                )

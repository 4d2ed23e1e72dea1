"""Read a bag's tag files and manifests once, safely and in linear time (for ``archive.packaging.bag.check``).

Everything goes through the one way in (:mod:`archive.submission.safeopen`): the bag's tree is
surveyed first without following a link (a link, FIFO, socket or device anywhere is ``E317``),
and every file is then opened as the very regular file the survey listed, size-bounded.

Linear time: bagit-python reads tag files with ``codecs`` line by line, which rescans a line for
every 72 to 9,216 characters read, so a line of *n* characters costs about *n*²/18,000 steps (a
16 MB one-line ``bag-info.txt`` took 25 s). Lines longer than ``MAX_LINE_CHARS`` are therefore
refused (``E318``) before bagit-python reads anything, and the archive's own readers split
lines with one pass and parse them without backtracking regular expressions.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from archive.errors import FindingList
from archive.packaging.bag.paths import OTHER_LINE_BREAKS
from archive.submission.safeopen import CHUNK, TreeEntry, UnsafeFile, open_regular, printable, walk_tree
from archive.submission.scan import MAX_DEPTH

#: longest line of any tag file or manifest, in characters (RFC 8493 recommends 79 and
#: continuation lines for longer values; bagit-python's reader is quadratic in a line's length)
MAX_LINE_CHARS = 64 * 1024
#: largest bag-info.txt, package-info.txt, fetch.txt (the setting max_metadata_bytes at ingest)
DEFAULT_MAX_TAG_BYTES = 10 * 1024 * 1024
#: largest manifest or tag manifest (they grow with the number of files: about 200 bytes a file)
DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024**3
#: deepest folder nesting looked into (the default of the setting max_depth)
DEFAULT_MAX_DEPTH = MAX_DEPTH
#: largest bagit.txt (two short lines)
BAGIT_TXT_BYTES = 64 * 1024
#: text codecs Python has that are not character sets (they transform text, or refuse it)
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs", "oem"})
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_UNSAFE_KIND = {
    "link": "a symbolic link; it is never followed",
    "fifo": "a FIFO (named pipe); it is never opened",
    "socket": "a socket; it is never opened",
    "device": "a device file; it is never opened",
    "other": "a special file; it is never opened",
}


def text_codec(name: str) -> tuple[str | None, str, str]:
    """(Python codec name, "", "") for a usable Tag-File-Character-Encoding, else (None, code, why).

    Only character sets are usable: ``base64``, ``rot13``, ``zlib_codec``, ``hex``, ``uu`` (not
    text codecs) and ``idna``, ``punycode``, ``unicode_escape``, ``undefined`` (text codecs that
    are no character set) are ``E319``; an unknown name is ``E302``. Messages name the codec by
    Python's own name for it, never by what the file says.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None, "E302", "Tag-File-Character-Encoding names no encoding known here"
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return (
            None,
            "E319",
            (
                f"Tag-File-Character-Encoding is Python's {info.name!r} codec, which is no character "
                "set (a transformation such as base64, rot13, zlib or idna); tag files cannot be read "
                "with it"
            ),
        )
    return info.name, "", ""


@dataclass
class Survey:
    """What a bag folder holds, looked at without following links or opening anything."""

    root: Path
    top: dict[str, TreeEntry] = field(default_factory=dict)  #: entries of the bag folder itself
    tags: dict[str, TreeEntry] = field(default_factory=dict)  #: regular files not under data/
    payload: dict[str, int] = field(default_factory=dict)  #: regular files under data/: path -> size
    unsafe: set[str] = field(default_factory=set)  #: links, FIFOs, sockets, devices, unreadable folders
    #: a line holds a character bagit-python breaks lines at (U+2028, ...): its reading would differ
    ambiguous: bool = False
    #: the survey stopped at max_files: nothing else is checked
    truncated: bool = False

    def hidden(self, rel: str) -> bool:
        """True if ``rel`` is, or is inside, an entry that was not looked into (a link, ...)."""
        parts = rel.split("/")
        return any("/".join(parts[:i]) in self.unsafe for i in range(1, len(parts) + 1))


def survey(root: Path, found: FindingList, max_depth: int = DEFAULT_MAX_DEPTH, max_files: int | None = None) -> Survey:
    """List the whole bag (every entry beside ``data/`` too) without recursion; each link or
    special file is E317. Folders nested more than ``max_depth`` levels below ``data/`` (or the
    bag root), and files beyond ``max_files``, are E318: not looked into (bagit-python's walk
    recurses, and Python's recursion ends near 1,000 levels)."""
    seen = Survey(root)

    def descend(entry: TreeEntry) -> bool:
        if entry.depth + (0 if entry.rel.startswith("data/") else 1) <= max_depth:
            return True
        seen.unsafe.add(entry.rel)
        found.error(
            "E318",
            printable(entry.rel),
            f"folders are nested more than {max_depth} levels deep (setting max_depth); this one is not looked into",
        )
        return False

    for entry in walk_tree(root, descend):
        if entry.depth == 0:
            seen.top[entry.rel] = entry
        if entry.kind == "unreadable":
            seen.unsafe.add(entry.rel)
            found.error("E303", printable(entry.rel) or ".", entry.error)
        elif entry.kind in _UNSAFE_KIND:
            seen.unsafe.add(entry.rel)
            found.error(
                "E317",
                printable(entry.rel),
                f"is {_UNSAFE_KIND[entry.kind]}: a bag must hold only regular files and folders",
            )
        elif entry.kind == "file":
            if entry.rel.startswith("data/"):
                seen.payload[entry.rel] = entry.size
            else:
                seen.tags[entry.rel] = entry
            if max_files is not None and len(seen.payload) + len(seen.tags) > max_files:
                seen.truncated = True
                found.error(
                    "E318",
                    "",
                    f"the bag holds more than {max_files} files (setting max_files); it is not checked further",
                )
                break
    return seen


def _refused(exc: UnsafeFile, label: str, found: FindingList) -> None:
    code = {"link": "E317", "special": "E317", "too-large": "E318"}.get(exc.kind, "E318")
    found.error(code, printable(label), exc.reason)


def read_file(bag: Survey, name: str, limit: int, found: FindingList) -> bytes | None:
    """The bytes of the surveyed regular file ``name`` (at most ``limit``), or None and a finding."""
    entry = bag.tags.get(name)
    if entry is None:
        return None
    try:
        with open_regular(entry.path, name, limit=limit, identity=entry.identity) as stream:
            return stream.read()
    except UnsafeFile as exc:
        _refused(exc, name, found)
        return None


def iter_lines(
    bag: Survey, name: str, encoding: str, limit: int, found: FindingList, decode_code: str = "E314"
) -> Iterator[tuple[int, str]]:
    """(line number, line) of the surveyed file ``name``, streamed in chunks, lines ended by CR,
    LF or CRLF (RFC 8493). At most ``limit`` bytes (``E318``, unread); a line longer than
    ``MAX_LINE_CHARS`` stops the reading (``E318``); undecodable bytes stop it (``decode_code``);
    a line holding a character bagit-python would take for a line break (U+2028, U+0085, ...)
    is reported and skipped (``decode_code``). A UTF-8 byte-order mark is skipped with ``W309``.
    """
    entry = bag.tags.get(name)
    if entry is None:
        return
    try:
        stream = open_regular(entry.path, name, limit=limit, identity=entry.identity)
    except UnsafeFile as exc:
        _refused(exc, name, found)
        return
    shown = printable(name)
    with stream:
        try:
            first = stream.read(CHUNK)
            if codecs.lookup(encoding).name == "utf-8":
                if first.startswith(codecs.BOM_UTF8):
                    found.warning("W309", shown, "UTF-8 file starts with a byte-order mark")
                encoding = "utf-8-sig"
            decoder = codecs.getincrementaldecoder(encoding)("strict")
            pending, number, done, chunk, offset = "", 0, False, first, 0
            while not done:
                done = not chunk
                try:
                    text = decoder.decode(chunk, final=done)
                except UnicodeError as exc:  # UTF-16 without a byte-order mark raises a bare UnicodeError
                    at = f"byte {offset + exc.start}" if isinstance(exc, UnicodeDecodeError) else "its start"
                    found.error(decode_code, shown, f"cannot be decoded as {encoding} (at {at})")
                    return
                offset += len(chunk)
                buffer = pending + text
                end = len(buffer) if done else _last_break(buffer)
                pending = buffer[end:]
                lines = _NEWLINE_RE.split(buffer[:end]) if end else []
                if lines and not done:
                    lines.pop()  # empty: what follows the last line break, kept in pending
                elif lines and done and lines[-1] == "" and len(lines) > 1:
                    lines.pop()
                for line in lines:
                    number += 1
                    if len(line) > MAX_LINE_CHARS:
                        found.error(
                            "E318",
                            shown,
                            f"line {number} is longer than {MAX_LINE_CHARS} characters; the file is not read further",
                        )
                        return
                    odd = OTHER_LINE_BREAKS.intersection(line)
                    if odd:
                        bag.ambiguous = True
                        found.error(
                            decode_code,
                            shown,
                            f"line {number} holds {_code_points(odd)}, which bagit-python "
                            "reads as a line break (RFC 8493 readers do not): readers would disagree on it",
                        )
                        continue
                    yield number, line
                if len(pending) > MAX_LINE_CHARS:
                    found.error(
                        "E318",
                        shown,
                        f"line {number + 1} is longer than {MAX_LINE_CHARS} characters; the file is not read further",
                    )
                    return
                if not done:
                    chunk = stream.read(CHUNK)
        except UnsafeFile as exc:  # grew, or became unreadable, while being read
            _refused(exc, name, found)


def _last_break(text: str) -> int:
    """Index just after the last complete line break of ``text`` (0 if none); a final CR is not
    complete (an LF may follow in the next chunk)."""
    end = max(text.rfind("\n"), text.rfind("\r"))
    if end >= 0 and text[end] == "\r" and end == len(text) - 1:
        end = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end))
    return end + 1


def _code_points(chars: Collection[str]) -> str:
    return ", ".join(f"U+{ord(c):04X}" for c in sorted(chars))


def parse_tags(text: str, label: str, found: FindingList) -> dict[str, str | list[str]]:
    """Labels and values of a tag file (``bag-info.txt``), exactly as bagit-python reads them
    (lines split like ``str.splitlines``, indented lines continue a value, a label repeated
    gives a list), in one pass; a malformed line is ``E315`` named by number, never quoted."""
    tags: dict[str, str | list[str]] = {}
    label_now: str | None = None
    parts: list[str] = []
    shown = printable(label)

    def close() -> None:
        if label_now is None:
            return
        value = "".join(parts).strip()
        old = tags.get(label_now)
        if old is None:
            tags[label_now] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            tags[label_now] = [old, value]

    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if len(line) > MAX_LINE_CHARS:
            found.error(
                "E318",
                shown,
                f"line {number} is longer than {MAX_LINE_CHARS} characters (use indented "
                "continuation lines, RFC 8493 §2.2.2)",
            )
            return tags
        if not line or line.isspace():
            continue
        if line[0].isspace() and label_now is not None:
            parts.append(line)
            continue
        close()
        if ":" not in line:
            found.error("E315", shown, f"line {number} is neither 'Label: value' nor an indented continuation line")
            label_now, parts = None, []
            continue
        name, _, value = line.strip().partition(":")
        label_now, parts = name.strip(), [value]
    close()
    return tags


def decode_tag_file(data: bytes, encoding: str, label: str, found: FindingList) -> str | None:
    """``data`` decoded as bagit-python decodes a tag file (a UTF-8 byte-order mark dropped)."""
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"
    try:  # incrementally, as bagit-python's stream reader does (UTF-16 without a byte-order mark is refused)
        return codecs.getincrementaldecoder(encoding)("strict").decode(data, final=True)
    except UnicodeError as exc:  # UTF-16 without a byte-order mark raises a bare UnicodeError
        at = f"byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else "its start"
        found.error("E315", printable(label), f"cannot be decoded as {encoding} (at {at})")
        return None


@dataclass
class BagContents:
    """What a submitted bag's tag files say, read once by ``validate_bag`` (for ingest: the
    submitter's bag-info and manifests, without bagit-python reading the bag again)."""

    info: dict[str, str | list[str]] = field(default_factory=dict)
    #: manifest path (decoded, canonical, '/'-separated) -> {algorithm: digest}, payload and tag files
    entries: dict[str, dict[str, str]] = field(default_factory=dict)
    algorithms: list[str] = field(default_factory=list)

    def payload_entries(self) -> dict[str, dict[str, str]]:
        """The payload manifests' entries (as ``bagit.Bag.payload_entries``)."""
        return {path: digests for path, digests in self.entries.items() if path.startswith("data/")}

    def tagfile_entries(self) -> dict[str, dict[str, str]]:
        return {path: digests for path, digests in self.entries.items() if not path.startswith("data/")}

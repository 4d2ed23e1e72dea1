"""Hypothesis strategies for submissions nobody here wrote (see tests/test_trust_invariant.py).

A strategy draws a *model* of a submission (plain, frozen dataclasses: readable in a falsifying
example, and shrinkable: every choice is drawn from hypothesis, the first alternative of each
``sampled_from`` being the harmless one). :func:`build` turns a model into files under an
example's own folder and returns a :class:`Built`: where the submission is, which payload
bytes a faithful archive must store under which path, where the canary and the FIFOs are.

Layout of one example's folder::

    <root>/outside/        the canary: files holding one random secret, shaped as metadata,
                           bag-info, a manifest, a CSV, a fetch.txt; a folder of them; a FIFO
    <root>/in/<submission> the folder, .zip, .tar, .tar.gz or bag
    <root>/home/           the archive's home (made by the test)

Links in a submission point at the canary (absolute, relative, to its folder, to its FIFO);
the secret is drawn with :mod:`secrets` when the example is built, not by hypothesis, so it
never shrinks to something that could occur by chance. Sizes are bounded so that one example
ingests in well under a second (except the deliberately deep chains).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import secrets
import stat
import struct
import tarfile
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

# --------------------------------------------------------------------------------------------
# the canary

CANARY_FILES = (
    "canary.yaml",
    "canary.json",
    "canary.csv",
    "canary-bag-info.txt",
    "canary-manifest.txt",
    "canary-fetch.txt",
    "canary.bin",
)
#: what a link may point at: a canary file, the canary folder, the canary FIFO, nothing
LINK_TARGETS = (
    *(f"abs:{n}" for n in CANARY_FILES),
    *(f"rel:{n}" for n in CANARY_FILES),
    "abs-dir:",
    "rel-dir:",
    "abs:canary.fifo",
    "dangling:",
    "self:",
)


def canary_bodies(secret: str) -> dict[str, bytes]:
    """Every canary file, each a valid document of its kind carrying ``secret``.

    The YAML and JSON are valid heritage metadata (so a followed link would be *accepted*
    and its secret stored); the bag-info and manifest lines parse; the md5 "digest" is the
    secret itself (32 hex characters), so a checksum message would print it.
    """
    meta = {
        "title": f"Canary {secret}",
        "accession_number": "HHM.2024.901",
        "collection": f"Canary {secret}",
        "provenance": f"Secret {secret}",
        "rights_statement": "https://rightsstatements.org/vocab/NoC-US/1.0/",
    }
    yaml_text = "".join(f"{k}: {json.dumps(v)}\n" for k, v in meta.items())
    return {
        "canary.yaml": yaml_text.encode(),
        "canary.json": json.dumps(meta).encode(),
        "canary.csv": f"path,title\ncanary.txt,{secret}\nf.txt,{secret}\n".encode(),
        "canary-bag-info.txt": f"Source-Organization: {secret}\nPayload-Oxum: 1.1\nContact-Name: {secret}\n".encode(),
        "canary-manifest.txt": f"{secret}  bagit.txt\n{secret}  bag-info.txt\n{secret}  data/f.txt\n".encode(),
        "canary-fetch.txt": f"http://127.0.0.1:9/{secret} 5 data/{secret}.txt\n".encode(),
        "canary.bin": f"{secret}\n".encode(),
    }


#: what the folder ``outside/canary-dir`` holds (a linked tag folder or metadata folder)
CANARY_DIR_FILES = {
    "files.csv": "canary.csv",
    "bag-info.txt": "canary-bag-info.txt",
    "notes.txt": "canary.bin",
    "metadata.yaml": "canary.yaml",
    "f.txt": "canary.bin",
}


def plant_canary(outside: Path) -> str:
    """Write the canary files into ``outside`` and return the secret."""
    secret = secrets.token_hex(16)
    outside.mkdir(parents=True)
    bodies = canary_bodies(secret)
    for name, body in bodies.items():
        (outside / name).write_bytes(body)
    (outside / "canary-dir").mkdir()
    for name, source in CANARY_DIR_FILES.items():
        (outside / "canary-dir" / name).write_bytes(bodies[source])
    os.mkfifo(outside / "canary.fifo")
    return secret


def link_target(key: str, link: Path, outside: Path) -> str:
    """The text of a symbolic link at ``link`` for a LINK_TARGETS key."""
    kind, _, name = key.partition(":")
    absolute = {
        "abs": outside / name,
        "rel": outside / name,
        "abs-dir": outside / "canary-dir",
        "rel-dir": outside / "canary-dir",
        "dangling": outside / "no-such-file",
        "self": link,
    }[kind]
    if kind.startswith("rel"):
        return os.path.relpath(absolute, link.parent)
    return str(absolute)


# --------------------------------------------------------------------------------------------
# names

SAFE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-"
safe_names = st.text(SAFE_ALPHABET, min_size=1, max_size=8)

#: pieces that break naive code: controls (C0, C1, DEL), Unicode line/paragraph separators that
#: str.splitlines() splits on, RFC 8493 percent escapes, trailing white space, bidi overrides,
#: decomposed accents, a byte that is not UTF-8 (as a surrogate escape)
AWKWARD_PIECES = (
    "\x01",
    "\x1b[2J",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x0b",
    "\x0c",
    "%0A",
    "%0a",
    "%0D",
    "%25",
    "%",
    " ",
    "\u00a0",
    "\u3000",
    "\u200b",
    "\ufeff",
    "\u202e",
    "*",
    "\\",
    ":",
    "#",
    "?",
    "~",
    "e\u0301",
    "\u00e9",
    "\u212b",
    "\ufb01",
    "\u0130",
    "\ud83d\ude00".encode("utf-16", "surrogatepass").decode("utf-16"),
    "\udcff",
    "\udcc3",
    "\ufffe",
    "\uffff",
    "$HOME",
    "`id`",
    "'",
    '"',
    "<x>",
    "&amp;",
    "]]>",
)
#: names with characters that NFC and NFD spell differently, and case pairs
COMPOSABLE = ("caf\u00e9", "\u00c5ngstr\u00f6m", "na\u00efve", "\u00fcber", "r\u00e9sum\u00e9", "\u1e9b\u0323")
unicode_names = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/\x00"), min_size=1, max_size=12)


@st.composite
def awkward_names(draw: st.DrawFn) -> str:
    base = draw(safe_names)
    piece = draw(st.sampled_from(AWKWARD_PIECES))
    where = draw(st.sampled_from(("end", "start", "middle", "alone")))
    return {"end": base + piece, "start": piece + base, "middle": base[:1] + piece + base[1:], "alone": piece}[where]


@st.composite
def long_names(draw: st.DrawFn) -> str:
    """200 to 255 bytes of UTF-8 (the most one path component may have on Linux)."""
    char = draw(st.sampled_from(("x", "\u00e9", "\u6f22", "\U0001f600")))
    width = len(char.encode())
    count = draw(st.integers(200 // width, 255 // width))
    return char * count


names = st.one_of(
    safe_names,
    safe_names.map(lambda s: s + ".txt"),
    awkward_names(),
    unicode_names,
    st.sampled_from(COMPOSABLE),
    long_names(),
)


def fs_ok(name: str) -> bool:
    """Whether ``name`` can be one path component of a file made on Linux."""
    if name in ("", ".", "..") or "/" in name or "\x00" in name:
        return False
    try:
        return len(os.fsencode(name)) <= 255
    except UnicodeEncodeError:  # a lone surrogate that is not a surrogate escape
        return False


fs_names = names.filter(fs_ok)


def twin(name: str, how: str) -> str:
    """A name that collides with ``name`` on some systems (NFC/NFD, case)."""
    if how == "nfd":
        return unicodedata.normalize("NFD", name)
    if how == "nfc":
        return unicodedata.normalize("NFC", name)
    if how == "upper":
        return name.upper()
    return name.swapcase()


# --------------------------------------------------------------------------------------------
# file trees


@dataclass(frozen=True)
class Entry:
    """One entry of a file tree. ``kind``: file, symlink, fifo, hardlink (to ``target``, the
    '/'-joined path of an earlier file)."""

    parts: tuple[str, ...]
    kind: str = "file"
    data: bytes = b""
    target: str = ""

    @property
    def path(self) -> str:
        return "/".join(self.parts)

    def __repr__(self) -> str:  # deep chains shown as ('d',)*600, not 600 lines
        parts = self.parts
        run = 1
        while run < len(parts) - 1 and parts[run] == parts[0]:
            run += 1
        shown = f"({parts[0]!r},)*{run} + {parts[run:]!r}" if run > 3 else repr(parts)
        extra = f", {self.data!r}" if self.kind in ("file",) else f", target={self.target!r}" if self.target else ""
        return f"Entry({shown}, {self.kind!r}{extra})"


contents = st.one_of(
    st.binary(max_size=64),
    st.sampled_from((b"", b"hello\n", b"%PDF-1.4\n%%EOF\n", b"<?xml version='1.0'?><a/>", b"\x00" * 32)),
    st.binary(min_size=64, max_size=1024),
)


def normalise(entries: list[Entry]) -> tuple[Entry, ...]:
    """Drop entries that cannot coexist with an earlier one (same path; a file where a folder
    is needed), and hard links whose target is not an earlier regular file."""
    kept: list[Entry] = []
    leaves: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    files: dict[str, Entry] = {}
    for e in entries:
        prefixes = {e.parts[:i] for i in range(1, len(e.parts))}
        if e.parts in leaves or e.parts in folders or prefixes & leaves:
            continue
        if e.kind == "hardlink" and e.target not in files:
            continue
        kept.append(e)
        leaves.add(e.parts)
        folders |= prefixes
        if e.kind == "file":
            files[e.path] = e
    return tuple(kept)


def hardlink_bytes(entries: tuple[Entry, ...], e: Entry) -> bytes:
    return next(x.data for x in entries if x.path == e.target and x.kind == "file")


@st.composite
def trees(
    draw: st.DrawFn,
    *,
    name_strategy: st.SearchStrategy[str] = fs_names,
    max_entries: int = 8,
    specials: bool = True,
    deep: str = "sometimes",
    reserved: frozenset[str] = frozenset(),
) -> tuple[Entry, ...]:
    """A file tree: random nesting, names, contents; with ``specials``, links to the canary,
    FIFOs and hard links; NFC/NFD and case twins; with ``deep`` ("sometimes", "always",
    "never") a chain of 100 to 600 folders. ``reserved`` names are not used at the top."""
    folders = draw(st.lists(name_strategy, max_size=3, unique=True))
    out: list[Entry] = []
    count = draw(st.integers(1, max_entries))
    for _ in range(count):
        depth = draw(st.integers(0, 3))
        parts = tuple(draw(st.sampled_from(folders)) for _ in range(depth)) if folders else ()
        leaf = draw(name_strategy)
        kinds = ("file", "file", "symlink", "fifo", "hardlink") if specials else ("file",)
        kind = draw(st.sampled_from(kinds))
        if kind == "file":
            out.append(Entry((*parts, leaf), "file", draw(contents)))
        elif kind == "symlink":
            out.append(Entry((*parts, leaf), "symlink", target=draw(st.sampled_from(LINK_TARGETS))))
        elif kind == "fifo":
            out.append(Entry((*parts, leaf), "fifo"))
        else:
            earlier = [e.path for e in out if e.kind == "file"]
            if earlier:
                out.append(Entry((*parts, leaf), "hardlink", target=draw(st.sampled_from(earlier))))
    if draw(st.booleans()):  # a colliding twin of some file
        files = [e for e in out if e.kind == "file"]
        if files:
            base = draw(st.sampled_from(files))
            how = draw(st.sampled_from(("nfd", "upper", "swapcase", "nfc")))
            leaf = base.parts[-1]
            if how in ("nfd", "nfc") and unicodedata.normalize("NFD", leaf) == leaf:
                leaf = draw(st.sampled_from(COMPOSABLE))
                out.append(Entry((*base.parts[:-1], leaf), "file", base.data))
            other = twin(leaf, how)
            if fs_ok(other) and other != leaf:
                data = draw(st.sampled_from((base.data, base.data + b"twin")))
                out.append(Entry((*base.parts[:-1], other), "file", data))
    if deep == "always" or (deep == "sometimes" and draw(st.integers(0, 15)) == 15):
        levels = draw(st.integers(100, 600))
        seg = draw(st.sampled_from(("d", "a", "\u00e9", "x" * 2)))
        out.append(Entry((seg,) * levels + ("deep.txt",), "file", b"deep\n"))
    entries = [e for e in out if e.parts[0] not in reserved]
    if not any(e.kind == "file" for e in entries):
        entries.append(Entry(("f.txt",), "file", b"content\n"))
    return normalise(entries)


def materialise(entries: tuple[Entry, ...], root: Path, outside: Path) -> list[Path]:
    """Make ``entries`` under ``root``; return the FIFOs made. Deep chains are made with
    relative steps, so no absolute path passes PATH_MAX."""
    fifos: list[Path] = []
    for e in entries:
        parent = root
        for part in e.parts[:-1]:
            parent = parent / part
        _mkdirs(root, e.parts[:-1])
        target = parent / e.parts[-1]
        if e.kind == "file":
            _at(root, e.parts, lambda p, d=e.data: Path(p).write_bytes(d))
        elif e.kind == "symlink":
            text = link_target(e.target, target, outside)
            _at(root, e.parts, lambda p, t=text: os.symlink(t, p))
        elif e.kind == "fifo":
            _at(root, e.parts, os.mkfifo)
            fifos.append(target)
        elif e.kind == "hardlink":
            src_parts = tuple(e.target.split("/"))
            source = os.path.abspath(os.path.join(root, *src_parts))
            _at(root, e.parts, lambda p, s=source: os.link(s, p))
    return fifos


def _mkdirs(root: Path, parts: tuple[str, ...]) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            try:
                os.mkdir(part, dir_fd=fd)
            except FileExistsError:
                pass
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
    finally:
        os.close(fd)


def _at(root: Path, parts: tuple[str, ...], make: Any) -> None:
    """Run ``make(name)`` with the working folder set to the entry's parent (deep chains)."""
    if len(os.fsencode(os.path.join(root, *parts))) < 3000:
        make(os.path.join(root, *parts))
        return
    here = os.getcwd()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.fchdir(fd)
        make(parts[-1])
    finally:
        os.chdir(here)
        os.close(fd)


# --------------------------------------------------------------------------------------------
# descriptive metadata

HERITAGE = (
    ("title", "Trust invariant case"),
    ("accession_number", "HHM.2024.900"),
    ("collection", "Test collection"),
    ("provenance", "Made by tests/support/strategies.py."),
    ("rights_statement", "https://rightsstatements.org/vocab/NoC-US/1.0/"),
)
LEVELS = ("open", "restricted", "embargoed", "confidential", "legal-hold")
#: access_level values that are not one of LEVELS, exactly
BAD_LEVELS = (
    "Open",
    "OPEN",
    "public",
    "closed",
    "legal hold",
    "legal_hold",
    1,
    True,
    ["open", "confidential"],
    {"level": "open"},
)
#: values whose meaning the docs leave open (accepted as one level, or refused)
#: (a `string` is stored trimmed, docs/profiles.md, so " open" may well mean open)
LOOSE_LEVELS = ("", " open", "confidential ", ["confidential"], ["open"])


@dataclass(frozen=True)
class Metadata:
    """``metadata.yaml``/``.yml``/``.json`` as written (``pairs`` in order, duplicates allowed).

    ``site``: ``file``, ``fifo``, ``absent``, or a LINK_TARGETS key (a link there).
    """

    name: str = "metadata.yaml"
    pairs: tuple[tuple[str, Any], ...] = HERITAGE
    site: str = "file"
    second: str = ""  # another metadata file beside it (E140)

    def render(self) -> bytes:
        if self.name.endswith(".json"):
            return ("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in self.pairs) + "}").encode()
        return "".join(f"{k}: {json.dumps(v)}\n" for k, v in self.pairs).encode()

    def ambiguous(self) -> bool:
        """A key given twice with different values: no reading of it is *the* submitted one."""
        seen: dict[str, Any] = {}
        for k, v in self.pairs:
            if k in seen and seen[k] != v:
                return True
            seen[k] = v
        return False

    def allowed_access(self) -> frozenset[str]:
        """The access levels a faithful archive may record, plus "refuse" if refusing is right.
        Only decided for a plain metadata file; ``None`` elsewhere (nothing to say)."""
        if self.ambiguous():
            return frozenset({"refuse"})
        values = dict(self.pairs)
        level = values.get("access_level")
        until = values.get("embargo_until")
        if until is not None and until not in ("2099-01-01",):
            return frozenset({"refuse"})
        if level is None:
            base = {"open"}
        elif isinstance(level, str) and level in LEVELS:
            base = {level}
        elif level in LOOSE_LEVELS:
            stripped = (level[0] if isinstance(level, list) else level).strip()
            base = {stripped or "open", "refuse"} if (stripped in LEVELS or not stripped) else {"refuse"}
        else:
            return frozenset({"refuse"})
        out = set()
        for b in base:
            if b == "embargoed" and until is None:
                out.add("refuse")
            elif until is not None and b in ("open", "embargoed"):
                out.add("embargoed")
            else:
                out.add(b)
        return frozenset(out)


@st.composite
def metadata_docs(draw: st.DrawFn, *, sites: bool = True, variations: bool = True) -> Metadata:
    name = draw(st.sampled_from(("metadata.yaml", "metadata.json", "metadata.yml")))
    pairs = list(HERITAGE)
    if variations:
        choice = draw(st.sampled_from(("none", "level", "level", "bad", "loose", "dup", "dup-level")))
        if choice in ("level", "dup-level"):
            pairs.append(("access_level", draw(st.sampled_from(LEVELS))))
        elif choice == "bad":
            pairs.append(("access_level", draw(st.sampled_from(BAD_LEVELS))))
        elif choice == "loose":
            pairs.append(("access_level", draw(st.sampled_from(LOOSE_LEVELS))))
        if choice == "dup":  # a key given twice
            key, value = draw(st.sampled_from(pairs))
            again = draw(st.sampled_from((value, f"{value} (second)")))
            pairs.insert(draw(st.integers(0, len(pairs))), (key, again))
        if choice == "dup-level":  # the dangerous one: confidential, then open
            pairs.append(("access_level", draw(st.sampled_from(LEVELS))))
        if draw(st.integers(0, 3)) == 3:
            pairs.append(("embargo_until", draw(st.sampled_from(("2099-01-01", "2099-13-01", "2099", "tomorrow")))))
    site = "file"
    second = ""
    if sites:
        site = draw(st.sampled_from(("file", "file", "file", "fifo", "absent", *LINK_TARGETS)))
        if draw(st.integers(0, 9)) == 9:
            second = draw(st.sampled_from(("metadata.yaml", "metadata.json", "metadata.yml")))
    return Metadata(name=name, pairs=tuple(pairs), site=site, second=second if second != name else "")


@dataclass(frozen=True)
class FilesCsv:
    """``metadata/files.csv``: ``header`` and ``rows`` (cells); ``site`` as for Metadata, plus
    ``dir-link`` (the whole ``metadata/`` folder a link to the canary folder)."""

    header: tuple[str, ...] = ("path", "title")
    rows: tuple[tuple[str, ...], ...] = ()
    site: str = "file"

    def render(self) -> bytes:
        buf = io.StringIO()
        import csv

        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buf.getvalue().encode()

    def ambiguous(self) -> bool:
        """A column given twice with different cells in some row."""
        for i, col in enumerate(self.header):
            for j in range(i + 1, len(self.header)):
                if self.header[j] == col and any(len(r) > j and r[i] != r[j] for r in self.rows):
                    return True
        return False


FILE_COLUMNS = ("title", "description", "caption", "role")


@st.composite
def files_csvs(draw: st.DrawFn, paths: list[str], *, sites: bool = True) -> FilesCsv | None:
    if not paths or draw(st.integers(0, 2)) == 0:
        return None
    columns = ["path", *draw(st.lists(st.sampled_from(FILE_COLUMNS), min_size=1, max_size=3))]
    if draw(st.booleans()):  # a duplicate column
        columns.insert(draw(st.integers(0, len(columns))), draw(st.sampled_from(columns)))
    rows = []
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
        row = []
        for col in columns:
            if col == "path":
                row.append(path)
            elif col == "role":
                row.append(draw(st.sampled_from(("master", "access", ""))))
            else:
                row.append(draw(st.sampled_from(("A caption", "Another caption", ""))))
        rows.append(tuple(row))
    site = "file"
    if sites:
        site = draw(st.sampled_from(("file", "file", "fifo", "dir-link", *LINK_TARGETS)))
    return FilesCsv(tuple(columns), tuple(rows), site)


# --------------------------------------------------------------------------------------------
# BagIt bags

ALGORITHMS = ("sha256", "sha512", "md5", "sha1")
#: Tag-File-Character-Encoding values: real ones, codecs that are not text encodings, odd ones
ENCODINGS = (
    "UTF-8",
    "utf-8",
    "UTF-16",
    "latin-1",
    "utf-8-sig",
    "ascii",
    "cp500",
    "utf-32",
    "base64",
    "rot13",
    "unicode_escape",
    "raw_unicode_escape",
    "idna",
    "hex",
    "zlib",
    "",
    "x-unknown",
    "mbcs",
)
VERSIONS = ("1.0", "0.97", "0.96", "0.95", "0.94", "0.93", "2.0", "1.1", "x", "1.0 ", "01.00")
TAG_SITES = (
    "bag-info.txt",
    "bagit.txt",
    "package-info.txt",
    "fetch.txt",
    "manifest",
    "tagmanifest",
    "metadata.yaml",
    "metadata/files.csv",
    "tags",
    "tags/notes.txt",
    "data",
)
#: mutations that make a bag invalid under RFC 8493 (the submitter's own claims are false)
BREAKING = (
    "wrong-digest",
    "missing-file",
    "extra-file",
    "wrong-tagmanifest",
    "wrong-oxum",
    "outside-path",
    "dup-line-different",
    "tagmanifest-outside",
)
HARMLESS = ("dot-slash", "star", "dup-line-same", "crlf", "bom", "no-oxum", "lowercase-labels", "upper-digest")


@dataclass(frozen=True)
class BagSpec:
    version: str = "1.0"
    encoding: str = "UTF-8"
    encode_tags: bool = True  # tag files written in the declared encoding, where Python can
    algorithms: tuple[str, ...] = ("sha256",)
    tag_algorithms: tuple[str, ...] = ()
    package_info: bool = False
    tag_folder: bool = False
    fetch: str = ""  # "", "remote", "local", "empty"
    mutations: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (site, LINK_TARGETS key)
    fifos: tuple[str, ...] = ()

    def broken(self) -> bool:
        """Whether the bag, as built, is not a valid bag (so may never be accepted)."""
        return bool(
            set(self.mutations) & set(BREAKING) or self.links or self.fifos or self.fetch in ("remote", "local")
        )


@st.composite
def bag_specs(
    draw: st.DrawFn, *, mutate: bool = True, encodings: bool = True, links: bool = True, breaking_only: bool = False
) -> BagSpec:
    algorithms = tuple(draw(st.lists(st.sampled_from(ALGORITHMS), min_size=1, max_size=3, unique=True)))
    tag_algorithms = tuple(draw(st.lists(st.sampled_from(ALGORITHMS), max_size=2, unique=True)))
    version, encoding, encode_tags = "1.0", "UTF-8", True
    if encodings:
        version = draw(st.sampled_from(VERSIONS))
        encoding = draw(st.sampled_from(ENCODINGS))
        encode_tags = draw(st.booleans())
    mutations: tuple[str, ...] = ()
    if breaking_only:
        mutations = tuple(draw(st.lists(st.sampled_from(BREAKING), min_size=1, max_size=2, unique=True)))
        if "wrong-tagmanifest" in mutations or "tagmanifest-outside" in mutations:
            tag_algorithms = tag_algorithms or ("sha256",)
    elif mutate:
        mutations = tuple(draw(st.lists(st.sampled_from((*HARMLESS, *BREAKING)), max_size=2, unique=True)))
    site_links: tuple[tuple[str, str], ...] = ()
    fifos: tuple[str, ...] = ()
    fetch = ""
    if links:
        site_links = tuple(
            draw(
                st.lists(
                    st.tuples(st.sampled_from(TAG_SITES), st.sampled_from(LINK_TARGETS)),
                    max_size=1,
                    unique_by=lambda t: t[0],
                )
            )
        )
        fifos = tuple(draw(st.lists(st.sampled_from(TAG_SITES), max_size=1)))
        fifos = tuple(f for f in fifos if f not in dict(site_links))
        fetch = draw(st.sampled_from(("", "", "remote", "local", "empty")))
    return BagSpec(
        version=version,
        encoding=encoding,
        encode_tags=encode_tags,
        algorithms=algorithms,
        tag_algorithms=tag_algorithms,
        package_info=draw(st.booleans()),
        tag_folder=draw(st.booleans()),
        fetch=fetch,
        mutations=mutations,
        links=site_links,
        fifos=fifos,
    )


def _text_codec(encoding: str) -> str | None:
    try:
        codecs.lookup(encoding)
        "a".encode(encoding)
        return encoding
    except (LookupError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# archives (.zip, .tar, .tar.gz)

ARCHIVE_MUTATIONS = (
    "dup-same",
    "dup-different",
    "parent",
    "absolute",
    "absolute-canary",
    "nul",
    "lying-size",
    "lying-crc",
    "symlink-canary",
    "symlink-relative",
    "hardlink-canary",
    "hardlink-member",
    "backslash",
    "drive",
    "file-and-folder",
    "long-name",
    "non-utf8",
    "fifo",
    "device",
    "empty-name",
    "dot-segments",
    "truncated",
)


try:
    import py7zr  # noqa: F401  the archive reads .7z when py7zr is installed

    HAVE_7Z = True
except ImportError:
    HAVE_7Z = False
#: the mutations a .7z gets (py7zr writes it, and refuses to write names with '..' or a leading '/')
SEVEN_ZIP_MUTATIONS = ("dup-same", "dup-different", "symlink-canary", "symlink-relative")


@dataclass(frozen=True)
class ArchiveSpec:
    fmt: str = "zip"  # zip, tar, tgz, 7z
    prefix: str = ""  # one folder wrapping everything
    mutations: tuple[str, ...] = ()


@st.composite
def archive_specs(draw: st.DrawFn, *, mutate: bool = True) -> ArchiveSpec:
    fmt = draw(st.sampled_from(("zip", "tar", "tgz", "7z") if HAVE_7Z else ("zip", "tar", "tgz")))
    prefix = draw(st.sampled_from(("", "sub", "\u00e9t\u00e9")))
    mutations: tuple[str, ...] = ()
    if mutate:
        pool = SEVEN_ZIP_MUTATIONS if fmt == "7z" else ARCHIVE_MUTATIONS
        mutations = tuple(draw(st.lists(st.sampled_from(pool), max_size=2, unique=True)))
    return ArchiveSpec(fmt, prefix, mutations)


@dataclass
class Member:
    """One archive member: ``kind`` file, dir, symlink, hardlink, fifo, chr; ``name`` as bytes
    when it must be exactly those bytes (NUL, not UTF-8)."""

    name: str | bytes
    kind: str = "file"
    data: bytes = b""
    target: str = ""
    lie_size: int | None = None  # the size the headers claim
    lie_crc: bool = False


def _b(name: str | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")


_ZIP_MODES = {
    "file": stat.S_IFREG | 0o644,
    "dir": stat.S_IFDIR | 0o755,
    "symlink": stat.S_IFLNK | 0o777,
    "hardlink": stat.S_IFREG | 0o644,
    "fifo": stat.S_IFIFO | 0o644,
    "chr": stat.S_IFCHR | 0o644,
}


def write_zip(path: Path, members: list[Member]) -> None:
    """A zip written by hand: any name bytes, any mode, sizes and CRCs that may lie."""
    out = bytearray()
    central = bytearray()
    for m in members:
        name = _b(m.name) + (b"/" if m.kind == "dir" and not _b(m.name).endswith(b"/") else b"")
        body = m.target.encode() if m.kind == "symlink" else m.data if m.kind in ("file", "hardlink") else b""
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = compressor.compress(body) + compressor.flush()
        crc = zlib.crc32(body) ^ (0xFFFF if m.lie_crc else 0)
        size = len(body) if m.lie_size is None else m.lie_size
        flags = 0x800
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            flags = 0
        offset = len(out)
        out += (
            struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, 0x21, crc, len(deflated), size, len(name), 0)
            + name
            + deflated
        )
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | 20,
            20,
            flags,
            8,
            0,
            0x21,
            crc,
            len(deflated),
            size,
            len(name),
            0,
            0,
            0,
            0,
            _ZIP_MODES[m.kind] << 16,
            offset,
        )
        central += name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chr": tarfile.CHRTYPE,
}


def write_tar(path: Path, members: list[Member], gz: bool, truncate: bool = False) -> bool:
    """A .tar (or .tar.gz); with ``truncate``, cut in the middle of the first member with data
    (its header then claims bytes that are not there). Returns whether it was cut."""
    buf = io.BytesIO()
    cut: int | None = None
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tf:
        for m in members:
            name = m.name if isinstance(m.name, str) else m.name.decode("utf-8", "surrogateescape")
            info = tarfile.TarInfo(name)
            if "\x00" in name:  # a ustar name ends at NUL; a pax path record carries it
                info = tarfile.TarInfo("placeholder")
                info.pax_headers = {"path": name}
            info.type = _TAR_TYPES[m.kind]
            info.mode = 0o755 if m.kind == "dir" else 0o644
            data = m.data if m.kind == "file" else b""
            info.size = len(data)
            info.linkname = m.target
            tf.addfile(info, io.BytesIO(data) if m.kind == "file" else None)
            if cut is None and len(data) >= 2:
                padded = -(-len(data) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
                cut = tf.offset - padded + len(data) // 2
    raw = buf.getvalue()
    if truncate and cut is not None:
        raw = raw[:cut]
    if gz:
        import gzip

        raw = gzip.compress(raw, mtime=0)
    path.write_bytes(raw)
    return truncate and cut is not None


# --------------------------------------------------------------------------------------------
# submissions


@dataclass(frozen=True)
class Submission:
    """One generated submission. ``layout``: folder, bag, or archive (a folder or bag packed by
    ``archive``)."""

    layout: str
    tree: tuple[Entry, ...]
    metadata: Metadata = Metadata()
    files_csv: FilesCsv | None = None
    bag: BagSpec | None = None
    archive: ArchiveSpec | None = None


@dataclass
class Built:
    """What was made: the submission's path; ``expected``: NFC payload path -> every byte
    string submitted under that path (a faithful archive stores the one there is, so two
    different ones can only be refused); ``unstorable``: entries no stored bag can reproduce
    (a link, a FIFO, a device, a name outside the submission, a member whose size or CRC
    contradicts its bytes): with any of them, only a refusal is faithful; the canary."""

    path: Path
    root: Path
    outside: Path
    secret: str
    expected: dict[str, set[bytes]]
    unstorable: list[str] = field(default_factory=list)
    fifos: list[Path] = field(default_factory=list)


RESERVED_TOP = frozenset({"metadata.yaml", "metadata.yml", "metadata.json", "metadata", "bagit.txt"})


def _zip_name(at: str, rel: str) -> str:
    """How a faithful reader names a zip member ``at + rel``: a name that is not UTF-8 is written
    without the UTF-8 flag (:func:`write_zip`), and such a name is CP437 (APPNOTE 4.4.4)."""
    raw = (at + rel).encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return unicodedata.normalize("NFC", raw.decode("cp437")[len(at.encode("utf-8").decode("cp437")) :])
    return rel


def _expect(expected: dict[str, set[bytes]], path: str, data: bytes) -> None:
    key = unicodedata.normalize("NFC", path)
    expected.setdefault(key, set()).add(data)


def expected_payload(tree: tuple[Entry, ...], unstorable: list[str]) -> dict[str, set[bytes]]:
    expected: dict[str, set[bytes]] = {}
    for e in tree:
        if e.kind == "file":
            _expect(expected, e.path, e.data)
        elif e.kind == "hardlink":
            _expect(expected, e.path, hardlink_bytes(tree, e))
        else:
            unstorable.append(f"{e.kind} {e.path!r}")
    return expected


def _place(path: Path, site: str, body: bytes, outside: Path, fifos: list[Path]) -> None:
    """Write ``body`` at ``path``, or a FIFO, or a link to the canary, as ``site`` says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if site == "file":
        path.write_bytes(body)
    elif site == "fifo":
        os.mkfifo(path)
        fifos.append(path)
    elif site == "absent":
        return
    else:
        os.symlink(link_target(site, path, outside), path)


def _write_metadata(root: Path, meta: Metadata, csv_spec: FilesCsv | None, outside: Path, fifos: list[Path]) -> None:
    _place(root / meta.name, meta.site, meta.render(), outside, fifos)
    if meta.second:
        (root / meta.second).write_bytes(Metadata(name=meta.second).render())
    if csv_spec is not None:
        if csv_spec.site == "dir-link":
            os.symlink(outside / "canary-dir", root / "metadata")
        else:
            _place(root / "metadata" / "files.csv", csv_spec.site, csv_spec.render(), outside, fifos)


def build(sub: Submission, root: Path) -> Built:
    """Make ``sub`` under ``root`` (an empty folder of its own)."""
    outside = root / "outside"
    secret = plant_canary(outside)
    fifos: list[Path] = [outside / "canary.fifo"]
    unstorable: list[str] = []
    (root / "in").mkdir()
    if sub.bag is not None:
        folder = root / "in" / "bag"
        expected = _build_bag(sub, folder, outside, fifos, unstorable)
    else:
        folder = root / "in" / "submission"
        folder.mkdir()
        fifos += materialise(sub.tree, folder, outside)
        _write_metadata(folder, sub.metadata, sub.files_csv, outside, fifos)
        expected = expected_payload(sub.tree, unstorable)
    if sub.archive is None:
        return Built(folder, root, outside, secret, expected, unstorable, fifos)
    suffix = {"zip": ".zip", "tar": ".tar", "tgz": ".tar.gz", "7z": ".7z"}[sub.archive.fmt]
    packed = root / "in" / f"submission{suffix}"
    if sub.archive.fmt == "7z":
        expected = _pack_7z(sub, folder, packed, outside, expected, unstorable)
    else:
        expected = _pack(sub, folder, packed, root, outside, expected, unstorable)
    return Built(packed, root, outside, secret, expected, unstorable, fifos)


def _pack(
    sub: Submission,
    folder: Path,
    packed: Path,
    root: Path,
    outside: Path,
    expected: dict[str, set[bytes]],
    unstorable: list[str],
) -> dict[str, set[bytes]]:
    """Pack ``folder`` (already made) into ``packed``, apply the archive mutations, and say
    what payload a faithful archive stores. The folder's links, FIFOs and hard links become
    link, FIFO and hard-link members (never followed while packing)."""
    spec = sub.archive
    assert spec is not None
    prefix = f"{spec.prefix}/" if spec.prefix else ""
    tar = spec.fmt != "zip"
    members: list[Member] = []
    inodes: dict[tuple[int, int], str] = {}
    payload = "data/" if sub.bag is not None else ""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, folder)
        linked_dirs = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(filenames) + linked_dirs:
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st_ = os.lstat(full)
            if stat.S_ISLNK(st_.st_mode):
                members.append(Member(prefix + rel, "symlink", target=os.readlink(full)))
            elif stat.S_ISFIFO(st_.st_mode):
                members.append(Member(prefix + rel, "fifo"))
            elif stat.S_ISREG(st_.st_mode):
                key = (st_.st_dev, st_.st_ino)
                if tar and st_.st_nlink > 1 and key in inodes:
                    members.append(Member(prefix + rel, "hardlink", target=inodes[key]))
                    if rel.startswith(payload):
                        unstorable.append(f"hard-link member {rel!r}")
                else:
                    inodes[key] = prefix + rel
                    members.append(Member(prefix + rel, "file", Path(full).read_bytes()))
        dirnames[:] = [d for d in dirnames if d not in linked_dirs]
    expected = {k: set(v) for k, v in expected.items()}
    canary = str(outside / "canary.yaml")
    at = prefix + payload
    if not tar:
        expected = {_zip_name(at, k): v for k, v in expected.items()}
    for mutation in spec.mutations:
        first = next(
            (
                m
                for m in members
                if m.kind == "file" and _b(m.name).startswith(_b(at)) and b"metadata" not in _b(m.name)
            ),
            None,
        )
        if mutation in ("dup-same", "dup-different", "lying-size", "lying-crc") and first is None:
            continue
        if mutation in ("hardlink-canary", "hardlink-member") and not tar:
            continue  # a zip has no hard links
        if mutation in ("lying-size", "lying-crc") and tar:
            continue
        assert first is not None or mutation not in ("dup-same", "dup-different", "lying-size", "lying-crc")
        if mutation in ("dup-same", "dup-different"):
            data = first.data if mutation == "dup-same" else first.data + b"-second"
            members.append(Member(first.name, "file", data))
            rel = _b(first.name).decode("utf-8", "surrogateescape")[len(at) :]
            _expect(expected, rel, data)
        elif mutation == "lying-size":
            first.lie_size = len(first.data) + 7
            unstorable.append(f"member {first.name!r} whose header lies about its size")
        elif mutation == "lying-crc":
            first.lie_crc = True
            unstorable.append(f"member {first.name!r} whose CRC does not match its bytes")
        elif mutation == "hardlink-member":
            target = next((m.name for m in members if m.kind == "file"), "")
            members.append(Member(f"{at}hard.txt", "hardlink", target=target if isinstance(target, str) else ""))
            unstorable.append("hard-link member")
        elif mutation == "truncated":
            pass  # below, once written
        elif mutation == "non-utf8" and not tar:
            # no UTF-8 flag: the zip spec says CP437, so this is a legitimate, readable name
            members.append(Member(_b(at) + b"caf\xe9-cp437.txt", "file", b"cp437\n"))
            _expect(expected, "caf\xe9-cp437.txt".encode("latin-1").decode("cp437"), b"cp437\n")
        else:
            extra = _hostile_member(mutation, at, root, canary)
            members.extend(extra)
            unstorable.extend(f"{mutation} member {m.name!r}" for m in extra)
    if spec.fmt == "zip":
        write_zip(packed, members)
        if "truncated" in spec.mutations:
            packed.write_bytes(packed.read_bytes()[: max(30, packed.stat().st_size // 2)])
            unstorable.append("a truncated archive")
    elif write_tar(packed, members, gz=spec.fmt == "tgz", truncate="truncated" in spec.mutations):
        unstorable.append("a tar member cut short (its header claims bytes that are not there)")
    return expected


def _pack_7z(
    sub: Submission, folder: Path, packed: Path, outside: Path, expected: dict[str, set[bytes]], unstorable: list[str]
) -> dict[str, set[bytes]]:
    """A .7z of ``folder`` written by py7zr from the files on disk (links stored as links;
    FIFOs left out, py7zr would block reading them), plus SEVEN_ZIP_MUTATIONS."""
    import py7zr

    spec = sub.archive
    assert spec is not None
    prefix = f"{spec.prefix}/" if spec.prefix else ""
    payload = "data/" if sub.bag is not None else ""
    expected = {k: set(v) for k, v in expected.items()}
    entries: list[tuple[str, str]] = []  # (file on disk, name in the archive)
    unstorable[:] = [u for u in unstorable if not u.startswith(("symlink ", "fifo "))]  # judged below
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, folder)
        linked_dirs = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(filenames) + linked_dirs:
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            mode = os.lstat(full).st_mode
            try:
                (prefix + rel).encode("utf-16-le")
            except UnicodeEncodeError:
                # not UTF-8: py7zr cannot write the name, so it is left out of the .7z
                expected.pop(unicodedata.normalize("NFC", rel[len(payload) :]), None)
                continue
            if stat.S_ISFIFO(mode) or (stat.S_ISLNK(mode) and not os.path.isfile(full)):
                continue  # py7zr would block on a FIFO, and cannot store a link it cannot resolve
            if stat.S_ISLNK(mode):
                unstorable.append(f"symlink member {rel!r}")
            entries.append((full, prefix + rel))
        dirnames[:] = [d for d in dirnames if d not in linked_dirs]
    spare = folder.parent / "7z-spare"
    spare.mkdir()
    at = prefix + payload
    for mutation in spec.mutations:
        first = next(
            ((f, n) for f, n in entries if n.startswith(at) and "metadata" not in n and not os.path.islink(f)), None
        )
        if mutation in ("dup-same", "dup-different") and first is not None:
            source = first[0]
            if mutation == "dup-different":
                source = str(spare / "second")
                Path(source).write_bytes(Path(first[0]).read_bytes() + b"-second")
            entries.append((source, first[1]))
            _expect(expected, first[1][len(at) :], Path(source).read_bytes())
        elif mutation in ("symlink-canary", "symlink-relative"):
            link = spare / mutation
            os.symlink(
                str(outside / "canary.yaml")
                if mutation == "symlink-canary"
                else os.path.relpath(outside / "canary.yaml", spare),
                link,
            )
            entries.append((str(link), f"{at}{mutation}.txt"))
            unstorable.append(f"{mutation} member")
    try:
        with py7zr.SevenZipFile(packed, "w") as szf:
            for full, name in entries:
                szf.write(full, name)
    finally:
        import shutil

        shutil.rmtree(spare)
    return expected


def _hostile_member(mutation: str, at: str, root: Path, canary: str) -> list[Member]:
    """Members that must never be extracted as given (see the invariant's docstring)."""
    table: dict[str, list[Member]] = {
        "parent": [Member(at + "../" * 3 + "escaped-parent.txt", "file", b"escaped\n")],
        "absolute": [Member(str(root / "escaped-absolute.txt"), "file", b"escaped\n")],
        "absolute-canary": [Member(canary, "file", b"overwritten\n")],
        "nul": [Member(_b(at) + b"nul\x00name.txt", "file", b"nul\n")],
        "symlink-canary": [Member(f"{at}link.txt", "symlink", target=canary)],
        "symlink-relative": [Member(f"{at}rel-link.txt", "symlink", target="../" * 6 + "outside/canary.yaml")],
        "hardlink-canary": [Member(f"{at}hard-canary.txt", "hardlink", target=canary)],
        "backslash": [Member(f"{at}..\\..\\escaped-backslash.txt", "file", b"escaped\n")],
        "drive": [Member("C:/escaped-drive.txt", "file", b"escaped\n")],
        "file-and-folder": [Member(f"{at}both", "file", b"file\n"), Member(f"{at}both/inner.txt", "file", b"in\n")],
        "long-name": [Member(f"{at}{'n' * 300}.txt", "file", b"long\n")],
        "non-utf8": [Member(_b(at) + b"caf\xe9-latin1.txt", "file", b"latin1\n")],
        "fifo": [Member(f"{at}pipe", "fifo")],
        "device": [Member(f"{at}dev", "chr")],
        "empty-name": [Member("", "file", b"no name\n")],
        "dot-segments": [Member(f"{at}./a/./b/../dots.txt", "file", b"dots\n")],
    }
    return table.get(mutation, [])


def _build_bag(
    sub: Submission, folder: Path, outside: Path, fifos: list[Path], unstorable: list[str]
) -> dict[str, set[bytes]]:
    """A bag of ``sub.tree`` under ``folder``, shaped and mutated as ``sub.bag`` says."""
    import shutil

    spec = sub.bag or BagSpec()
    data_dir = folder / "data"
    data_dir.mkdir(parents=True)
    fifos += materialise(sub.tree, data_dir, outside)
    expected = expected_payload(sub.tree, unstorable)
    codec = _text_codec(spec.encoding) if spec.encode_tags else None
    enc = codec or "utf-8"

    def encode(text: str) -> bytes:
        try:
            return text.encode(enc)
        except (UnicodeError, LookupError, ValueError):  # the codec cannot: leave it UTF-8
            return text.encode("utf-8", "surrogateescape")

    # payload digests from the model, never by reading (a FIFO would block)
    lines: dict[str, list[tuple[str, str]]] = {a: [] for a in spec.algorithms}
    total, count = 0, 0
    for e in sub.tree:
        data = e.data if e.kind == "file" else hardlink_bytes(sub.tree, e) if e.kind == "hardlink" else None
        if data is not None:
            total += len(data)
            count += 1
        encoded = ("data/" + e.path).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        for a in spec.algorithms:
            lines[a].append((hashlib.new(a, data or b"").hexdigest(), encoded))
    m = set(spec.mutations)
    if "extra-file" in m:
        (data_dir / "extra-unlisted.txt").write_bytes(b"not in any manifest\n")
        _expect(expected, "extra-unlisted.txt", b"not in any manifest\n")
        total += len(b"not in any manifest\n")
        count += 1
    canary = (outside / "canary.yaml").read_bytes()
    for a in spec.algorithms:
        entries = lines[a]
        if "wrong-digest" in m and entries:
            entries[0] = (hashlib.new(a, b"something else").hexdigest(), entries[0][1])
        if "missing-file" in m:
            entries.append((hashlib.new(a, b"").hexdigest(), "data/ghost.txt"))
        if "outside-path" in m:
            entries.append((hashlib.new(a, canary).hexdigest(), "data/../../../outside/canary.yaml"))
        if "dup-line-same" in m and entries:
            entries.append(entries[0])
        if "dup-line-different" in m and entries:
            entries.append((hashlib.new(a, b"different").hexdigest(), entries[0][1]))
        if "dot-slash" in m:
            entries[:] = [(d, "./" + p) for d, p in entries]
        if "star" in m:
            entries[:] = [(d, "*" + p) for d, p in entries]
        if "upper-digest" in m:
            entries[:] = [(d.upper(), p) for d, p in entries]
    nl = "\r\n" if "crlf" in m else "\n"
    bom = "\ufeff" if "bom" in m else ""
    tags: dict[str, bytes] = {}
    tags["bagit.txt"] = f"BagIt-Version: {spec.version}{nl}Tag-File-Character-Encoding: {spec.encoding}{nl}".encode()
    oxum = f"{total}.{count}" if "wrong-oxum" not in m else f"{total + 1}.{count}"
    labels = ("payload-oxum", "bagging-date") if "lowercase-labels" in m else ("Payload-Oxum", "Bagging-Date")
    info = "" if "no-oxum" in m else f"{labels[0]}: {oxum}{nl}"
    tags["bag-info.txt"] = encode(bom + info + f"{labels[1]}: 2024-01-01{nl}Contact-Name: Trust invariant{nl}")
    for a in spec.algorithms:
        tags[f"manifest-{a}.txt"] = encode(bom + "".join(f"{d}  {p}{nl}" for d, p in lines[a]))
    if spec.package_info:
        tags["package-info.txt"] = encode(f"Note: a tag file nobody reads{nl}")
    if spec.fetch == "remote":
        tags["fetch.txt"] = encode(f"http://127.0.0.1:9/remote.bin 10 data/remote.bin{nl}")
    elif spec.fetch == "local":
        tags["fetch.txt"] = encode(f"file://{outside / 'canary.yaml'} - data/fetched.yaml{nl}")
    elif spec.fetch == "empty":
        tags["fetch.txt"] = b""
    if spec.tag_folder:
        tags["tags/notes.txt"] = b"a tag folder's file\n"
    tags[sub.metadata.name] = sub.metadata.render()
    if sub.files_csv is not None and sub.files_csv.site != "dir-link":
        tags["metadata/files.csv"] = sub.files_csv.render()

    def site_file(site: str) -> str:  # "manifest"/"tagmanifest": the first such file
        if site == "manifest":
            return f"manifest-{spec.algorithms[0]}.txt"
        if site == "tagmanifest":
            return f"tagmanifest-{(spec.tag_algorithms or ('md5',))[0]}.txt"
        return site

    sites: dict[str, str] = {site_file(s): t for s, t in spec.links}
    sites.update({site_file(s): "fifo" for s in spec.fifos})
    if sub.metadata.site != "file":
        sites[sub.metadata.name] = sub.metadata.site
    if sub.files_csv is not None and sub.files_csv.site not in ("file", "dir-link"):
        sites["metadata/files.csv"] = sub.files_csv.site
    # what each tag file will read as, through a link (for tag manifests that agree with it)
    seen: dict[str, bytes | None] = {}
    for name, body in tags.items():
        site = sites.get(name, "file")
        seen[name] = body if site == "file" else None if site in ("fifo", "absent") else _link_body(site, outside)
        if site == "file":
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(body)
    for a in spec.tag_algorithms:
        tag_lines = [(hashlib.new(a, b).hexdigest(), n) for n, b in seen.items() if b is not None]
        if "wrong-tagmanifest" in m and tag_lines:
            tag_lines[0] = (hashlib.new(a, b"not this").hexdigest(), tag_lines[0][1])
        if "tagmanifest-outside" in m:
            tag_lines.append((hashlib.new(a, canary).hexdigest(), "../outside/canary.yaml"))
        (folder / f"tagmanifest-{a}.txt").write_bytes(encode("".join(f"{d}  {p}{nl}" for d, p in tag_lines)))
    if sub.files_csv is not None and sub.files_csv.site == "dir-link":
        sites["metadata"] = "abs-dir:"
    replaced: list[str] = []  # folders made a link or FIFO: what was drawn inside them is gone with them
    for name, site in sorted(sites.items()):
        if any(name.startswith(f"{folder_name}/") for folder_name in replaced):
            continue
        target = folder / name
        if name in ("data", "tags", "metadata"):
            replaced.append(name)
        if name in ("data", "tags", "metadata") and target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        if name in ("data", "bagit.txt"):  # no data/ to store; or not a bag, a folder holding a link
            unstorable.append(f"{name} is a {'FIFO' if site == 'fifo' else 'link'}")
        if os.path.lexists(target):
            os.unlink(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if site == "absent":
            continue
        if site == "fifo":
            os.mkfifo(target)
            fifos.append(target)
        else:
            os.symlink(link_target(site, target, outside), target)
    return expected


def _link_body(key: str, outside: Path) -> bytes | None:
    kind, _, name = key.partition(":")
    if kind in ("abs", "rel") and name in CANARY_FILES:
        return (outside / name).read_bytes()
    return None


# --------------------------------------------------------------------------------------------
# composed strategies, one per family of submissions


@st.composite
def folder_submissions(draw: st.DrawFn, *, deep: str = "sometimes") -> Submission:
    """A folder with a random tree (links, FIFOs, hard links, awkward names) and valid metadata."""
    tree = draw(trees(deep=deep, reserved=RESERVED_TOP))
    return Submission("folder", tree, Metadata())


@st.composite
def metadata_submissions(draw: st.DrawFn) -> Submission:
    """A plain, harmless tree; metadata and files.csv vary (duplicate keys and columns, access
    levels, links, FIFOs, two metadata files)."""
    tree = draw(
        trees(
            name_strategy=safe_names.map(lambda s: s + ".txt"),
            specials=False,
            deep="never",
            max_entries=3,
            reserved=RESERVED_TOP,
        )
    )
    meta = draw(metadata_docs())
    paths = [unicodedata.normalize("NFC", e.path) for e in tree if e.kind == "file"]
    csv_spec = draw(files_csvs(paths))
    layout = draw(st.sampled_from(("folder", "folder", "bag")))
    return Submission(layout, tree, meta, csv_spec, BagSpec(tag_algorithms=("sha256",)) if layout == "bag" else None)


@st.composite
def access_submissions(draw: st.DrawFn) -> Submission:
    """Metadata that varies only in what decides access (no links, no FIFOs)."""
    tree = (Entry(("f.txt",), "file", b"access\n"),)
    meta = draw(metadata_docs(sites=False))
    return Submission("folder", tree, meta)


@st.composite
def archive_submissions(draw: st.DrawFn) -> Submission:
    """A .zip, .tar or .tar.gz packed from a tree (its links and FIFOs become members), maybe
    of a bag, plus member mutations."""
    specials = draw(st.booleans())
    tree = draw(trees(specials=specials, deep="sometimes", max_entries=5, reserved=RESERVED_TOP))
    of_bag = draw(st.integers(0, 4)) == 4
    return Submission("archive", tree, Metadata(), None, BagSpec() if of_bag else None, draw(archive_specs()))


@st.composite
def bag_submissions(draw: st.DrawFn, *, breaking_only: bool = False) -> Submission:
    """A BagIt bag built from a tree: valid, or mutated (digests, files, tag manifests, Oxum,
    encodings, versions), with links and FIFOs in tag files, tag folders and data/."""
    tree = draw(trees(specials=draw(st.integers(0, 3)) == 3, deep="sometimes", max_entries=5))
    spec = draw(bag_specs(breaking_only=breaking_only, encodings=not breaking_only, links=not breaking_only))
    return Submission("bag", tree, Metadata(), None, spec)

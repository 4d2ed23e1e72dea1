"""Generated zips and tars: either unpacked byte-exact or refused with a code, never anything else.

Members get names from three sources: ordinary generated paths, a small pool that makes
duplicates and file/folder clashes likely, and odd names (NUL, control characters, absolute,
drive letters, ``..``, backslashes, empty, ``.`` parts, very long, very deep). Some members are
links. Some archives are then damaged the way the hostile corpus damages them: central-directory
offsets rewritten so that entries overlap or point elsewhere, sizes that lie, a local name that
differs; tar sizes made negative or not numbers, a header checksum broken, the stream cut short.

The invariant, for every archive: either no error and every file member's bytes are on disk,
exactly, at the path the rules give, and nothing else is; or at least one error finding and
the destination is as empty as it was given. Nothing is ever written outside the destination.
Stronger still, where the generated input says so on its own: a clean archive must be
accepted, and one with a bad name, a link, a duplicate or a damage that changes bytes must be
refused.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import struct
import tarfile
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from archive.submission.extract import Limits, extract_archive

LIMITS = Limits(max_bytes=1_000_000, max_files=20, max_expansion_ratio=200, max_depth=6, max_path_bytes=120)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SEGMENT = st.text(st.sampled_from("abcXYZ019 -_.éü日Ωß"), min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
ORDINARY = st.lists(_SEGMENT, min_size=1, max_size=4).map("/".join)
POOL = st.sampled_from(
    ["a", "b", "a/b", "a/b/c", "A", "a/B", "caf\u00e9", "cafe\u0301", "\u2126", "\u03a9", "x/y", "x"]
)
ODD = st.sampled_from(
    [
        "",
        "/",
        ".",
        "./",
        "/abs.txt",
        "../up.txt",
        "a/../../up.txt",
        "a/..",
        "C:\\x.txt",
        "c:x",
        "a\\..\\b.txt",
        "a\\b.txt",
        "nul\x00.txt",
        "bell\x07.txt",
        "esc\x1b[2J.txt",
        "del\x7f.txt",
        "line\nbreak.txt",
        "tab\tname",
        "a//b.txt",
        "./a.txt",
        "x/./y.txt",
        "\u202eevil.txt",
        "\ufffe.txt",
        "n" * 260,
        "d/" * 7 + "deep.txt",
        "d/" * 6 + "ok.txt",
        "long/" * 30 + "x",
    ]
)
NAMES = st.one_of(ORDINARY, ORDINARY, ORDINARY, POOL, ODD)


@dataclass
class Spec:
    name: str
    kind: str  # file, dir, symlink, hardlink
    data: bytes = b""


MEMBERS = st.lists(
    st.builds(
        Spec,
        NAMES,
        st.sampled_from(["file"] * 8 + ["dir"] * 3 + ["symlink", "hardlink"]),
        st.binary(max_size=300) | st.just(b""),
    ),
    min_size=1,
    max_size=6,
)


# -- the rules, stated independently of archive/submission ------------------------------------

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def key_of(name: str) -> str:
    return "/".join(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def name_is_bad(name: str, kind: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    key = key_of(name)
    return bool(
        not name
        or "\x00" in name
        or name.startswith(("/", "\\"))
        or re.match("[A-Za-z]:", name)
        or ".." in parts
        or (not key and kind != "dir")
        or _CONTROL.search(name)
    )


def too_big_for_the_limits(key: str, kind: str) -> bool:
    parts = key.split("/")
    folders = len(parts) - (0 if kind == "dir" else 1)
    nfc = unicodedata.normalize("NFC", key).encode()
    return folders > LIMITS.max_depth or len(nfc) > LIMITS.max_path_bytes or any(len(p.encode()) > 255 for p in parts)


def verdict(members: list[Spec]) -> str:
    """'accept', 'refuse', or 'either' (only the invariant is checked)."""
    seen: dict[str, str] = {}
    files = 0
    for m in members:
        if m.kind in ("symlink", "hardlink") or name_is_bad(m.name, m.kind):
            return "refuse"
        key = key_of(m.name)
        if not key:
            continue
        if too_big_for_the_limits(key, m.kind):
            return "refuse"
        nfc = unicodedata.normalize("NFC", key)
        kind = "dir" if m.kind == "dir" else "file"
        if nfc in seen and not (kind == "dir" == seen[nfc]):
            return "refuse"
        seen.setdefault(nfc, kind)
        files += kind == "file"
    for key, kind in seen.items():
        if kind == "file" and any(other.startswith(key + "/") for other in seen):
            return "refuse"
    return "accept" if files <= LIMITS.max_files else "refuse"


# -- writing the archives ------------------------------------------------------------------------


def _zip(members: list[Spec], damage: str | None, pick: int) -> bytes:
    out, central, offsets, local = bytearray(), bytearray(), [], []
    for m in members:
        raw = m.name.encode("utf-8", "surrogatepass")
        if m.kind == "dir" and not raw.endswith(b"/"):
            raw += b"/"
        data = b"" if m.kind == "dir" else m.name.encode() if m.kind == "symlink" else m.data
        body = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = body.compress(data) + body.flush()
        crc = zlib.crc32(data)
        flags = 0x800 if not raw.isascii() else 0
        mode = {"dir": 0o40755, "symlink": 0o120777}.get(m.kind, 0o100644)  # a zip has no hard links
        offsets.append(len(out))
        out += (
            struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, 0x21, crc, len(packed), len(data), len(raw), 0)
            + raw
            + packed
        )
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | 20,
                20,
                flags,
                8,
                0,
                0x21,
                crc,
                len(packed),
                len(data),
                len(raw),
                0,
                0,
                0,
                0,
                mode << 16,
                offsets[-1],
            )
            + raw
        )
        local.append((len(raw), crc, len(packed), len(data)))
    entries = list(re.finditer(rb"PK\x01\x02", central))
    if damage and entries:
        at = entries[pick % len(entries)].start()
        if damage == "overlap" and len(entries) > 1:  # point this entry at another's local header
            other = offsets[(pick + 1) % len(entries)]
            struct.pack_into("<L", central, at + 42, other)
        elif damage == "expanded size lies":
            size = struct.unpack_from("<L", central, at + 24)[0]
            struct.pack_into("<L", central, at + 24, size + 1 + pick % 1000)
        elif damage == "compressed size grows":
            struct.pack_into("<L", central, at + 20, struct.unpack_from("<L", central, at + 20)[0] + 1)
        elif damage == "quoted overlap" and len(entries) > 1:
            # entry i's local extra field swallows its own data and entry i+1's local header, so both
            # entries read entry i+1's data: every name, size and CRC agrees, only the ranges overlap
            i = pick % (len(entries) - 1)
            _, _, packed, _ = local[i]
            next_name, crc, next_packed, size = local[i + 1]
            struct.pack_into("<H", out, offsets[i] + 28, packed + 30 + next_name)
            at = entries[i].start()
            struct.pack_into("<LLL", central, at + 16, crc, next_packed, size)
            struct.pack_into("<L", out, offsets[i] + 14, crc)  # the local header agrees too
            struct.pack_into("<LL", out, offsets[i] + 18, next_packed, size)
        elif damage == "local name differs":
            local = offsets[pick % len(entries)]
            if struct.unpack_from("<H", out, local + 26)[0]:
                out[local + 30] ^= 0x20 if chr(out[local + 30]).isalpha() else 0x01
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def _tar(members: list[Spec], damage: str | None, pick: int) -> bytes:
    out, offsets = io.BytesIO(), []
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            offsets.append(out.tell())
            info = tarfile.TarInfo(m.name)
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}.get(
                m.kind, tarfile.REGTYPE
            )
            info.linkname = "../../../etc/passwd" if m.kind in ("symlink", "hardlink") else ""
            if m.kind == "file":
                info.size = len(m.data)
                if damage == "pax size not a number" and pick % len(members) == len(offsets) - 1:
                    info.pax_headers = {"size": f"{len(m.data)}x"}
                tf.addfile(info, io.BytesIO(m.data))
            else:
                tf.addfile(info)
        end = out.tell()
    data = bytearray(out.getvalue())
    header = offsets[pick % len(offsets)]
    if damage == "checksum broken":
        data[header + 148] = ord("9") if data[header + 148] != ord("9") else ord("8")
    elif damage == "negative size":
        data[header + 124 : header + 136] = b"\xff" * 11 + b"\xf0"
        data[header + 148 : header + 156] = b" " * 8
        data[header + 148 : header + 156] = b"%06o\x00 " % sum(data[header : header + 512])
    elif damage == "cut short":
        del data[header + 1 + pick % max(1, end - header - 1) :]
    return bytes(data)


# -- the invariant -------------------------------------------------------------------------------


def _everything(root: Path) -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            assert not path.is_symlink(), f"a link was written: {path}"
            found[os.path.relpath(path, root)] = None if path.is_dir() else path.read_bytes()
    return found


def check(archive_bytes: bytes, suffix: str, members: list[Spec], expected: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / f"s{suffix}"
        archive.write_bytes(archive_bytes)
        dest = root / "a" / "b" / "c" / "dest"  # deep enough that no generated ".." could reach tmp
        dest.mkdir(parents=True)
        findings = extract_archive(archive, dest, LIMITS)
        errors = [f for f in findings if f.is_error]
        event(f"{suffix}: expected {expected}, {'refused' if errors else 'accepted'}")
        assert all(f.code.startswith("E1") and f.message for f in findings), findings
        assert _everything(root) == {
            **dict.fromkeys(("a", "a/b", "a/b/c", "a/b/c/dest")),
            **{f"a/b/c/dest/{k}": v for k, v in _everything(dest).items()},
            archive.name: archive_bytes,
        }, "something was written outside dest"
        if errors:
            assert _everything(dest) == {}, f"refused ({errors}) but left files behind"
            assert expected != "accept", f"a clean archive was refused: {errors}"
            return
        assert expected != "refuse", f"should have been refused: {members}"
        wanted: dict[str, bytes | None] = {}
        for m in members:
            key = key_of(m.name)
            if not key:
                continue
            parts = key.split("/")
            for i in range(1, len(parts)):
                wanted.setdefault("/".join(parts[:i]), None)
            wanted[key] = None if m.kind == "dir" else m.data
        assert _everything(dest) == wanted, "extracted, but not byte-exact"


DAMAGE_ZIP = st.sampled_from(
    [None, None, None, "overlap", "quoted overlap", "expanded size lies", "compressed size grows", "local name differs"]
)
DAMAGE_TAR = st.sampled_from(
    [None, None, None, "checksum broken", "negative size", "cut short", "pax size not a number"]
)


@PROPERTY
@given(members=MEMBERS, damage=DAMAGE_ZIP, pick=st.integers(0, 10_000))
def test_a_generated_zip_is_extracted_byte_exact_or_refused(members: list[Spec], damage: str | None, pick: int) -> None:
    members = [m for m in members if m.kind != "hardlink"]  # a zip has no hard links
    if not members:
        return
    # as the zip will hold them: a folder's name ends with "/", and a name ending with "/" is a folder
    members = [
        Spec(
            m.name if m.kind != "dir" or m.name.endswith("/") else m.name + "/",
            "dir" if m.name.endswith("/") else m.kind,
            b"" if m.name.endswith("/") or m.kind == "dir" else m.data,
        )
        for m in members
    ]
    expected = verdict(members)
    if damage in ("overlap", "quoted overlap") and len(members) > 1:
        expected = "refuse"
    elif damage in ("expanded size lies", "compressed size grows", "local name differs"):
        expected = "refuse"  # too short or too long once inflated; runs into the next entry; another name
    check(_zip(members, damage, pick), ".zip", members, expected)


@PROPERTY
@given(members=MEMBERS, damage=DAMAGE_TAR, pick=st.integers(0, 10_000), compress=st.booleans())
def test_a_generated_tar_is_extracted_byte_exact_or_refused(
    members: list[Spec], damage: str | None, pick: int, compress: bool
) -> None:
    members = [m for m in members if "\x00" not in m.name]  # a tar header cannot hold a NUL in a name
    if not members:
        return
    expected = verdict(members)
    if damage == "pax size not a number":
        files = [i for i, m in enumerate(members) if m.kind == "file"]
        expected = "refuse" if pick % len(members) in files else expected
    elif damage is not None:
        expected = "refuse"
    data = _tar(members, damage, pick)
    check(gzip.compress(data, mtime=0) if compress else data, ".tar.gz" if compress else ".tar", members, expected)

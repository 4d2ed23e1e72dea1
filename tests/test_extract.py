"""Unpacking archives: each class of hostile archive refused from its listing, the rest byte-exact.

One test (or a few) per class: overlapping zip entries, names as the archive holds them,
duplicates after normalisation, tar headers tarfile would coerce or skip, depth and path
length checked before extraction, expansion ratio, sizes that lie, nothing left behind,
and .7z. Generated archives are in tests/test_extract_properties.py; the same classes go
through the real command line in tests/test_hostile.py (tests/data/hostile/E12*).
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import sys
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

import py7zr
import pytest
import yaml
from click.testing import CliRunner

from archive.cli import main
from archive.submission import extract, sevenzip
from archive.submission.extract import Limits, extract_archive
from archive.submission.members import RATIO_GRACE_BYTES, Member
from archive.submission.writing import Budget
from tests.support.hostile_cases import METADATA_YAML, ZipEntry, load_cases, write_zip

LIMITS = Limits(max_bytes=10_000_000, max_files=1000, max_expansion_ratio=200)
#: the settings' defaults (archive/config.py)
DEFAULTS = Limits(
    max_bytes=64 * 1024**3, max_files=1_000_000, max_expansion_ratio=200, max_depth=512, max_path_bytes=3072
)


def codes(findings) -> list[str]:
    return sorted({f.code for f in findings if f.is_error})


def unpack(archive: Path, limits: Limits = LIMITS) -> tuple[list, Path]:
    dest = archive.parent / (archive.name + ".out")
    dest.mkdir()
    return extract_archive(archive, dest, limits), dest


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root``: files with their bytes, folders as None (links fail the test)."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            assert not path.is_symlink(), path
            found[str(path.relative_to(root))] = None if path.is_dir() else path.read_bytes()
    return found


def case_archive(name: str, dest: Path) -> Path:
    case = next(c for c in load_cases() if c.name == name)
    return case.build(dest / "build")


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any member's bytes start to be copied."""

    def never(*args: object) -> None:
        raise AssertionError("extraction started")

    monkeypatch.setattr(extract, "_copy_bounded", never)


# -- 1. zip structure: overlapping entries, local headers, impossible sizes -------------------


def test_a_fifield_overlap_bomb_is_refused_from_its_structure(tmp_path: Path, tripwire: None) -> None:
    bomb = case_archive("E127_zip_overlapping_entries", tmp_path)
    declared = sum(i.file_size for i in zipfile.ZipFile(bomb).infolist())
    assert bomb.stat().st_size < 64 * 1024 and declared > 200 * 1024 * 1024
    found, dest = unpack(bomb, Limits(max_bytes=1 << 30, max_files=1000, max_expansion_ratio=0))
    assert codes(found) == ["E127"] and len(found) == 199  # every overlapping entry named
    assert "overlap" in found[0].message and list(dest.iterdir()) == []


def _rewrite_central(path: Path, index: int, field_at: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    at = -1
    for _ in range(index + 1):
        at = data.index(b"PK\x01\x02", at + 1)
    struct.pack_into(fmt, data, at + field_at, value)
    path.write_bytes(bytes(data))


def _three(path: Path) -> Path:
    return write_zip(
        path, [ZipEntry.of("a.txt", b"a" * 100), ZipEntry.of("b.txt", b"b" * 100), ZipEntry.of("c.txt", b"c" * 100)]
    )


@pytest.mark.parametrize(
    "lie, expected",
    [
        ("offset of c -> offset of a", "E127"),  # two entries, one local header: the names disagree
        ("offset of c past the end", "E127"),
        ("compressed size of a + 1", "E127"),  # runs into b's local header
        ("compressed size of c huge", "E127"),  # runs past the directory
        ("expanded size of a - 1", "E120"),  # fails its CRC once inflated
    ],
)
def test_central_directory_lies_are_refused(tmp_path: Path, lie: str, expected: str) -> None:
    z = _three(tmp_path / "lie.zip")
    entries = zipfile.ZipFile(z).infolist()
    if lie == "offset of c -> offset of a":
        _rewrite_central(z, 2, 42, "<L", entries[0].header_offset)
    elif lie == "offset of c past the end":
        _rewrite_central(z, 2, 42, "<L", z.stat().st_size + 10)
    elif lie == "compressed size of a + 1":
        _rewrite_central(z, 0, 20, "<L", entries[0].compress_size + 1)
    elif lie == "compressed size of c huge":
        _rewrite_central(z, 2, 20, "<L", 1 << 20)
    else:
        _rewrite_central(z, 0, 24, "<L", entries[0].file_size - 1)
    found, dest = unpack(z)
    assert codes(found) == [expected], found
    assert list(dest.iterdir()) == []


def test_entries_sharing_one_local_header_under_the_same_name(tmp_path: Path) -> None:
    z = write_zip(tmp_path / "same.zip", [ZipEntry.of("a.txt", b"x" * 50), ZipEntry.of("a.txt", b"y" * 50)])
    _rewrite_central(z, 1, 42, "<L", 0)
    assert codes(unpack(z)[0]) == ["E126", "E127"]


def test_bytes_before_or_after_the_zip_are_refused(tmp_path: Path) -> None:
    honest = _three(tmp_path / "honest.zip").read_bytes()
    (tmp_path / "before.zip").write_bytes(b"MZ" + bytes(100) + honest)  # a self-extractor's stub
    (tmp_path / "after.zip").write_bytes(honest + b"trailing")
    for name in ("before.zip", "after.zip"):
        found, dest = unpack(tmp_path / name)
        assert codes(found) == ["E127"], (name, found)
        assert list(dest.iterdir()) == []


def test_a_stored_entry_whose_sizes_disagree_and_a_folder_with_data(tmp_path: Path) -> None:
    z = tmp_path / "stored.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.txt", b"a" * 10)
        zf.writestr("folder/", b"data in a folder entry")
    _rewrite_central(z, 0, 24, "<L", 11)  # stored: expanded size != stored size
    found = unpack(z)[0]
    assert codes(found) == ["E120", "E127"]
    assert any("folder entry" in f.message for f in found)


def test_an_unsupported_or_encrypted_method_is_refused_from_the_listing(tmp_path: Path, tripwire: None) -> None:
    z = write_zip(tmp_path / "m.zip", [ZipEntry.of("a.txt", b"a")])
    data = bytearray(z.read_bytes())
    for sig, at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        struct.pack_into("<H", data, data.index(sig) + at, 9)  # deflate64
    z.write_bytes(bytes(data))
    found = unpack(z)[0]
    assert codes(found) == ["E120"] and "compression method 9" in found[0].message


# -- 4. names as the archive holds them ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw, flags, code",
    [
        (b"photo.jpg\x00../../x.sh", 0, "E121"),  # zipfile's filename stops at the NUL
        (b"bell\x07.txt", 0, "E131"),
        (b"esc\x1b[2J.txt", 0, "E131"),
        (b"caf\xe9.txt", 0x800, "E130"),  # flagged UTF-8, is not
        (b"/etc/cron.d/x", 0, "E121"),
        (b"C:/x.txt", 0, "E121"),
        (b"a/../../x", 0, "E121"),
        (b"a\\..\\..\\x", 0, "E121"),
        (b"", 0, "E121"),
        (b"./", 0, None),  # the archive's own root folder: nothing to write
    ],
)
def test_names_are_checked_as_the_directory_holds_them(
    tmp_path: Path, raw: bytes, flags: int, code: str | None
) -> None:
    z = tmp_path / "n.zip"
    z.write_bytes(_zip_with_raw_name(raw, flags))
    found, dest = unpack(z)
    assert codes(found) == ([code] if code else []), found
    if code:
        assert list(dest.iterdir()) == []


def _zip_with_raw_name(raw: bytes, flags: int, extra: bytes = b"") -> bytes:
    body = b"" if raw.endswith(b"/") else b"data"
    crc = zlib.crc32(body)
    local = (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 0, 0, 0x21, crc, len(body), len(body), len(raw), len(extra))
        + raw
        + extra
        + body
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | 20,
            20,
            flags,
            0,
            0,
            0x21,
            crc,
            len(body),
            len(body),
            len(raw),
            len(extra),
            0,
            0,
            0,
            0o100644 << 16,
            0,
        )
        + raw
        + extra
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def test_names_without_the_utf8_flag(tmp_path: Path) -> None:
    cases = {
        "utf8.zip": (b"caf\xc3\xa9.txt", b"", "café.txt"),  # valid UTF-8 without the flag (macOS, Info-ZIP)
        "cp437.zip": (b"caf\x82.txt", b"", "café.txt"),  # code page 437, as the zip specification says
        "unicode-path.zip": (
            b"cafe.txt",
            struct.pack("<HHBL", 0x7075, 5 + 6, 1, zlib.crc32(b"cafe.txt")) + "日本.txt".encode()[:6],
            "日本",
        ),
    }
    for name, (raw, extra, expected) in cases.items():
        z = tmp_path / name
        z.write_bytes(_zip_with_raw_name(raw, 0, extra))
        found, dest = unpack(z)
        assert found == [], (name, found)
        assert [p.name for p in dest.iterdir()] == [expected], name


# -- duplicates and clashes after the normalisation used to write ------------------------------


@pytest.mark.parametrize(
    "first, second",
    [
        ("a/b.txt", "a\\b.txt"),
        ("x.txt", "./x.txt"),
        ("a/b.txt", "a//b.txt"),
        ("caf\u00e9.txt", "cafe\u0301.txt"),
        ("photos", "photos/a.txt"),
        ("photos/a.txt", "photos"),
        ("same.txt", "same.txt"),
    ],
)
def test_members_written_to_the_same_path_are_refused(tmp_path: Path, first: str, second: str) -> None:
    for kind in ("zip", "tar"):
        archive = tmp_path / f"dup.{kind}"
        _archive(archive, [(first, b"1"), (second, b"2")])
        found, dest = unpack(archive)
        assert codes(found) == ["E126"], (kind, found)
        assert list(dest.iterdir()) == []


def test_a_folder_listed_twice_is_no_clash(tmp_path: Path) -> None:
    archive = tmp_path / "dirs.tar"
    _archive(archive, [("d/", None), ("d/", None), ("d/f.txt", b"f")])
    found, dest = unpack(archive)
    assert found == [] and tree(dest) == {"d": None, "d/f.txt": b"f"}


def _archive(path: Path, members: list[tuple[str, bytes | None]]) -> Path:
    """A .zip or .tar of (name, bytes); None is a folder."""
    if path.suffix == ".zip":
        import warnings

        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, data in members:
                info = zipfile.ZipInfo(name.rstrip("/") + "/" if data is None else name)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data or b"")
        return path
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


# -- 3. tar headers tarfile would coerce, or skip silently --------------------------------------


def _tar(members: list[tuple[str, bytes]], pax: dict[str, dict[str, str]] | None = None) -> tuple[bytes, list[int]]:
    out, offsets = io.BytesIO(), []
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT if pax else tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            offsets.append(out.tell())
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = (pax or {}).get(name, {})
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue(), offsets


def _with_size_field(block: bytes, field: bytes) -> bytes:
    head = bytearray(block[:512])
    head[124:136] = field
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\x00 " % sum(head)
    return bytes(head) + block[512:]


FIVE = [
    ("metadata.yaml", METADATA_YAML.encode()),
    ("a.txt", b"a" * 600),
    ("b.txt", b"b\n"),
    ("c.txt", b"c\n"),
    ("d.txt", b"d\n"),
]


def _tar_case(kind: str) -> bytes:
    data, at = _tar(FIVE)
    if kind == "negative size":
        return data[: at[1]] + _with_size_field(data[at[1] :], b"\xff" * 11 + b"\x00")
    if kind == "size not octal":
        return data[: at[1]] + _with_size_field(data[at[1] :], b"0000000009x\x00")
    if kind == "damaged checksum":
        return data[: at[2] + 148] + bytes([data[at[2] + 148] ^ 1]) + data[at[2] + 149 :]
    if kind == "cut inside data":
        return data[: at[1] + 512 + 300]
    if kind == "no end blocks":
        return data[: at[4] + 1024]
    if kind == "data after the end":
        return data + b"junk after the end"
    if kind == "pax size not a number":
        return _tar(FIVE, {"a.txt": {"size": "600x"}})[0]
    if kind == "pax size negative":
        return _tar(FIVE, {"a.txt": {"size": "-512"}})[0]
    if kind == "folder with data":
        folder = tarfile.TarInfo("folder")
        folder.type, folder.size = tarfile.DIRTYPE, 512
        return data[: at[1]] + folder.tobuf(format=tarfile.USTAR_FORMAT) + data[at[1] :]  # whose header is it?
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "negative size",
        "size not octal",
        "damaged checksum",
        "cut inside data",
        "no end blocks",
        "data after the end",
        "pax size not a number",
        "pax size negative",
        "folder with data",
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_tar_headers_tarfile_would_coerce_or_skip_are_refused(tmp_path: Path, kind: str, compressed: bool) -> None:
    import gzip

    data = _tar_case(kind)
    archive = tmp_path / ("t.tar.gz" if compressed else "t.tar")
    archive.write_bytes(gzip.compress(data) if compressed else data)
    found, dest = unpack(archive)
    assert codes(found) == ["E120"], found
    assert list(dest.iterdir()) == []


def test_tarfile_alone_loses_members_behind_a_damaged_header(tmp_path: Path) -> None:
    """Why the end of a tar is checked: tarfile's own listing just stops."""
    with tarfile.open(fileobj=io.BytesIO(_tar_case("damaged checksum"))) as tf:
        assert tf.getnames() == ["metadata.yaml", "a.txt"]  # b, c and d silently gone
    with tarfile.open(fileobj=io.BytesIO(_tar_case("negative size"))) as tf:
        assert tf.getmember("a.txt").size < 0


def test_a_sparse_tar_member_is_refused(tmp_path: Path) -> None:
    """An old-GNU sparse member ('S', as GNU tar --sparse writes): 600 bytes of data for a 1 MiB file."""
    head = bytearray(tarfile.TarInfo("sparse.bin").tobuf(format=tarfile.GNU_FORMAT))
    head[156] = ord("S")
    head[386:410] = b"%011o\x00%011o\x00" % (0, 600)  # one region: 600 bytes at offset 0
    head[483:495] = b"%011o\x00" % (1 << 20)  # the real size
    head[124:136] = b"%011o\x00" % 600
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\x00 " % sum(head)
    data, at = _tar(FIVE[:2])
    archive = tmp_path / "sparse.tar"
    archive.write_bytes(data[: at[1]] + bytes(head) + b"s" * 600 + bytes(424) + bytes(1024))
    with tarfile.open(archive) as tf:  # tarfile reads it as a sparse regular file
        assert tf.getmember("sparse.bin").issparse()
    found = unpack(archive)[0]
    assert codes(found) == ["E123"] and "sparse" in found[0].message


# -- 5. depth and path length, from the listing ------------------------------------------------


def _deep_tar(
    path: Path, levels: int, files_per_leaf: int = 1, chains: int = 1, format: int = tarfile.PAX_FORMAT
) -> Path:
    with tarfile.open(path, "w", format=format) as tf:
        for chain in range(chains):
            folder = f"c{chain}/"
            for _ in range(levels - 1):
                info = tarfile.TarInfo(folder)
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
                folder += "d/"
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
            for i in range(files_per_leaf):
                data = f"{chain}/{i}\n".encode()
                info = tarfile.TarInfo(f"{folder}f{i}.txt")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def test_a_1000_level_tar_is_refused_from_its_listing_in_a_second(
    tmp_path: Path, tripwire: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = _deep_tar(tmp_path / "deep.tar", 1000)
    monkeypatch.setattr(extract.Tree, "make_dirs", lambda *a: (_ for _ in ()).throw(AssertionError("mkdir")))
    started = time.monotonic()
    found, dest = unpack(deep, DEFAULTS)
    assert time.monotonic() - started < 3
    assert codes(found) == ["E129"] and len(found) == 1  # one finding for the whole too-deep subtree
    assert "512" in found[0].message and list(dest.iterdir()) == []


def test_a_1000_level_tar_unpacks_without_recursion_when_the_limits_allow(tmp_path: Path) -> None:
    deep = _deep_tar(tmp_path / "deep.tar", 1000)
    limits = Limits(max_bytes=1 << 20, max_files=10, max_depth=1000, max_path_bytes=4000)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + 60)  # far below 1,000: any recursion per level would fail
    try:
        found, dest = unpack(deep, limits)
    finally:
        sys.setrecursionlimit(old)
    leaf = dest.joinpath("c0", *["d"] * 999)
    try:
        assert found == []
        assert (leaf / "f0.txt").read_bytes() == b"0/0\n"
    finally:  # pytest's own clean-up (shutil.rmtree) recurses once per level: take the chain down here
        (leaf / "f0.txt").unlink(missing_ok=True)
        while leaf != dest and leaf.exists():
            leaf.rmdir()
            leaf = leaf.parent


def _frames() -> int:
    frame, count = sys._getframe(), 0
    while frame is not None:
        frame, count = frame.f_back, count + 1
    return count


def test_a_10000_folder_transfer_100_levels_deep_is_accepted_with_the_defaults(tmp_path: Path) -> None:
    """Its listing passes every check; unpacking is shown on a tenth of it (removing 10,000 deep
    folders again takes this file system far longer than the archive takes to check them)."""
    from archive.submission import tarlist
    from archive.submission.members import check_members, listed

    transfer = _deep_tar(tmp_path / "transfer.tar", 100, files_per_leaf=2, chains=100, format=tarfile.USTAR_FORMAT)
    size = transfer.stat().st_size
    started = time.monotonic()
    with open(transfer, "rb") as fh:
        tf, stream = tarlist.open_tar(fh, size, DEFAULTS)
        with tf:
            members = listed(tarlist.tar_members(tf), DEFAULTS, size)
            assert check_members(members, DEFAULTS, "transfer.tar", size) == []
            assert tarlist.check_end(tf, stream) is None
    assert time.monotonic() - started < 10
    assert sum(m.kind == "dir" for m in members) == 10_000 and max(m.name.count("/") for m in members) == 100

    tenth = _deep_tar(tmp_path / "tenth.tar", 100, files_per_leaf=2, chains=10, format=tarfile.USTAR_FORMAT)
    found, dest = unpack(tenth, DEFAULTS)
    assert found == [] and sum(len(d) for _, d, _ in os.walk(dest)) == 1000
    assert dest.joinpath("c7", *["d"] * 99, "f1.txt").read_bytes() == b"7/1\n"


def test_paths_and_names_too_long_to_store(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "long.zip", [("a/" * 250 + "x.txt", b"x"), ("n" * 300 + ".txt", b"y"), ("fine.txt", b"z")]
    )
    found = unpack(archive, Limits(max_bytes=1000, max_files=10, max_path_bytes=400))[0]
    assert [f.code for f in found] == ["E129", "E129"]
    assert "max_path_bytes" in found[0].message and "255" in found[1].message


# -- 2. expansion ratio, declared and actual ---------------------------------------------------


def test_a_member_far_over_the_ratio_is_refused_and_small_ones_are_not(tmp_path: Path, tripwire: None) -> None:
    z = _archive(
        tmp_path / "ratio.zip", [("small-zeros.bin", bytes(RATIO_GRACE_BYTES // 2)), ("big-zeros.bin", bytes(8 << 20))]
    )
    found = unpack(z)[0]
    assert codes(found) == ["E128"]
    assert {f.path for f in found} == {"big-zeros.bin", "ratio.zip"}  # the member, and the whole archive


def test_the_whole_archive_ratio_counts_members_each_under_the_grace(tmp_path: Path, tripwire: None) -> None:
    z = _archive(tmp_path / "many.zip", [(f"z{i}.bin", bytes(500_000)) for i in range(15)])
    found = unpack(z)[0]
    assert [f.code for f in found] == ["E128"] and found[0].path == "many.zip"


def test_no_ratio_limit_when_the_setting_is_0(tmp_path: Path) -> None:
    z = _archive(tmp_path / "zeros.zip", [("zeros.bin", bytes(4 << 20))])
    found, dest = unpack(z, Limits(max_bytes=10 << 20, max_files=10, max_expansion_ratio=0))
    assert found == [] and (dest / "zeros.bin").stat().st_size == 4 << 20


def test_actual_bytes_are_bounded_whatever_a_member_declares() -> None:
    limits = Limits(max_bytes=3000, max_files=10, max_expansion_ratio=2)
    liar = Member("liar.bin", "file", 10)
    assert extract._copy_bounded(io.BytesIO(b"x" * 11), io.BytesIO(), Budget(limits, 10_000), liar)[0] == "E120"
    honest = Member("big.bin", "file", 5000)
    assert extract._copy_bounded(io.BytesIO(b"x" * 5000), io.BytesIO(), Budget(limits, 10_000), honest)[0] == "E125"
    limits = Limits(max_bytes=1 << 30, max_files=10, max_expansion_ratio=2)
    big = Member("big.bin", "file", 3 << 20)
    problem = extract._copy_bounded(io.BytesIO(bytes(3 << 20)), io.BytesIO(), Budget(limits, 1000), big)
    assert problem is not None and problem[0] == "E128"


def test_a_targz_ratio_bomb_is_refused_while_listing(tmp_path: Path, tripwire: None) -> None:
    bomb = case_archive("E128_targz_expansion_ratio_bomb", tmp_path)
    started = time.monotonic()
    assert codes(unpack(bomb, Limits(max_bytes=64 << 20, max_files=10, max_expansion_ratio=200))[0]) == ["E128"]
    assert time.monotonic() - started < 1


def test_a_huge_pax_header_is_refused_not_read_into_memory(tmp_path: Path) -> None:
    import gzip

    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, 1 << 30
    archive = tmp_path / "pax.tar.gz"
    archive.write_bytes(gzip.compress(info.tobuf(format=tarfile.USTAR_FORMAT) + bytes(1 << 20)))
    found = unpack(archive, Limits(max_bytes=1 << 40, max_files=10, max_expansion_ratio=0))[0]
    assert codes(found) == ["E120"] and "extended data" in found[0].message


# -- 7. all at once, nothing left behind --------------------------------------------------------


def test_every_bad_member_is_reported_at_once(tmp_path: Path) -> None:
    z = write_zip(
        tmp_path / "all.zip",
        [
            ZipEntry.of("../up.txt", b"1"),
            ZipEntry.of("/abs.txt", b"2"),
            ZipEntry.of("nul\x00.txt", b"3"),
            ZipEntry.of("bell\x07.txt", b"4"),
            ZipEntry.of("dup.txt", b"5"),
            ZipEntry.of("dup.txt", b"6"),
            ZipEntry.of("secret.txt", b"7", flags=1),
            ZipEntry.of("ok.txt", b"8"),
        ],
    )
    found = unpack(z)[0]
    assert sorted(f.code for f in found) == ["E120", "E121", "E121", "E121", "E126", "E131"]


def test_a_failure_half_way_leaves_the_destination_empty(tmp_path: Path) -> None:
    entries = [ZipEntry.of(f"deep/{i}/file.txt", b"fine\n" * 100) for i in range(20)]
    entries.append(ZipEntry("deep/last.txt", b"\xff" * 64, 100, zlib.crc32(bytes(100))))  # a corrupt stream
    found, dest = unpack(write_zip(tmp_path / "late.zip", entries))
    assert codes(found) == ["E120"] and found[0].path == "deep/last.txt"
    assert list(dest.iterdir()) == []


def test_nothing_is_ever_written_through_an_existing_link(tmp_path: Path) -> None:
    """The destination is the caller's empty folder; even if something put a link there, it is not followed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    z = _archive(tmp_path / "a.zip", [("sub/x.txt", b"x")])
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "sub")
    found = extract_archive(z, dest, LIMITS)
    assert codes(found) == ["E126"] and list(outside.iterdir()) == []


# -- 6. .7z -------------------------------------------------------------------------------------


def _seven(path: Path, members: dict[str, bytes | None], **kwargs: object) -> Path:
    with py7zr.SevenZipFile(path, "w", **kwargs) as szf:  # type: ignore[arg-type]
        for name, data in members.items():
            if data is None:
                (path.parent / "empty-dir").mkdir(exist_ok=True)
                szf.write(path.parent / "empty-dir", name)
            else:
                szf.writestr(data, name)
    return path


def test_a_7z_is_unpacked_byte_exact(tmp_path: Path) -> None:
    members: dict[str, bytes | None] = {
        "top": None,
        "top/a.txt": b"alpha\n",
        "top/sub/b.bin": os.urandom(70_000),
        "top/empty.txt": b"",
        "top/caf\u00e9.txt": b"accent\n",
    }
    found, dest = unpack(_seven(tmp_path / "s.7z", members))
    assert found == []
    assert tree(dest) == {"top": None, "top/sub": None, **{k: v for k, v in members.items() if v is not None}}


def test_a_non_solid_multi_block_7z(tmp_path: Path) -> None:
    path = tmp_path / "blocks.7z"
    with py7zr.SevenZipFile(path, "w", filters=[{"id": py7zr.FILTER_ZSTD}]) as szf:
        for i in range(5):
            szf.writestr(os.urandom(1000), f"f{i}.bin")
    found, dest = unpack(path)
    assert found == [] and len(list(dest.iterdir())) == 5


@pytest.mark.parametrize(
    "name, code",
    [
        ("E122_7z_symlink_member", "E122"),
        ("E120_7z_encrypted", "E120"),
        ("E121_7z_slip_parent_member", "E121"),
        ("E128_7z_expansion_ratio_bomb", "E128"),
    ],
)
def test_hostile_7z_are_refused_before_unpacking(tmp_path: Path, name: str, code: str, tripwire: None) -> None:
    found, dest = unpack(case_archive(name, tmp_path))
    assert code in codes(found) and list(dest.iterdir()) == []


def test_a_7z_with_an_encrypted_header_or_duplicate_names(tmp_path: Path) -> None:
    hidden = _seven(tmp_path / "h.7z", {"a.txt": b"a"}, password="pw", header_encryption=True)
    found = unpack(hidden)[0]
    assert codes(found) == ["E120"] and "encrypted" in found[0].message
    twice = tmp_path / "twice.7z"
    with py7zr.SevenZipFile(twice, "w") as szf:
        szf.writestr(b"1", "same.txt")
        szf.writestr(b"2", "same.txt")
    assert codes(unpack(twice)[0]) == ["E126"]


def test_a_damaged_7z_is_a_finding(tmp_path: Path) -> None:
    good = _seven(tmp_path / "g.7z", {"a.txt": b"hello" * 1000}).read_bytes()
    (tmp_path / "cut.7z").write_bytes(good[:40])
    (tmp_path / "flipped.7z").write_bytes(good[:40] + bytes([good[40] ^ 0xFF]) + good[41:])
    (tmp_path / "junk.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + os.urandom(200))
    for name in ("cut.7z", "flipped.7z", "junk.7z"):
        found, dest = unpack(tmp_path / name)
        assert codes(found) == ["E120"], (name, found)
        assert list(dest.iterdir()) == []


def test_7z_special_members_and_memory_hungry_blocks() -> None:
    unix = 0x8000  # FILE_ATTRIBUTE_UNIX_EXTENSION
    for mode, kind in (
        (stat.S_IFCHR | 0o644, "device"),
        (stat.S_IFIFO | 0o644, "fifo"),
        (stat.S_IFSOCK | 0o644, "other"),
        (stat.S_IFREG | 0o644, "file"),
        (stat.S_IFDIR | 0o755, "other"),
    ):
        f = py7zr.py7zr.ArchiveFile(0, {"attributes": unix | (mode << 16), "emptystream": True})  # type: ignore
        assert sevenzip._kind(f)[0] == kind, oct(mode)
    assert sevenzip._coder_memory(b"\x21", bytes([40]))[1] > sevenzip.MAX_CODER_MEMORY  # type: ignore[index]
    assert sevenzip._coder_memory(b"\x21", bytes([24]))[1] == 16 << 20  # type: ignore[index]
    assert sevenzip._coder_memory(b"\x03\x01\x01", b"\x5d" + struct.pack("<L", 1 << 31))[1] == 1 << 31  # type: ignore


def test_archive_ingest_of_a_7z_through_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    payload = {
        "harbour/metadata.yaml": METADATA_YAML.encode(),
        "harbour/masters/notes.txt": b"harbour notes\n",
        "harbour/masters/data.csv": b"a,b\n1,2\n",
    }
    archive = tmp_path / "harbour.7z"
    with py7zr.SevenZipFile(archive, "w") as szf:
        for name, data in payload.items():
            szf.writestr(data, name)
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump({"storage": "storage", "workers": 1, "identify_engine": "fido"}))
    env = {k: None for k in os.environ if k.startswith("ARCHIVE_")}
    home = tmp_path / "home"
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "--home", str(home), "ingest", str(archive), "--profile", "heritage", "--json"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    shown = CliRunner().invoke(
        main,
        ["--config", str(config), "--home", str(home), "show", stored["id"], "--json"],
        env=env,
        catch_exceptions=False,
    )
    assert sorted(f["path"] for f in json.loads(shown.stdout)["files"]) == ["masters/data.csv", "masters/notes.txt"]


def test_a_7z_whose_list_of_files_is_a_bomb_is_refused_before_py7zr_decodes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "names.7z"
    with py7zr.SevenZipFile(path, "w") as szf:
        for i in range(300):
            szf.writestr(b"", "n" * 200 + f"{i:04}.txt")  # empty files: only the list of names is big
    monkeypatch.setattr(sevenzip, "HEADER_GRACE_BYTES", 0)  # so that 300 names are enough to show it
    opened: list[object] = []
    monkeypatch.setattr(sevenzip, "open_7z", lambda *a: opened.append(a))
    found, _dest = unpack(path, Limits(max_bytes=1 << 20, max_files=1000, max_expansion_ratio=20))
    assert codes(found) == ["E128"] and "list of files" in found[0].message and opened == []
    monkeypatch.undo()
    assert unpack(path.rename(tmp_path / "again.7z"), LIMITS)[0] == []  # within the grace: accepted

"""The submission scan (archive/submission/scan.py): the whole of a bag is walked (tag files and
tag folders too), without recursion, with depth and path limits from the settings; every name it
accepts is round-tripped by the archive's manifest writer and by bagit-python's reader."""

from __future__ import annotations

import os
import shutil
import socket
import time
import tracemalloc
import unicodedata
from pathlib import Path

import bagit
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from archive.fixity.hashing import copy_and_hash
from archive.model import FileRecord
from archive.packaging.bag.check import validate_bag
from archive.packaging.bag.paths import OTHER_LINE_BREAKS
from archive.packaging.bag.write import write_tag_files
from archive.submission.scan import Scan, scan_folder
from tests.support.hostile_cases import write_bag, write_metadata
from tests.test_safeopen import SECRET, no_hang

SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def codes(scan: Scan) -> set[str]:
    return {f.code for f in scan.findings.errors}


def shown(scan: Scan) -> str:
    return "\n".join(str(f) for f in scan.findings.items)


def a_bag(root: Path) -> Path:
    """A bag with the tag files and tag folders tools write beside data/."""
    bag = write_bag(
        root,
        {"a.txt": b"a\n", "sub/b.txt": b"b\n"},
        tag_files={"fetch.txt": b"", "tagmanifest-sha256.txt": b"", "mets.xml": b"<mets/>\n"},
    )
    (bag / "metadata" / "submissionDocumentation").mkdir(parents=True)
    (bag / "metadata" / "rights.csv").write_text("basis\ncopyright\n")
    (bag / "metadata" / "submissionDocumentation" / "note.txt").write_text("note\n")
    (bag / "logs").mkdir()
    (bag / "logs" / "transfer.log").write_text("ok\n")
    return bag


# ------------------------------------------------------------------------ the whole bag is walked


def test_a_bags_tag_files_are_listed_relative_to_its_root(tmp_path: Path) -> None:
    scan = scan_folder(a_bag(tmp_path / "bag"), 100)
    assert scan.is_bag and not scan.findings.errors, shown(scan)
    assert sorted(f.path for f in scan.files) == ["a.txt", "sub/b.txt"]
    assert [f.path for f in scan.tag_files] == [
        "bag-info.txt",
        "bagit.txt",
        "fetch.txt",
        "logs/transfer.log",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "metadata/rights.csv",
        "metadata/submissionDocumentation/note.txt",
        "metadata.yaml",
        "mets.xml",
        "tagmanifest-sha256.txt",
    ]
    assert scan.metadata_file == tmp_path / "bag" / "metadata.yaml"
    rights = next(f for f in scan.tag_files if f.path == "metadata/rights.csv")
    with rights.open() as stream:  # the very file that was listed, through the one way in
        assert stream.read() == b"basis\ncopyright\n"
    assert rights.source == tmp_path / "bag" / "metadata" / "rights.csv"


def test_a_folder_that_is_no_bag_has_no_tag_files(tmp_path: Path) -> None:
    root = tmp_path / "sub"
    (root / "metadata").mkdir(parents=True)
    write_metadata(root)
    (root / "metadata" / "files.csv").write_text("path\n")
    (root / "metadata" / "notes.txt").write_text("payload\n")
    scan = scan_folder(root, 100)
    assert not scan.is_bag and scan.tag_files == [] and not scan.findings.errors
    assert [f.path for f in scan.files] == ["metadata/notes.txt"]
    assert scan.files_csv == root / "metadata" / "files.csv"


@pytest.mark.parametrize(
    "where, make, code",
    [
        ("bag-info.txt", "link-file", "E137"),
        ("bagit.txt", "link-file", "E137"),
        ("manifest-sha256.txt", "link-file", "E137"),
        ("tagmanifest-sha256.txt", "link-file", "E137"),
        ("fetch.txt", "link-file", "E137"),
        ("package-info.txt", "link-file", "E137"),
        ("metadata", "link-folder", "E137"),
        ("logs/transfer.log", "link-file", "E137"),
        ("metadata/submissionDocumentation", "link-folder", "E137"),
        ("bag-info.txt", "fifo", "E138"),
        ("tagmanifest-sha256.txt", "fifo", "E138"),
        ("logs/pipe", "fifo", "E138"),
        ("metadata/sock", "socket", "E138"),
        ("data/sub", "link-folder", "E137"),
    ],
)
def test_a_link_or_special_file_anywhere_in_a_bag_is_a_finding(
    tmp_path: Path, where: str, make: str, code: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET + b": value\n")
    bag = a_bag(tmp_path / "bag")
    target = bag / where
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    if make == "link-file":
        target.symlink_to(outside / "secret.txt")
    elif make == "link-folder":
        target.symlink_to(outside)
    elif make == "fifo":
        os.mkfifo(target)
    else:
        monkeypatch.chdir(target.parent)  # a socket's path is short (108 bytes): bind it relative
        sock = socket.socket(socket.AF_UNIX)
        request.addfinalizer(sock.close)
        sock.bind(target.name)
    scan = no_hang(lambda: scan_folder(bag, 100), [target] if make == "fifo" else [])
    payload = where.startswith("data/")
    shown_path = where[5:] if payload else where
    if where == "bagit.txt":
        assert not scan.is_bag  # no regular bagit.txt: a plain folder, with its link refused
    assert (code, shown_path) in {(f.code, f.path) for f in scan.findings.errors}, shown(scan)
    assert SECRET.decode() not in shown(scan)
    assert not any(f.path.startswith(shown_path + "/") for f in [*scan.files, *scan.tag_files])  # never entered


def test_the_bags_data_folder_as_a_link_is_refused(tmp_path: Path) -> None:
    bag = a_bag(tmp_path / "bag")
    shutil.move(bag / "data", tmp_path / "elsewhere")
    (bag / "data").symlink_to(tmp_path / "elsewhere")
    scan = scan_folder(bag, 100)
    assert ("E137", "data") in {(f.code, f.path) for f in scan.findings.errors}
    assert scan.files == [] and "E150" not in codes(scan)


def test_a_bag_without_data_folder(tmp_path: Path) -> None:
    bag = a_bag(tmp_path / "bag")
    shutil.rmtree(bag / "data")
    assert "E150" in codes(scan_folder(bag, 100))


@pytest.mark.parametrize("name", [" leading-space.txt", "*starred.txt", "~home.txt"])
def test_tag_file_names_manifest_readers_would_change_are_refused(tmp_path: Path, name: str) -> None:
    bag = a_bag(tmp_path / "bag")
    (bag / name).write_text("tag\n")
    scan = scan_folder(bag, 100)
    assert ("E133", name) in {(f.code, f.path) for f in scan.findings.errors}, shown(scan)
    (bag / name).unlink()
    (bag / "data" / name).write_text("payload\n")  # under data/ the manifest path starts 'data/': fine
    assert not scan_folder(bag, 100).findings.errors


# ------------------------------------------------------------------------ names and line breaks


@pytest.mark.parametrize("char", sorted(OTHER_LINE_BREAKS))
def test_names_with_a_line_break_only_python_sees_are_refused(tmp_path: Path, char: str) -> None:
    root = tmp_path / "sub"
    root.mkdir()
    write_metadata(root)
    (root / f"a{char}b.txt").write_text("x\n")
    scan = scan_folder(root, 100)
    expected = "E131" if ord(char) < 0x20 else "E133"
    assert codes(scan) == {expected}, shown(scan)
    assert f"U+{ord(char):04X}" in shown(scan) or expected == "E131"
    assert not shown(scan).count(char)  # escaped in findings


# ------------------------------------------------------------------------ depth, size, limits


def test_depth_and_path_length_limits_are_parameters(tmp_path: Path) -> None:
    root = tmp_path / "sub"
    root.mkdir()
    write_metadata(root)
    deep = root.joinpath(*["d"] * 520)
    os.makedirs(deep)
    (deep / "deep.txt").write_text("520 levels down\n")
    scan = no_hang(lambda: scan_folder(root, 100))  # no RecursionError: the walk is iterative
    assert codes(scan) == {"E134"} and "512 levels" in shown(scan)
    assert scan_folder(root, 100, max_depth=520).findings.errors == []
    assert "E134" in codes(scan_folder(root, 100, max_depth=519))
    scan = scan_folder(root, 100, max_depth=600, max_path_bytes=1000)
    assert codes(scan) == {"E134"} and "1000 bytes" in shown(scan)


def test_the_walk_stops_after_max_files(tmp_path: Path) -> None:
    root = tmp_path / "sub"
    root.mkdir()
    for i in range(50):
        (root / f"f{i:02d}").write_bytes(b"")
    scan = scan_folder(root, 10)
    assert codes(scan) == {"E124"} and len(scan.files) == 11


def test_ten_thousand_folders_a_hundred_levels_deep_pass(tmp_path: Path) -> None:
    root = tmp_path / "transfer"
    root.mkdir()
    write_metadata(root)
    for branch in range(100):
        folder = root / f"b{branch:02d}"
        for level in range(100):
            folder = folder / f"l{level:02d}"
            folder.mkdir(parents=True)
            if level % 10 == 9:
                (folder / "page.txt").write_bytes(b"")
    started = time.monotonic()
    scan = scan_folder(root, 1_000_000)
    assert not scan.findings.errors and len(scan.files) == 1000
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_a_hundred_thousand_files_scan_in_seconds_in_modest_memory(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for folder in range(100):
        (root / f"box{folder:03d}").mkdir(parents=True)
        for i in range(1000):
            os.close(os.open(root / f"box{folder:03d}" / f"scan-{i:04d}.tif", os.O_CREAT | os.O_WRONLY))
    write_metadata(root)
    started = time.monotonic()
    scan = scan_folder(root, 1_000_000)
    took = time.monotonic() - started
    assert len(scan.files) == 100_000 and not scan.findings.errors
    assert took < 60, f"{took:.1f} s"  # seconds on a loaded CI machine; about 3 s on an idle laptop
    tracemalloc.start()
    try:
        scan_folder(root, 1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 120 * 1024 * 1024, f"{peak / 1e6:.0f} MB for 100,000 files"


# ------------------------------------------------------------------------ names round-trip (hypothesis)


def store_as_bag(scan: Scan, bag: Path, extra: list[str] = ()) -> None:  # type: ignore[assignment]
    """What ingest does with a scan, in small: copy through the one way in, write our manifests."""
    records = []
    for f in scan.files:
        target = bag / "data" / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with f.open() as src:
            size, digests = copy_and_hash(src, target, ["sha256", "sha512"], fsync=False)
        records.append(FileRecord(path=f.path, size=size, digests=digests))
    for name in extra:
        source = next(t for t in scan.tag_files if t.path == name)
        (bag / name).parent.mkdir(parents=True, exist_ok=True)
        with source.open() as src:
            (bag / name).write_bytes(src.read())
    oxum = f"{sum(r.size for r in records)}.{len(records)}"
    write_tag_files(bag, records, ["sha256", "sha512"], {"Payload-Oxum": [oxum]}, extra_tag_files=list(extra))


def _make(path: Path, data: bytes = b"x\n") -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except (OSError, UnicodeEncodeError, ValueError):
        assume(False)  # a name this file system (or Python's fsencode) cannot hold


#: any Unicode, with the characters that break manifests and their readers drawn often
AWKWARD = [
    "\n",
    "\r",
    "\t",
    " ",
    "\u00a0",
    "\u3000",
    "%",
    "%0A",
    "%25",
    "*",
    "~",
    "#",
    ":",
    "\\",
    "\ufeff",
    "\u0301",
    "\u202e",
    "\x1f",
    "\x7f",
    *sorted(OTHER_LINE_BREAKS),
]
names = (
    st.lists(st.characters(exclude_characters="/\x00") | st.sampled_from(AWKWARD), min_size=1, max_size=10)
    .map("".join)
    .filter(lambda s: s not in (".", ".."))
)


@SLOW
@given(parts=st.lists(names, min_size=1, max_size=2))
@example(parts=["minutes\u2028draft.txt"]).via("U+2028")
@example(parts=["next\x85line.txt"]).via("NEL")
@example(parts=["two\r\nbreaks.txt"]).via("CR LF")
@example(parts=[" folder", "*star~.txt"]).via("leading characters inside data/")
def test_every_payload_name_the_scan_accepts_round_trips_through_both_readers(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    work = tmp_path_factory.mktemp("names")
    root = work / "submission"
    root.mkdir()
    write_metadata(root)
    _make(root.joinpath(*parts))
    scan = scan_folder(root, 100)
    if scan.findings.errors:  # refused: with a code and a message, never an exception
        assert all(f.code[:2] == "E1" and f.message for f in scan.findings.errors)
        return
    [scanned] = scan.files
    assert scanned.path == unicodedata.normalize("NFC", "/".join(parts))
    bag = work / "bag"
    store_as_bag(scan, bag)
    bagit.Bag(str(bag)).validate()  # bagit-python reads back every name the scan accepts
    report = validate_bag(bag)
    assert report.valid, report.errors
    assert report.contents.payload_entries().keys() == {f"data/{scanned.path}"}


@SLOW
@given(name=names, folder=st.booleans())
@example(name=" leading.txt", folder=False).via("leading space")
@example(name="*starred.txt", folder=False).via("md5sum marker")
@example(name="line\u2029break", folder=True).via("U+2029")
def test_every_tag_file_name_the_scan_accepts_round_trips_through_both_readers(
    tmp_path_factory: pytest.TempPathFactory, name: str, folder: bool
) -> None:
    work = tmp_path_factory.mktemp("tagnames")
    submitted = write_bag(work / "submitted", {"a.txt": b"a\n"})
    rel = f"metadata/{name}" if folder else name
    assume(
        rel not in ("data", "bagit.txt", "bag-info.txt", "metadata.yaml", "fetch.txt")
        and not rel.startswith(("manifest-", "tagmanifest-"))
    )
    _make(submitted / rel, b"tag\n")
    scan = scan_folder(submitted, 100)
    if scan.findings.errors:
        assert all(f.code[:2] == "E1" and f.message for f in scan.findings.errors)
        return
    stored = unicodedata.normalize("NFC", rel)
    assert stored in {t.path for t in scan.tag_files}
    bag = work / "bag"
    store_as_bag(scan, bag, extra=[stored])
    bagit.Bag(str(bag)).validate()
    report = validate_bag(bag)
    assert report.valid, report.errors
    assert stored in report.contents.tagfile_entries()


@settings(max_examples=40, deadline=None)
@given(links=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=8))
def test_hard_links_outside_the_submission_are_refused(tmp_path_factory, links) -> None:
    """E143 exactly for the files with a name outside the submission; links all inside stay W139."""
    import os

    from archive.submission.scan import scan_folder

    tmp = tmp_path_factory.mktemp("links")
    outside, root = tmp / "outside", tmp / "sub"
    outside.mkdir()
    root.mkdir()
    targets = []
    for i in range(4):
        (root / f"f{i}.txt").write_text(f"file {i}\n")
        targets.append(root / f"f{i}.txt")
    expect_outside: set[str] = set()
    for n, (target, out) in enumerate(links):
        where = (outside if out else root) / f"link{n}.txt"
        os.link(targets[target], where)
        if out:
            expect_outside.add(f"f{target}.txt")
    scan = scan_folder(root, 1000)
    refused = {f.path.split("/")[-1] for f in scan.findings.errors if f.code == "E143"}
    named = {p for p in refused if p.startswith("f")}
    assert named == expect_outside
    assert {f.code for f in scan.findings.errors} <= {"E143"}

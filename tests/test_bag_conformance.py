"""BagIt validation: the Library of Congress conformance suite, plus one test per extra check.

Every bag is copied to ``tmp_path`` first; ``checked`` asserts validation left its bytes unchanged."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import socket
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest

from archive.errors import BagInvalid
from archive.packaging.bag.check import BagReport, validate_bag
from archive.packaging.bag.codes import CODES

SUITE = Path(__file__).parent / "data" / "bagit-conformance-suite"
HELLO = hashlib.sha256(b"hello\n").hexdigest()
with (SUITE / "expected_results.csv").open(encoding="utf-8", newline="") as _rows:
    ROWS = list(csv.DictReader(_rows))


def tree_digest(root: Path) -> str:
    """One digest over every name, type, file content and link target under ``root``."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            full = Path(folder, name)
            if full.is_symlink():
                data = b"L" + os.fsencode(os.readlink(full))
            else:
                data = b"F" + full.read_bytes() if full.is_file() else b"D"
            digest.update(os.fsencode(full.relative_to(root)) + b"\0" + data + b"\0")
    return digest.hexdigest()


def checked(bag: Path, **kwargs: Any) -> BagReport:
    """validate_bag, asserting it neither changed the bag nor the working directory."""
    before, cwd = tree_digest(bag), os.getcwd()
    report = validate_bag(bag, **kwargs)
    assert tree_digest(bag) == before, "validate_bag modified the bag"
    assert os.getcwd() == cwd
    json.dumps(report.as_dict())
    return report


def codes(report: BagReport) -> set[str]:
    return {f.code for f in report.findings}


# --------------------------------------------------------------------------- conformance suite


def copy_suite_bag(path: str, tmp_path: Path) -> Path:
    bag = Path(shutil.copytree(SUITE / path, tmp_path / "bag", symlinks=True))
    assert tree_digest(bag) == tree_digest(SUITE / path)
    return bag


def test_suite_copy_is_complete() -> None:
    assert len(ROWS) == 60
    on_disk = {p.relative_to(SUITE).as_posix() for p in SUITE.glob("v*/*/*") if p.is_dir()}
    assert on_disk == {row["path"] for row in ROWS}
    assert (SUITE / "PROVENANCE.md").read_text(encoding="utf-8").count("9ab4870") == 1


@pytest.mark.parametrize("row", ROWS, ids=[row["path"] for row in ROWS])
def test_conformance_suite(row: dict[str, str], tmp_path: Path) -> None:
    category = row["category"]
    if (category, os.name) in {("windows-only", "posix"), ("linux-only", "nt")}:
        pytest.skip(f"{category} bag: its paths are only dangerous on the other kind of system")
    bag = copy_suite_bag(row["path"], tmp_path)
    report = checked(bag)
    assert codes(report) <= set(CODES)
    if category == "valid":
        assert report.valid and not report.errors, report.errors
        assert checked(bag, fast=True).valid
    elif category in ("invalid", "linux-only", "windows-only"):
        assert not report.valid, report.findings
    else:
        assert category == "warning"
        # every warning bag is v0.97 and some are md5-only: those two generic warnings do not count
        specific = {f.code for f in report.warnings} - {"W301", "W302"}
        assert specific or not report.valid, "a warning bag passed without a warning of its own"


@pytest.mark.parametrize(
    "path, code",
    [
        ("v1.0/invalid/bagit-with-invalid-whitespace", "E302"),
        ("v0.97/warning/made-with-md5sum-tools", "W303"),
        ("v0.97/warning/relative-path", "W304"),
    ],
)
def test_the_three_bags_bagit_python_misjudges(path: str, code: str, tmp_path: Path) -> None:
    bag = copy_suite_bag(path, tmp_path)
    assert bagit.Bag(str(bag)).is_valid()  # bagit-python 1.9.0 accepts all three without a word
    assert code in codes(checked(bag))


# --------------------------------------------------------------------------- small bags


def retag(bag: Path) -> None:
    """Recompute every tag manifest after a test edited a tag file."""
    for tagmanifest in bag.glob("tagmanifest-*.txt"):
        alg = tagmanifest.name[len("tagmanifest-") : -len(".txt")]
        names = [line.split(None, 1)[1] for line in tagmanifest.read_text().splitlines() if line.strip()]
        digests = {n: hashlib.new(alg, (bag / n).read_bytes()).hexdigest() for n in names}
        tagmanifest.write_text("".join(f"{digest}  {n}\n" for n, digest in digests.items()))


def rewrite(bag: Path, name: str, change: Callable[[str], str]) -> None:
    """Change one tag file (``manifest-sha256.txt``, ``fetch.txt``...), then fix the tag manifests."""
    file = bag / name
    file.write_text(change(file.read_text() if file.exists() else ""))
    retag(bag)


def make(
    tmp_path: Path,
    files: dict[str, bytes] | None = None,
    algorithms: tuple[str, ...] = ("sha256", "sha512"),
    version: str = "1.0",
) -> Path:
    """A bag made by bagit-python (which writes v0.97), then declared ``version``."""
    bag = tmp_path / "bag"
    for rel, data in (files if files is not None else {"hello.txt": b"hello\n"}).items():
        (bag / rel).parent.mkdir(parents=True, exist_ok=True)
        (bag / rel).write_bytes(data)
    bagit.make_bag(str(bag), checksums=list(algorithms))
    rewrite(bag, "bagit.txt", lambda _: f"BagIt-Version: {version}\nTag-File-Character-Encoding: UTF-8\n")
    return bag


def test_clean_bag_is_valid_with_no_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = make(tmp_path, {"a.txt": b"abc", "sub/b.txt": b"hello"})
    monkeypatch.setattr(os, "chdir", lambda _path: pytest.fail("validation must not chdir"))
    report = checked(bag)
    assert report.valid and report.findings == []
    assert (report.version, report.payload_files, report.payload_bytes) == ("1.0", 2, 8)
    assert report.algorithms == ["sha256", "sha512"]
    assert report.as_dict()["valid"] is True
    report.raise_if_invalid()


@pytest.mark.parametrize(
    "bagit_txt, ok",
    [
        (b"BagIt-Version : 1.0\nTag-File-Character-Encoding : UTF-8\n", False),
        (b"BagIt-Version:  1.0\nTag-File-Character-Encoding: UTF-8\n", False),
        (b"BagIt-Version:\t1.0\nTag-File-Character-Encoding: UTF-8\n", False),
        (b" BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", False),
        (b"BagIt-Version: 1.0 \nTag-File-Character-Encoding: UTF-8\n", False),
        (b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", False),
        (b"BagIt-Version: 1.0\n", False),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nExtra: tag\n", False),
        (b"\xef\xbb\xbfBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", False),
        (b"BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8\r\n", True),
        (b"BagIt-Version: 1.0\rTag-File-Character-Encoding: UTF-8\r", True),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8", True),
    ],
)
def test_bagit_txt_is_checked_to_the_byte(tmp_path: Path, bagit_txt: bytes, ok: bool) -> None:
    bag = make(tmp_path)
    (bag / "bagit.txt").write_bytes(bagit_txt)
    retag(bag)
    report = checked(bag)
    if ok:
        assert report.findings == []
    else:
        assert not report.valid and "E302" in {f.code for f in report.errors}


@pytest.mark.parametrize("new, code", [(" *data/", "W303"), ("  ./data/", "W304")])
def test_md5sum_marker_and_dot_slash_paths_warn(tmp_path: Path, new: str, code: str) -> None:
    bag = make(tmp_path, algorithms=("sha256",))
    rewrite(bag, "manifest-sha256.txt", lambda text: text.replace("  data/", new))
    report = checked(bag)
    assert report.valid and code in codes(report)
    assert new.strip() + "hello.txt" in next(f.message for f in report.findings if f.code == code)


def test_old_version_warns(tmp_path: Path) -> None:
    report = checked(make(tmp_path, version="0.97"))
    assert report.valid and codes(report) == {"W301"} and report.version == "0.97"


@pytest.mark.parametrize("algorithms, weak", [(("md5",), True), (("sha1", "md5"), True), (("md5", "sha256"), False)])
def test_weak_algorithms_warn(tmp_path: Path, algorithms: tuple[str, ...], weak: bool) -> None:
    report = checked(make(tmp_path, algorithms=algorithms))
    assert report.valid and ("W302" in codes(report)) is weak


def test_algorithms_required(tmp_path: Path) -> None:
    bag = make(tmp_path, algorithms=("sha256",))
    assert checked(bag, algorithms_required=("sha256",)).valid
    report = checked(bag, algorithms_required=("sha256", "SHA512"))
    assert [(f.code, f.path) for f in report.errors] == [("E312", "manifest-sha512.txt")]


def test_names_differing_only_by_case_warn(tmp_path: Path) -> None:
    (tmp_path / "probe").touch()
    if (tmp_path / "PROBE").exists():
        pytest.skip("case-insensitive file system")
    report = checked(make(tmp_path, {"readme.txt": b"1", "README.txt": b"2"}))
    assert report.valid and "W305" in codes(report)


def test_names_colliding_after_nfc_normalisation_warn(tmp_path: Path) -> None:
    name = "Núñez.txt"
    bag = make(tmp_path, {unicodedata.normalize(form, name): b"same" for form in ("NFC", "NFD")})
    if len(os.listdir(bag / "data")) != 2:
        pytest.skip("this file system normalises names")
    report = checked(bag)
    assert "W306" in codes(report) and "W305" not in codes(report)


def test_special_system_files_warn(tmp_path: Path) -> None:
    report = checked(make(tmp_path, {"a.txt": b"a", ".DS_Store": b"x", "sub/Thumbs.db": b"y"}))
    assert report.valid
    assert {f.path for f in report.findings if f.code == "W307"} == {"data/.DS_Store", "data/sub/Thumbs.db"}


@pytest.mark.parametrize(
    "version, digest, code", [("0.97", HELLO, "W308"), ("1.0", HELLO, "E311"), ("0.97", "0" * 64, "E311")]
)
def test_same_path_listed_twice(tmp_path: Path, version: str, digest: str, code: str) -> None:
    bag = make(tmp_path, algorithms=("sha256",), version=version)
    rewrite(bag, "manifest-sha256.txt", lambda text: text + f"{digest}  data/hello.txt\n")
    report = checked(bag)
    assert code in codes(report) and report.valid is (code == "W308")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for owner, name in ((socket.socket, "connect"), (socket, "create_connection"), (socket, "getaddrinfo")):
        monkeypatch.setattr(owner, name, lambda *_a, **_k: pytest.fail("validation must not use the network"))


def test_fetch_txt_listing_remote_files_is_an_error(tmp_path: Path, no_network: None) -> None:
    bag = make(tmp_path, algorithms=("sha256",))
    digest = hashlib.sha256(b"remote").hexdigest()
    rewrite(bag, "manifest-sha256.txt", lambda text: text + f"{digest}  data/remote.txt\n")
    rewrite(bag, "fetch.txt", lambda _: "https://example.org/remote.txt 6 data/remote.txt\n")
    messages = [f.message for f in checked(bag).errors if f.code == "E308"]
    assert messages[0].startswith("fetch.txt lists remote files; the archive does not fetch over the network")
    assert not (bag / "data" / "remote.txt").exists()


def test_fetch_txt_listing_only_present_files_warns(tmp_path: Path, no_network: None) -> None:
    bag = make(tmp_path)
    rewrite(bag, "fetch.txt", lambda _: "https://example.org/hello.txt 6 data/hello.txt\n")
    report = checked(bag)
    assert report.valid and "W310" in codes(report)


OUTSIDE = hashlib.sha256(b"outside").hexdigest()


@pytest.mark.parametrize(
    "name, line",
    [
        ("manifest-sha256.txt", f"{OUTSIDE}  ../outside.txt"),
        ("manifest-sha256.txt", f"{OUTSIDE}  data/../../outside.txt"),
        ("manifest-sha256.txt", f"{OUTSIDE}  /etc/hostname"),
        ("manifest-sha256.txt", f"{OUTSIDE}  ~/outside.txt"),
        ("fetch.txt", "https://example.org/outside.txt 7 ../outside.txt"),
    ],
)
def test_paths_escaping_the_bag_are_errors(tmp_path: Path, no_network: None, name: str, line: str) -> None:
    bag = make(tmp_path, algorithms=("sha256",))
    (tmp_path / "outside.txt").write_bytes(b"outside")
    rewrite(bag, name, lambda text: text + line + "\n")
    assert "E307" in {f.code for f in checked(bag).errors}


def test_checksum_mismatch_names_file_and_both_digests(tmp_path: Path) -> None:
    bag = make(tmp_path, algorithms=("sha256",))
    (bag / "data" / "hello.txt").write_bytes(b"HELLO\n")  # same size: Payload-Oxum still agrees
    report = checked(bag)
    [finding] = report.errors
    assert (finding.code, finding.path) == ("E304", "data/hello.txt")
    assert HELLO in finding.message
    assert hashlib.sha256(b"HELLO\n").hexdigest() in finding.message
    with pytest.raises(BagInvalid) as raised:
        report.raise_if_invalid()
    assert raised.value.findings == report.findings


def test_size_change_reports_oxum_and_the_corrupt_file(tmp_path: Path) -> None:
    bag = make(tmp_path, {"a.txt": b"a", "b.txt": b"b"}, algorithms=("sha256",))
    (bag / "data" / "b.txt").write_bytes(b"bigger")
    assert [(f.code, f.path) for f in checked(bag).errors] == [("E309", ""), ("E304", "data/b.txt")]


def test_missing_and_unexpected_files(tmp_path: Path) -> None:
    bag = make(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    (bag / "data" / "a.txt").unlink()
    (bag / "data" / "c.txt").write_bytes(b"a")  # same count and bytes: Payload-Oxum still agrees
    errors = {(f.code, f.path) for f in checked(bag).errors}
    assert errors == {("E305", "data/a.txt"), ("E306", "data/c.txt")}


def test_fast_mode_skips_checksums_but_checks_oxum_and_completeness(tmp_path: Path) -> None:
    bag = make(tmp_path)
    (bag / "data" / "hello.txt").write_bytes(b"HELLO\n")
    assert checked(bag, fast=True).valid
    assert not checked(bag).valid
    (bag / "data" / "extra.txt").write_bytes(b"x")
    assert {"E309", "E306"} <= codes(checked(bag, fast=True))


def test_missing_or_non_bag_paths_are_findings(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_bytes(b"x")
    for target in (tmp_path / "nowhere", tmp_path / "folder", tmp_path / "file"):
        report = validate_bag(target)
        assert not report.valid and [f.code for f in report.findings] == ["E301"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda bag: (bag / "bag-info.txt").write_text("Payload-Oxum: abc\n"),
        lambda bag: (bag / "bag-info.txt").write_text("no colon here\n"),
        lambda bag: (bag / "fetch.txt").write_text("only-two fields\n"),
        lambda bag: (bag / "fetch.txt").write_text("not-a-url - data/hello.txt\n"),
        lambda bag: (bag / "manifest-sha256.txt").write_bytes(b"\xff\xfe garbage\n"),
        lambda bag: (bag / "manifest-sha256.txt").write_text("not a checksum line\n"),
        lambda bag: (bag / "manifest-sha256.txt").unlink(),
        lambda bag: shutil.rmtree(bag / "data"),
        lambda bag: (bag / "bagit.txt").write_text("BagIt-Version: 9.0\nTag-File-Character-Encoding: UTF-8"),
        lambda bag: (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: NOPE"),
        lambda bag: (bag / "data" / "link").symlink_to("/etc/hostname"),
    ],
)
def test_no_exception_escapes_on_broken_bags(tmp_path: Path, damage: Callable[[Path], Any]) -> None:
    bag = make(tmp_path, algorithms=("sha256",))
    damage(bag)
    report = checked(bag)
    assert not report.valid and all(f.code in CODES for f in report.findings)

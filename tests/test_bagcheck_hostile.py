"""Hostile bags against the bag check (archive/packaging/bag/check.py) and the whole command line.

* a link, FIFO, socket or device anywhere in a bag is refused before bagit-python opens anything,
  and no byte of what a link points at (a canary holding a random secret, /proc/self/environ)
  reaches a finding or the output;
* no finding quotes a line of a file;
* only character sets are accepted as Tag-File-Character-Encoding;
* tag manifests are verified in fast mode too (so at ingest);
* tag files and manifests are read in linear time, whatever their shape;
* generated bags with links, FIFOs, odd names and deep nesting never hang, never raise, never leak.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.cli import main
from archive.packaging.bag.check import BagReport, validate_bag
from archive.packaging.bag.codes import CODES
from archive.packaging.bag.read import MAX_LINE_CHARS
from archive.submission.scan import scan_folder
from tests.support.hostile_cases import HOSTILE, load_cases, write_bag
from tests.test_safeopen import make_deep, no_hang, remove_deep

CANARY_CASES = [c for c in load_cases() if c.spec.get("canary")]
ENVIRON = Path("/proc/self/environ")


def bag_with_tag_manifest(root: Path, payload: dict[str, bytes] | None = None, version: str = "1.0") -> Path:
    bag = write_bag(root, payload or {"a.txt": b"a\n"})
    (bag / "bagit.txt").write_text(f"BagIt-Version: {version}\nTag-File-Character-Encoding: UTF-8\n")
    retag(bag, ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"])
    return bag


def retag(bag: Path, names: list[str]) -> None:
    for algo in ("sha256", "sha512"):
        lines = [f"{hashlib.new(algo, (bag / n).read_bytes()).hexdigest()}  {n}\n" for n in names]
        (bag / f"tagmanifest-{algo}.txt").write_text("".join(lines))


def codes(report: BagReport) -> set[str]:
    return {f.code for f in report.errors}


def everything(report: BagReport) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False)


def run_cli(tmp: Path, args: list[str]) -> tuple[int, str]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    config = tmp / "settings.yaml"
    config.write_text(
        yaml.safe_dump({"storage": "storage", "workers": 1, "max_metadata_bytes": 1 << 20, "max_files": 1000})
    )
    env = {k: None for k in os.environ if k.startswith("ARCHIVE_")}
    result = CliRunner().invoke(
        main, ["--config", str(config), "--home", str(home), *args], env=env, catch_exceptions=False
    )
    return result.exit_code, result.output


def environ_markers() -> list[str]:
    """Entries of this process's start-up environment long enough not to occur by chance."""
    if not ENVIRON.exists():
        return []
    return [e for e in ENVIRON.read_bytes().decode("utf-8", "replace").split("\0") if len(e) >= 24]


# ------------------------------------------------------------------------ canaries, through the CLI


@pytest.mark.parametrize("case", CANARY_CASES, ids=[c.name for c in CANARY_CASES])
def test_no_byte_of_a_linked_file_reaches_any_output(
    case: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    build = tmp_path / "build"
    submission = case.build(build)
    secret_lines = [ln for ln in (build / case.spec["canary"]).read_text().splitlines() if ln.strip()]
    secret = next(word for line in secret_lines for word in line.split() if word.startswith("CANARY-"))
    markers = [secret, *environ_markers()]
    outputs = []
    for args in (
        ["ingest", str(submission), "--profile", "heritage"],
        ["ingest", str(submission), "--profile", "heritage", "--json"],
        ["validate", str(submission), "--profile", "heritage", "--json"],
        ["bag", "validate", str(submission)],
        ["bag", "validate", "--fast", "--json", str(submission)],
    ):
        status, output = no_hang(lambda: run_cli(tmp_path, args))  # noqa: B023 (called at once)
        assert status == 1, output
        outputs.append(output)
    captured = capfd.readouterr()
    seen = "\n".join([*outputs, captured.out, captured.err])
    assert case.expect in seen and ("E317" in seen or not (submission / "bagit.txt").exists())
    for marker in markers:
        assert marker not in seen, f"{marker[:40]!r} reached the output"
    home = tmp_path / "home"
    for path in home.rglob("*"):  # nothing stored, logged or catalogued holds it either
        if path.is_file() and not path.is_symlink():
            assert secret.encode() not in path.read_bytes(), path


def test_a_manifest_linked_to_the_environment_prints_none_of_it(tmp_path: Path) -> None:
    if not ENVIRON.exists():
        pytest.skip("no /proc/self/environ here")
    bag = bag_with_tag_manifest(tmp_path / "bag")
    for name in ("manifest-sha256.txt", "tagmanifest-sha256.txt", "fetch.txt", "bag-info.txt"):
        (bag / name).unlink(missing_ok=True)
        (bag / name).symlink_to(ENVIRON)
    report = validate_bag(bag)
    assert {f.path for f in report.errors if f.code == "E317"} >= {
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
        "fetch.txt",
        "bag-info.txt",
    }
    text = everything(report)
    assert not [m for m in environ_markers() if m in text]


def test_bagit_python_never_opens_a_bag_holding_a_link_or_fifo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    os.mkfifo(bag / "fetch.txt")

    def tripwire(*args: object, **kwargs: object) -> None:
        raise AssertionError("bagit-python was asked to open the bag")

    monkeypatch.setattr(bagit, "Bag", tripwire)
    report = no_hang(lambda: validate_bag(bag), [bag / "fetch.txt"])
    assert codes(report) == {"E317"}
    assert no_hang(lambda: validate_bag(bag, fast=True), [bag / "fetch.txt"]).errors == report.errors


# ------------------------------------------------------------------------ no finding quotes a file


SECRET = "CANARY-" + secrets.token_hex(8)


@pytest.mark.parametrize(
    "name, text, code",
    [
        ("manifest-sha256.txt", f"not a manifest line {SECRET}\n", "E314"),
        ("manifest-sha256.txt", f"{'a' * 64} \n{SECRET}\n", "E314"),
        ("bag-info.txt", f"Payload-Oxum: 2.1\n{SECRET} has no colon\n", "E315"),
        ("bag-info.txt", f"Payload-Oxum: {SECRET}\n", "E309"),
        ("bagit.txt", f"BagIt-Version: 1.0 {SECRET}\nTag-File-Character-Encoding: UTF-8\n", "E302"),
        ("bagit.txt", f"BagIt-Version: 1.0\nTag-File-Character-Encoding: {SECRET}\n", "E302"),
        ("bagit.txt", f"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n{SECRET}\n", "E302"),
        ("fetch.txt", f"{SECRET} - data/a.txt\n", "E308"),
        ("fetch.txt", f"https://{SECRET}.example/x 5 data/remote.txt\n", "E308"),
        ("fetch.txt", f"https://example.org/x 5 ../{SECRET}\n", "E307"),
        ("manifest-sha256.txt", f"{'a' * 64}  ../{SECRET}\n", "E307"),
        ("tagmanifest-sha256.txt", f"{'a' * 64}  ~/{SECRET}\n", "E307"),
    ],
)
def test_no_finding_quotes_a_line_of_a_file(
    tmp_path: Path, name: str, text: str, code: str, capfd: pytest.CaptureFixture[str]
) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    (bag / name).write_text(text)
    for fast in (False, True):
        report = validate_bag(bag, fast=fast)
        assert code in codes(report), report.errors
        assert SECRET not in everything(report)
        assert {f.code for f in report.findings} <= set(CODES)
    status, output = run_cli(tmp_path, ["bag", "validate", str(bag)])
    assert status == 1 and SECRET not in output
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err  # bagit-python logs nothing either


# ------------------------------------------------------------------------ encodings


@pytest.mark.parametrize(
    "encoding, code",
    [
        ("base64", "E319"),
        ("rot13", "E319"),
        ("rot_13", "E319"),
        ("zlib_codec", "E319"),
        ("zlib", "E319"),
        ("hex", "E319"),
        ("uu", "E319"),
        ("bz2", "E319"),
        ("quopri", "E319"),
        ("idna", "E319"),
        ("punycode", "E319"),
        ("unicode_escape", "E319"),
        ("raw_unicode_escape", "E319"),
        ("undefined", "E319"),
        ("no-such-codec", "E302"),
    ],
)
def test_only_character_sets_are_tag_file_encodings(tmp_path: Path, encoding: str, code: str) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    (bag / "bagit.txt").write_text(f"BagIt-Version: 1.0\nTag-File-Character-Encoding: {encoding}\n")
    for fast in (False, True):
        report = validate_bag(bag, fast=fast)  # no LookupError, no TypeError
        assert codes(report) == {code}, report.errors
    status, output = run_cli(tmp_path, ["bag", "validate", "--json", str(bag)])
    assert status == 1 and code in {f["code"] for f in json.loads(output)["findings"]}
    status, output = run_cli(tmp_path, ["validate", str(bag), "--profile", "heritage", "--json"])
    assert status == 1 and code in {f["code"] for f in json.loads(output)["error"]["findings"]}


@pytest.mark.parametrize("encoding", ["UTF-16", "ISO-8859-1", "UTF-8", "cp037"])
def test_real_character_sets_are_read(tmp_path: Path, encoding: str) -> None:
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "café.txt").write_bytes(b"x")
    (bag / "bagit.txt").write_text(f"BagIt-Version: 1.0\nTag-File-Character-Encoding: {encoding}\n")
    (bag / "bag-info.txt").write_text("Contact-Name: Zoë\nPayload-Oxum: 1.1\n", encoding=encoding)
    (bag / "manifest-sha256.txt").write_text(f"{hashlib.sha256(b'x').hexdigest()}  data/café.txt\n", encoding=encoding)
    bagit.Bag(str(bag)).validate()  # bagit-python reads it too
    report = validate_bag(bag)
    assert report.valid, report.errors
    assert report.contents.info["Contact-Name"] == "Zoë"
    assert set(report.contents.payload_entries()) == {"data/café.txt"}


def test_tag_files_that_do_not_decode_are_findings(tmp_path: Path) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-16\n")
    for name in ("bag-info.txt", "manifest-sha256.txt"):  # UTF-16 without a byte-order mark
        (bag / name).write_bytes((bag / name).read_text().encode("utf-16-le"))
    for fast in (False, True):
        report = validate_bag(bag, fast=fast)
        assert {"E314", "E315"} <= codes(report) and codes(report) <= set(CODES), report.errors
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (bag / "manifest-sha256.txt").write_bytes(b"\xff\xfe not utf-8\n")
    assert "E314" in codes(validate_bag(bag))


# ------------------------------------------------------------------------ tag manifests


@pytest.mark.parametrize("version", ["1.0", "0.97", "0.96"])
def test_a_failing_tag_manifest_is_invalid_in_fast_mode_too(tmp_path: Path, version: str) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag", version=version)
    assert validate_bag(bag, fast=True).valid and validate_bag(bag).valid
    with open(bag / "bag-info.txt", "a") as fh:
        fh.write("Contact-Email: changed@example.org\n")
    for fast in (True, False):
        report = validate_bag(bag, fast=fast)
        mismatches = [(f.code, f.path) for f in report.errors]
        assert mismatches == [("E304", "bag-info.txt"), ("E304", "bag-info.txt")], report.errors  # sha256, sha512


def test_a_tag_manifest_line_for_a_missing_tag_file_is_an_error(tmp_path: Path) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    with open(bag / "tagmanifest-sha256.txt", "a") as fh:
        fh.write(f"{hashlib.sha256(b'').hexdigest()}  metadata/gone.csv\n")
    for fast in (True, False):
        report = validate_bag(bag, fast=fast)
        assert [(f.code, f.path) for f in report.errors] == [("E305", "metadata/gone.csv")], report.errors


def test_tag_folders_are_verified_and_read_back(tmp_path: Path) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    (bag / "metadata").mkdir()
    (bag / "metadata" / "rights.csv").write_text("basis\ncopyright\n")
    retag(bag, ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "metadata/rights.csv"])
    report = validate_bag(bag, fast=True)
    assert report.valid and "metadata/rights.csv" in report.contents.tagfile_entries()
    (bag / "metadata" / "rights.csv").write_text("basis\nlicence\n")
    assert ("E304", "metadata/rights.csv") in {(f.code, f.path) for f in validate_bag(bag, fast=True).errors}


def test_bag_info_is_read_once_as_bagit_python_reads_it(tmp_path: Path) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    (bag / "bag-info.txt").write_text(
        "Payload-Oxum: 2.1\nContact-Name: A\nContact-Name: B\n"
        "External-Description: first line\n  continued\n\tand more\n"
        "Odd: x\u2028 still the value\n\nSource-Organization:  spaced  \n"
    )
    retag(bag, ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"])
    report = validate_bag(bag)
    assert report.valid, report.errors
    assert report.contents.info == bagit.Bag(str(bag)).info


# ------------------------------------------------------------------------ deep and big bags


def test_a_bag_deeper_than_bagit_python_can_walk_is_refused_not_a_traceback(tmp_path: Path) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    make_deep(bag / "data", 1100, "x.txt")  # bagit-python's os.walk recurses: RecursionError near 1,000
    try:
        report = no_hang(lambda: validate_bag(bag))
        assert codes(report) == {"E318"} and "512 levels" in everything(report)
        assert "E318" in codes(validate_bag(bag, max_depth=100))
        status, output = run_cli(tmp_path, ["bag", "validate", "--json", str(bag)])
        assert status == 1 and json.loads(output)["findings"]
    finally:
        remove_deep(bag / "data", 1100, "x.txt")


def test_the_survey_stops_at_max_files(tmp_path: Path) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag", {f"f{i}.txt": b"x" for i in range(30)})
    report = validate_bag(bag, max_files=10)
    assert [f.code for f in report.errors] == ["E318"] and "more than 10 files" in report.errors[0].message
    assert validate_bag(bag, max_files=100).valid


# ------------------------------------------------------------------------ linear time


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


SHAPES: dict[str, Callable[[int], tuple[str, bytes]]] = {
    # a value on one line just under the line limit, again and again: accepted, bagit-python runs
    "long lines": lambda n: (
        "bag-info.txt",
        ("Description: " + "x" * (MAX_LINE_CHARS - 100) + "\n").encode() * max(1, n // MAX_LINE_CHARS),
    ),
    # one continued value of many short lines (bagit-python's value is built by concatenation)
    "continuations": lambda n: ("bag-info.txt", b"Description: x\n" + b" y\n" * (n // 3)),
    # a digit then a run of spaces: quadratic for the old regular expression
    "digit and spaces": lambda n: ("manifest-sha256.txt", (b"a" + b" " * 60_000 + b"\n") * max(1, n // 60_000)),
    # one line of n characters: refused at the line limit, never read further
    "one line": lambda n: ("manifest-sha256.txt", b"a" * n),
    "one bag-info line": lambda n: ("bag-info.txt", b"Description: " + b"x" * n + b"\n"),
    "fetch lines": lambda n: (
        "fetch.txt",
        (b"https://example.org/" + b"x" * 60_000 + b" 1 data/a.txt\n") * max(1, n // 60_000),
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_tag_files_are_read_in_linear_time(tmp_path: Path, shape: str) -> None:
    times = []
    for size in (1 << 20, 8 << 20):
        bag = bag_with_tag_manifest(tmp_path / f"bag{size}")
        name, data = SHAPES[shape](size)
        (bag / name).write_bytes(data)
        retag(bag, ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"])
        times.append(_timed(lambda: validate_bag(bag, max_tag_bytes=64 << 20)))  # noqa: B023
        shutil.rmtree(bag)
    small, big = times
    # linear: about 8 times longer for 8 times the bytes; quadratic would be 64 times
    assert big < 24 * max(small, 0.02), f"{shape}: 1 MiB {small:.2f} s, 8 MiB {big:.2f} s"


def test_a_50_mb_adversarial_tag_file_is_handled_quickly(tmp_path: Path) -> None:
    bag = bag_with_tag_manifest(tmp_path / "bag")
    with open(bag / "bag-info.txt", "wb") as fh:
        fh.write(b"Payload-Oxum: 2.1\nDescription: ")
        fh.writelines(b"x" * (1 << 20) for _ in range(50))  # 50 MB on one line: 25 s per 16 MB for bagit-python
    started = time.perf_counter()
    report = validate_bag(bag, max_tag_bytes=64 << 20)
    assert time.perf_counter() - started < 30
    assert "E318" in codes(report) and "line 2 is longer" in everything(report)
    assert "E318" in codes(validate_bag(bag))  # over the default limit: refused from its size, unread
    assert "more than the 10485760 bytes" in everything(validate_bag(bag))
    (bag / "bag-info.txt").write_text("Payload-Oxum: 2.1\n")
    with open(bag / "manifest-sha256.txt", "ab") as fh:
        fh.writelines(b"f" * (1 << 20) for _ in range(50))
    started = time.perf_counter()
    report = validate_bag(bag)
    assert time.perf_counter() - started < 30
    assert "E318" in codes(report)


# ------------------------------------------------------------------------ generated hostile bags


NAMES = st.sampled_from(
    [
        "a",
        "b.txt",
        "bag-info.txt",
        "fetch.txt",
        "tagmanifest-sha256.txt",
        "metadata",
        "logs",
        "x\u2028y",
        "n\x85l",
        "sp ",
        " lead",
        "*star",
        "~t",
        "caf\u00e9",
        "cafe\u0301",
        "%0A",
        "line\nbreak",
        "deep",
    ]
)
KINDS = st.sampled_from(["file", "folder", "link-file", "link-folder", "fifo", "deep"])
ENTRIES = st.lists(st.tuples(st.sampled_from(["", "data/", "metadata/", "data/sub/"]), NAMES, KINDS), max_size=6)


def _build(root: Path, entries: list[tuple[str, str, str]], outside: Path) -> list[Path]:
    """Make the entries in ``root``; return the FIFOs made (to be released if anything blocks)."""
    fifos = []
    for folder, name, kind in entries:
        path = root / folder / name
        if os.path.lexists(path):
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "file":
                path.write_bytes(b"Label: value\n")
            elif kind == "folder":
                (path / "inner.txt").parent.mkdir(parents=True)
                (path / "inner.txt").write_bytes(b"inner\n")
            elif kind == "link-file":
                path.symlink_to(outside / "secret.txt")
            elif kind == "link-folder":
                path.symlink_to(outside)
            elif kind == "fifo":
                os.mkfifo(path)
                fifos.append(path)
            else:
                deep = path.joinpath(*["d"] * 80)
                deep.mkdir(parents=True)
                (deep / "bottom.txt").write_bytes(b"bottom\n")
        except (OSError, ValueError):
            continue  # a path through a file, a FIFO or a link: not made
    return fifos


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(entries=ENTRIES, is_bag=st.booleans(), tagged=st.booleans())
def test_generated_hostile_bags_never_hang_raise_or_leak(
    tmp_path_factory: pytest.TempPathFactory, entries: list[tuple[str, str, str]], is_bag: bool, tagged: bool
) -> None:
    work = tmp_path_factory.mktemp("gen")
    outside = work / "outside"
    outside.mkdir()
    secret = "CANARY-" + secrets.token_hex(12)
    (outside / "secret.txt").write_text(f"Secret: {secret}\n{secret}\n")
    root = bag_with_tag_manifest(work / "bag") if is_bag else work / "bag"
    root.mkdir(exist_ok=True)
    fifos = _build(root, entries, outside)
    if is_bag and tagged:
        names = [
            str(p.relative_to(root))
            for p in sorted(root.rglob("*"))
            if p.is_file()
            and not p.is_symlink()
            and p.relative_to(root).parts[0] != "data"
            and not p.name.startswith("tagmanifest-")
        ]
        retag(root, names)
    hostile = any(p.is_symlink() or (p.exists() and not (p.is_file() or p.is_dir())) for p in root.rglob("*"))

    scan = no_hang(lambda: scan_folder(root, 1000, max_depth=64), fifos)
    scan_text = "\n".join(str(f) for f in scan.findings.items)
    assert secret not in scan_text
    if hostile:
        assert {"E137", "E138"} & {f.code for f in scan.findings.errors}, scan_text
    assert all(f.code and f.message for f in scan.findings.items)
    if not (root / "bagit.txt").exists():
        return
    for fast in (False, True):
        report = no_hang(lambda: validate_bag(root, fast=fast), fifos)  # noqa: B023
        assert secret not in everything(report)
        assert {f.code for f in report.findings} <= set(CODES)
        if hostile:
            assert "E317" in codes(report) or not report.valid
    status, output = no_hang(lambda: run_cli(work, ["bag", "validate", "--json", str(root)]), fifos)
    assert status in (0, 1) and secret not in output
    json.loads(output)


def test_the_hostile_cases_of_this_module_are_in_the_corpus() -> None:
    for name in (
        "E137_bag_info_symlink_to_system_file",
        "E137_package_info_symlink_to_system_file",
        "E137_bag_tag_folder_symlink",
        "E137_tag_manifest_symlink_to_proc_environ",
        "E138_fifo_as_bag_info",
        "E138_fifo_in_bag_tag_folder",
        "E319_tag_file_encoding_base64",
        "E304_bag_tag_manifest_fails",
        "E305_bag_tag_manifest_lists_missing_file",
        "E318_bag_info_line_too_long",
        "E133_line_separator_in_filename",
        "E133_next_line_in_bag_payload_name",
    ):
        assert (HOSTILE / name / "case.yaml").is_file(), name

"""Invariants checked on generated input (hypothesis).

* hashing does not depend on chunk size or on how short the reads are;
* RFC 8493 manifest path encoding round-trips for any name, and a stored bag with an awkward
  generated name validates with bagit-python and with the archive's own validator;
* no generated package identifier yields a storage path outside the storage root;
* extracting an archive with generated member names never writes outside its destination.

METS write -> read round-tripping is in tests/test_mets.py (test_write_read_round_trips).
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tarfile
import tempfile
import unicodedata
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import BinaryIO, cast

import bagit
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from archive.errors import StorageError
from archive.fixity.hashing import SUPPORTED_ALGORITHMS, copy_and_hash, hash_file, hash_stream
from archive.packaging.bag.check import _bag_path, validate_bag
from archive.packaging.bag.paths import decode_path, encode_path, manifest_path_problem
from archive.services.ingest.run import ingest
from archive.storage.local import LocalStorage, package_relpath
from archive.submission.extract import Limits, extract_archive
from archive.submission.scan import printable, scan_folder
from tests.support.hostile_cases import METADATA_YAML

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


# -- hashing ---------------------------------------------------------------------------------


class ShortReads(io.RawIOBase):
    """A stream whose reads return at most a few bytes at a time, as pipes and sockets may."""

    def __init__(self, data: bytes, steps: list[int]) -> None:
        self.data, self.pos, self.steps, self.i = data, 0, steps or [1], 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.steps[self.i % len(self.steps)], len(self.data) - self.pos)
        self.i += 1
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def expected(data: bytes, algorithms: list[str]) -> dict[str, str]:
    return {a: hashlib.new(a, data).hexdigest() for a in algorithms}


algorithm_lists = st.lists(st.sampled_from(SUPPORTED_ALGORITHMS), min_size=1, max_size=4, unique=True)


@FAST
@given(
    data=st.binary(max_size=5000),
    chunk=st.integers(1, 3000),
    algorithms=algorithm_lists,
    steps=st.lists(st.integers(1, 700), max_size=5),
)
def test_hash_stream_is_independent_of_chunk_size_and_short_reads(
    data: bytes, chunk: int, algorithms: list[str], steps: list[int]
) -> None:
    want = (len(data), expected(data, algorithms))
    assert hash_stream(io.BytesIO(data), algorithms, chunk_size=chunk) == want
    assert hash_stream(cast(BinaryIO, ShortReads(data, steps)), algorithms, chunk_size=chunk) == want


@FAST
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 3000), algorithms=algorithm_lists)
def test_copy_and_hash_copies_exactly_and_agrees_with_hashlib(data: bytes, chunk: int, algorithms: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "copy"
        assert copy_and_hash(io.BytesIO(data), target, algorithms, chunk_size=chunk, fsync=False) == (
            len(data),
            expected(data, algorithms),
        )
        assert target.read_bytes() == data
        assert hash_file(target, algorithms, chunk_size=chunk) == (len(data), expected(data, algorithms))


# -- manifest path encoding ------------------------------------------------------------------


@FAST
@given(st.text())
def test_manifest_path_encoding_round_trips(name: str) -> None:
    encoded = encode_path(name)
    assert "\n" not in encoded and "\r" not in encoded  # one manifest line per file
    if manifest_path_problem(name) is None:  # every name the archive accepts
        assert decode_path(encoded) == name  # an RFC 8493 reader gets the name back
        assert encoded.replace("%0D", "\r").replace("%0A", "\n") == name  # and so does bagit-python
    if not {"\r", "\n"} & set(name):
        assert encoded == name


segments = st.text(st.characters(exclude_characters="/\x00", exclude_categories=["Cs"]), min_size=1)


@FAST
@given(st.lists(segments, min_size=1, max_size=4).filter(lambda parts: not {".", ".."} & set(parts)))
def test_our_validator_reads_back_what_our_writer_encodes(parts: list[str]) -> None:
    path = "data/" + "/".join(parts)
    assume(manifest_path_problem(path) is None)  # names the archive refuses are never written
    assert _bag_path(encode_path(path)) == path


# Names the archive accepts (see submission/scan.py): no "/", no control characters but CR and LF,
# no white space at the end, no literal %25/%0A/%0D (see archive/packaging/bag/paths.py).
awkward_names = (
    st.text(
        st.characters(exclude_categories=["Cs", "Cc", "Co", "Cn"], exclude_characters="/")
        | st.sampled_from(["\n", "\r", "\t", " ", "é", "\u0301", "\u202e", "\\", "*", "#", "~", ":", "\ufeff", "%"]),
        min_size=1,
        max_size=30,
    )
    .map(lambda s: s + ".txt")
    .filter(lambda s: manifest_path_problem(s) is None)
)


@SLOW
@given(name=awkward_names)
def test_a_stored_bag_with_an_awkward_name_validates(
    sqlite_ctx, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    root = tmp_path_factory.mktemp("awkward") / "submission"
    root.mkdir()
    (root / "metadata.yaml").write_text(METADATA_YAML, encoding="utf-8")
    (root / name).write_bytes(b"awkward\n")
    result = ingest(sqlite_ctx, root, "heritage")
    stored = sqlite_ctx.storage.original_bag(result.package_id)
    bagit.Bag(str(stored)).validate()
    assert validate_bag(stored).valid
    assert (stored / "data" / unicodedata.normalize("NFC", name)).read_bytes() == b"awkward\n"


# -- storage paths ---------------------------------------------------------------------------

identifiers = st.one_of(
    st.text(),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.tuples(st.uuids().map(str), st.sampled_from(["../", "/", "\n", "/..", "\x00", " "]), st.integers(0, 36)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    ),
)


@FAST
@given(identifiers)
def test_no_package_identifier_escapes_the_storage_root(package_id: str) -> None:
    root = Path("/srv/archive/storage")
    storage = LocalStorage(root)
    try:
        relpath = package_relpath(package_id)
        path = storage.path_of(package_id)
    except StorageError:
        with pytest.raises(StorageError):
            storage.path_of(package_id)
        return
    assert uuid.UUID(package_id) and package_id == package_id.lower()
    digest = hashlib.sha256(package_id.encode()).hexdigest()
    assert relpath.split("/") == [digest[:3], digest[3:6], digest[6:9], package_id]  # OCFL layout 0003
    assert Path(os.path.normpath(path)).is_relative_to(root) and path == root / relpath


# -- safe extraction -------------------------------------------------------------------------

member_names = st.one_of(
    st.lists(
        st.sampled_from(["..", ".", "", "a", "b", "C:", "~", "é", "e\u0301", "%2e%2e", "a\\..\\..", " "]),
        min_size=1,
        max_size=5,
    ).map("/".join),
    st.lists(st.sampled_from(["..", "a", "b", "C:"]), min_size=1, max_size=4).map("\\".join),
    st.text(max_size=20),
).flatmap(lambda name: st.sampled_from([name, "/" + name, "\\" + name]))


def _everything_under(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files}


def _write_archive(path: Path, names: list[str]) -> None:
    if path.suffix == ".tar":
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
            for name in names:
                info = tarfile.TarInfo(name)
                info.size = 1
                tf.addfile(info, io.BytesIO(b"x"))
    else:
        with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names are part of the game
            for name in names:
                zf.writestr(zipfile.ZipInfo(name), b"x")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(member_names, min_size=1, max_size=6), suffix=st.sampled_from([".zip", ".tar"]))
def test_extraction_never_writes_outside_its_destination(names: list[str], suffix: str) -> None:
    absolute = [n for n in names if n.startswith("/") and not os.path.lexists(n)]
    with tempfile.TemporaryDirectory() as tmp:
        # deep enough that no generated run of ".." climbs out of tmp (at most 12)
        chain = [f"d{i}" for i in range(13)]
        dest = Path(tmp, *chain)
        dest.mkdir(parents=True)
        archive = Path(tmp) / f"s{suffix}"
        try:
            _write_archive(archive, names)
        except (ValueError, tarfile.TarError):
            assume(False)  # a name the writer itself refuses
        findings = extract_archive(archive, dest, Limits(max_bytes=10_000, max_files=100))
        inside = os.path.join(*chain) + os.sep
        outside = {p for p in _everything_under(Path(tmp)) if not p.startswith(inside)}
        assert outside == {archive.name} | {os.path.join(*chain[: i + 1]) for i in range(len(chain))}, outside
        assert not [n for n in absolute if os.path.lexists(n)]
        if not any(f.is_error for f in findings):
            scan = scan_folder(dest, 100)
            for f in scan.files:
                assert f.source.resolve().is_relative_to(dest.resolve())
                assert not posixpath.isabs(f.path) and ".." not in f.path.split("/")


@FAST
@given(st.text())
def test_printable_is_printable_and_utf8(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable()
    shown.encode("utf-8")  # never a lone surrogate: JSON output and terminals can take it
    if text.isprintable():
        assert shown == text

"""The one stored-copy check (archive.audit.check.check_copy): what it reports, alone.

Audits, the repair re-check, the ingest read-back, replication and export all use it; here it
is checked by itself: a property (for any set of files and any single damage, exactly that
file is reported, as the right kind), copying while checking, and outcomes handed to the caller.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.audit.budget import Budget
from archive.audit.check import FileOutcome, check_copy, expected_entries, record_entries
from archive.errors import StorageError
from archive.model import FileRecord

ALGORITHMS = ("sha256", "md5")
NAMES = st.text("abcxyz", min_size=1, max_size=6)
CONTENT = st.binary(min_size=1, max_size=64)
FILES = st.dictionaries(st.tuples(NAMES, NAMES).map("/".join) | NAMES, CONTENT, min_size=1, max_size=6)
DAMAGE = st.sampled_from(["flip", "truncate", "remove", "extra"])
KIND = {"flip": "changed", "truncate": "truncated", "remove": "missing", "extra": "extra"}


def _digests(data: bytes) -> dict[str, str]:
    return {a: hashlib.new(a, data).hexdigest() for a in ALGORITHMS}


def _write(bag: Path, files: dict[str, bytes], tag: bytes = b"BagIt-Version: 1.0\n") -> dict[str, dict[str, str]]:
    """A bag of ``files`` under ``data/`` (a name used both as a file and a folder is skipped)."""
    for rel, data in sorted(files.items()):
        target = bag / "data" / rel
        if any((bag / "data" / p).is_file() for p in _parents(rel)) or target.is_dir():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (bag / "bagit.txt").write_bytes(tag)
    return {"bagit.txt": _digests(tag)}


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _entries(bag: Path, tags: dict[str, dict[str, str]]):  # type: ignore[no-untyped-def]
    stored = [p for p in (bag / "data").rglob("*") if p.is_file()]
    files = [(p.relative_to(bag / "data").as_posix(), p.stat().st_size, _digests(p.read_bytes())) for p in stored]
    return expected_entries(files, tags)


def _damage(bag: Path, rel: str, how: str) -> str:
    """Damage ``rel`` (bag-relative) as ``how`` says; return the path the check must name."""
    path = bag / rel
    if how == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[:-1])
    elif how == "remove":
        path.unlink()
    else:
        rel = f"{rel}.extra"
        (bag / rel).write_bytes(b"not listed")
    return rel


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=FILES, damage=DAMAGE, pick=st.integers(min_value=0, max_value=100), tag=st.booleans())
def test_any_single_damage_is_reported_as_exactly_that_file(
    files: dict[str, bytes], damage: str, pick: int, tag: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / "bag"
        tags = _write(bag, files)
        entries = _entries(bag, tags)
        assert check_copy(bag, entries, "p", "primary", Budget(), extras=True).findings == []
        payload = [e for e in entries if not e.is_tag]
        target = "bagit.txt" if tag and damage in ("flip", "remove") else payload[pick % len(payload)].path
        named = _damage(bag, target, damage)
        result = check_copy(bag, entries, "p", "primary", Budget(), extras=True)
        kind = "tag-changed" if target == "bagit.txt" and damage == "flip" else KIND[damage]
        assert [(f.path, f.kind, f.copy) for f in result.findings] == [(named, kind, "primary")]
        verified = {e.path for e in entries} - {named}
        assert result.verified == verified and result.files == len(entries)


def test_wrong_size_and_the_message_say_what_was_found(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    tags = _write(bag, {"a.txt": b"0123456789"})
    entries = _entries(bag, tags)
    (bag / "data" / "a.txt").write_bytes(b"0123456789+")
    (finding,) = check_copy(bag, entries, "p", "c", Budget()).findings
    assert finding.kind == "changed" and finding.message == "content changed: 11 bytes, expected 10"
    assert finding.expected["size"] == 10 and finding.found["size"] == 11


def test_a_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    tags = _write(bag, {"a.txt": b"abc"})
    entries = _entries(bag, tags)
    (tmp_path / "elsewhere").write_bytes(b"abc")
    (bag / "data" / "a.txt").unlink()
    os.symlink(tmp_path / "elsewhere", bag / "data" / "a.txt")
    (finding,) = check_copy(bag, entries, "p", "c", Budget()).findings
    assert (finding.path, finding.kind, finding.message) == ("data/a.txt", "not-regular", "is a symbolic link")


def test_extras_are_reported_only_by_a_pass_that_starts_at_the_beginning(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    tags = _write(bag, {"a.txt": b"a", "b.txt": b"b"})
    entries = _entries(bag, tags)
    (bag / "data" / "c.txt").write_bytes(b"c")
    assert [f.path for f in check_copy(bag, entries, "p", "c", Budget(), extras=True).findings] == ["data/c.txt"]
    assert check_copy(bag, entries, "p", "c", Budget(), start_after="data/a.txt", extras=True).findings == []
    assert check_copy(bag, entries, "p", "c", Budget()).findings == []


def test_copy_to_writes_the_bytes_it_checks_and_hands_each_outcome_over(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    tags = _write(bag, {"a.txt": b"a", "sub/b.txt": b"bb"})
    records = [FileRecord("a.txt", 1, _digests(b"a")), FileRecord("sub/b.txt", 2, _digests(b"bb"))]
    entries = record_entries(records, tags)
    assert [e.path for e in entries] == ["data/a.txt", "data/sub/b.txt", "bagit.txt"]
    seen: list[FileOutcome] = []
    result = check_copy(bag, entries, "p", "c", Budget(), on_file=seen.append, copy_to=tmp_path / "out")
    assert result.findings == [] and [o.entry.path for o in seen] == [e.path for e in entries]
    assert (tmp_path / "out" / "data" / "sub" / "b.txt").read_bytes() == b"bb"
    with pytest.raises(StorageError):  # the destination must be new: a write failure is raised, not a finding
        check_copy(bag, entries, "p", "c", Budget(), copy_to=tmp_path / "out")


def test_a_missing_file_carries_the_error_a_caller_may_raise(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    tags = _write(bag, {"a.txt": b"a"})
    entries = _entries(bag, tags)
    (bag / "data" / "a.txt").unlink()

    def refuse(outcome: FileOutcome) -> None:
        if outcome.error is not None:
            raise outcome.error

    with pytest.raises(FileNotFoundError):
        check_copy(bag, entries, "p", "c", Budget(), on_file=refuse)

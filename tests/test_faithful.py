"""Faithful storage: a file changed during ingest is refused, never stored torn; an idempotency key
means one package, so the same key with other content makes its next version, never "already stored"."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import bagit
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive.services.ingest.prepare as prepare_module
from archive.errors import SubmissionRejected
from archive.services.ingest.run import ingest, validate
from archive.services.retrieve.export import export
from tests.conftest import DATA, nothing_stored

SUB = "submissions/heritage-minimal"


def _codes(exc: SubmissionRejected) -> set[str]:
    return {f.code for f in exc.findings if f.is_error}


def _one_file(sub: Path) -> Path:
    return next(
        p
        for p in sorted(sub.rglob("*"))
        if p.is_file() and p.name != "metadata.yaml" and "metadata" not in p.relative_to(sub).parts[:1]
    )


def _overwrite_during_read(monkeypatch, victim: Path, how: str) -> None:
    """Change ``victim`` after it was opened and before its bytes are copied, as a writer would."""
    real = prepare_module.copy_and_hash
    original = victim.stat()

    def copy(src, dest, algorithms, **kw):
        if Path(dest).name == victim.name:
            data = victim.read_bytes()
            if how == "same-size":  # rewritten in place, same size, modification time put back
                with open(victim, "r+b") as fh:
                    fh.write(bytes(b ^ 0xFF for b in data[: max(1, len(data) // 2)]))
                os.utime(victim, ns=(original.st_atime_ns, original.st_mtime_ns))
            elif how == "truncated":
                with open(victim, "r+b") as fh:
                    fh.truncate(len(data) // 2)
            elif how == "appended":
                with open(victim, "ab") as fh:
                    fh.write(b"more")
        return real(src, dest, algorithms, **kw)

    monkeypatch.setattr(prepare_module, "copy_and_hash", copy)


@pytest.mark.parametrize("how", ["same-size", "truncated", "appended"])
def test_file_changed_during_ingest_is_refused(ctx, copy_fixture, monkeypatch, how: str) -> None:
    sub = copy_fixture(SUB)
    _overwrite_during_read(monkeypatch, _one_file(sub), how)
    with pytest.raises(SubmissionRejected) as err:
        ingest(ctx, sub, "heritage")
    assert "E141" in _codes(err.value)
    assert nothing_stored(ctx)


def test_file_changed_between_listing_and_reading_is_refused(ctx, copy_fixture, monkeypatch) -> None:
    sub = copy_fixture(SUB)
    victim = _one_file(sub)
    real_scan = prepare_module.scan_folder

    def scan_then_grow(*args, **kwargs):
        result = real_scan(*args, **kwargs)
        with open(victim, "ab") as fh:
            fh.write(b"grown after the listing")
        return result

    monkeypatch.setattr(prepare_module, "scan_folder", scan_then_grow)
    with pytest.raises(SubmissionRejected) as err:
        validate(ctx, sub, "heritage")
    assert "E141" in _codes(err.value)


def test_same_key_same_content_returns_the_package(ctx, copy_fixture) -> None:
    sub = copy_fixture(SUB)
    first = ingest(ctx, sub, "heritage", key="transfer-7")
    again = ingest(ctx, sub, "heritage", key="transfer-7")
    assert first.created and not again.created and again.package_id == first.package_id


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    change=st.sampled_from(["file-bytes", "new-file", "metadata", "files-csv"]),
    extra=st.binary(min_size=1, max_size=64),
)
def test_same_key_other_content_makes_a_new_version(sqlite_ctx, tmp_path_factory, change: str, extra: bytes) -> None:
    """Never "already stored": the correction becomes the package's next version, holding exactly
    what the resubmission brings; version 1 keeps what the first submission brought."""
    tmp = tmp_path_factory.mktemp("keyed")
    base = tmp / "sub"
    shutil.copytree(DATA / SUB, base)
    key = f"key-{os.urandom(4).hex()}"
    first = ingest(sqlite_ctx, base, "heritage", key=key)
    assert first.created
    v1 = sqlite_ctx.catalog.get_package(first.package_id)
    if change == "file-bytes":
        victim = _one_file(base)
        victim.write_bytes(victim.read_bytes() + extra)
    elif change == "new-file":
        (base / "added.bin").write_bytes(extra)
    elif change == "metadata":
        meta = base / "metadata.yaml"
        meta.write_text(
            meta.read_text(encoding="utf-8").replace("Test collection", f"Corrected {extra.hex()}"), encoding="utf-8"
        )
    else:
        (base / "metadata").mkdir(exist_ok=True)
        rel = _one_file(base).relative_to(base).as_posix()
        (base / "metadata" / "files.csv").write_text(f"path,caption\n{rel},note {extra.hex()}\n", encoding="utf-8")
    before = sqlite_ctx.catalog.count_packages()
    again = ingest(sqlite_ctx, base, "heritage", key=key)
    assert (again.package_id, again.created, again.version) == (first.package_id, False, 2)
    assert sqlite_ctx.catalog.count_packages() == before
    head = export(sqlite_ctx, first.package_id, tmp / "head")
    bag = bagit.Bag(str(head))
    bag.validate()
    payload = {p: (head / p).read_bytes() for p in bag.payload_files()}
    submitted = {
        f"data/{p.relative_to(base).as_posix()}": p.read_bytes()
        for p in base.rglob("*")
        if p.is_file() and p.relative_to(base).parts[0] not in ("metadata.yaml", "metadata")
    }
    assert payload == submitted
    assert sqlite_ctx.catalog.get_package(first.package_id, 1).files == v1.files
    assert ingest(sqlite_ctx, base, "heritage", key=key).version == 2  # the same again: that version

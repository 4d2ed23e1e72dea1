"""Ingest end to end, on SQLite and PostgreSQL: a stored, standards-valid, self-describing package."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import bagit
import bagit_profile
import pytest

from archive.errors import ProfileError, StorageError, SubmissionRejected
from archive.packaging.mets.read import read_mets
from archive.profiles.bagit_profile import profile_identifier, to_bagit_profile
from archive.services.ingest.run import ingest, validate
from tests.conftest import nothing_stored, tree_state

HERITAGE = "examples/heritage-harbour-photographs"


def stored_bag(ctx, package_id: str) -> Path:
    return ctx.storage.original_bag(package_id)


def test_ingest_stores_a_valid_bag_with_valid_mets_and_catalogues_it(ctx, copy_fixture) -> None:
    sub = copy_fixture(HERITAGE)
    before = tree_state(sub)
    result = ingest(ctx, sub, "heritage", agent="tester")
    assert result.created and result.files == 5
    assert result.formats == {"fmt/18": 1, "fmt/353": 3, "fmt/43": 1}
    assert [w.code for w in result.warnings] == ["W202"]  # the JPEG access copy
    assert tree_state(sub) == before  # the submission is never changed

    bag_path = stored_bag(ctx, result.package_id)
    bag = bagit.Bag(str(bag_path))
    bag.validate()  # bagit-python's full validation: manifests, tag manifests, Oxum
    assert set(bag.algorithms) == {"sha256", "sha512"}
    info = bag.info
    assert info["External-Identifier"] == f"urn:uuid:{result.package_id}"
    assert info["Archive-Profile-Id"] == "heritage" and info["Archive-Profile-Version"] == "1.0.0"
    for tag in ("Bagging-Date", "Payload-Oxum", "Source-Organization"):
        assert info[tag]
    assert "mets.xml" in bag.tagfile_entries()

    from_mets = read_mets(bag_path / "mets.xml", validate=True)  # with its parts, every document valid
    from_catalog = ctx.catalog.get_package(result.package_id)
    assert from_mets.id == from_catalog.id == result.package_id
    assert from_mets.metadata == from_catalog.metadata
    assert {f.path: f.digests for f in from_mets.files} == {f.path: f.digests for f in from_catalog.files}
    assert {f.path: f.format.puid for f in from_mets.files} == {f.path: f.format.puid for f in from_catalog.files}
    assert "masters/HHM_2024_017_003_Café_du_Port.tif" in {f.path for f in from_catalog.files}

    types = [e.type for e in from_catalog.events]
    for t in ("ingestion", "validation", "message digest calculation", "information package creation"):
        assert t in types
    assert types.count("format identification") == 5
    validation = next(e for e in from_catalog.events if e.type == "validation")
    assert "heritage" in validation.detail and "1.0.0" in validation.detail and validation.outcome == "warning"
    tiff = next(f for f in from_catalog.files if f.path.endswith("001.tif"))
    assert tiff.format.tool == "fido" and tiff.format.tool_version and "v" in tiff.format.signature_version
    assert tiff.metadata.get("role") == "master"  # per-file metadata from metadata/files.csv
    agents = {a.type: a for a in from_catalog.agents}
    assert {"software", "organization", "person"} <= set(agents)
    assert any(a.identifier == "software:fido" and "signatures=" in a.note for a in from_catalog.agents)
    assert any(a.name == "tester" for a in from_catalog.agents)
    assert ctx.storage.staging_leftovers() == []


def test_incoming_bag_is_verified_and_its_tags_kept(ctx, copy_fixture) -> None:
    sub = copy_fixture("submissions/research-bag")
    result = ingest(ctx, sub, "research")
    pkg = ctx.catalog.get_package(result.package_id)
    fixity = [e for e in pkg.events if e.type == "fixity check"]
    assert len(fixity) == 1 and fixity[0].outcome == "success"
    info = bagit.Bag(str(stored_bag(ctx, result.package_id))).info
    assert info["Contact-Name"]  # the submitter's own tags survive
    assert info["Submitted-Bagging-Date"]  # their bag-specific ones are kept under a new name
    assert info["Submitted-External-Identifier"]
    assert info["External-Identifier"] == f"urn:uuid:{result.package_id}"


@pytest.mark.parametrize(
    "damage, code",
    [
        ("checksum", "E151"),
        ("missing", "E3"),
        ("extra", "E3"),
    ],
)
def test_damaged_incoming_bag_is_rejected_and_nothing_written(ctx, copy_fixture, damage: str, code: str) -> None:
    sub = copy_fixture("submissions/research-bag")
    payload = sorted((sub / "data").rglob("*.csv"))[0]
    if damage == "checksum":
        payload.write_bytes(payload.read_bytes().replace(b"1", b"2", 1))
        # keep the size the same so only the digest tells
    elif damage == "missing":
        payload.unlink()
    else:
        (sub / "data" / "stowaway.txt").write_text("not in the manifest")
    with pytest.raises(SubmissionRejected) as exc:
        ingest(ctx, sub, "research")
    assert any(f.code.startswith(code) for f in exc.value.findings), exc.value.findings
    assert nothing_stored(ctx)


def test_zip_and_tar_submissions(ctx, copy_fixture, tmp_path: Path) -> None:
    sub = copy_fixture("submissions/heritage-minimal")
    z = tmp_path / "heritage.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(sub.rglob("*")):
            zf.write(p, Path("heritage-minimal") / p.relative_to(sub))
    t = tmp_path / "heritage.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        tf.add(sub, arcname=".")
    a = ingest(ctx, z, "heritage")
    b = ingest(ctx, t, "heritage")
    assert a.files == b.files == 2
    assert a.package_id == b.package_id and not b.created  # same content: the idempotency key matched
    assert ctx.catalog.count_packages() == 1


def test_retry_returns_the_existing_package(ctx, copy_fixture) -> None:
    sub = copy_fixture("submissions/legal-minimal")
    first = ingest(ctx, sub, "legal")
    again = ingest(ctx, sub, "legal")
    assert again.package_id == first.package_id and not again.created
    keyed = ingest(ctx, sub, "legal", key="request-42")
    assert keyed.created and keyed.package_id != first.package_id
    assert ingest(ctx, sub, "legal", key="request-42").package_id == keyed.package_id
    assert ctx.catalog.count_packages() == 2


def test_validate_writes_nothing(ctx, copy_fixture) -> None:
    sub = copy_fixture(HERITAGE)
    prepared = validate(ctx, sub, "heritage")
    assert len(prepared.files) == 5
    assert nothing_stored(ctx)


def _metadata(sub: Path) -> Path:
    return sub / "metadata.yaml"


@pytest.mark.parametrize(
    "case, edit, code",
    [
        ("missing-required-field", lambda t: t.replace("accession_number:", "# accession_number:"), "E402"),
        ("wrong-type", lambda t: t + "\nphysical_extent: 24\n", "E403"),
        ("outside-vocabulary", lambda t: t + "\ntype: Painting\n", "E405"),
        ("pattern", lambda t: t.replace("accession_number: HHM.2024.017", "accession_number: seventeen"), "E406"),
        ("unknown-field", lambda t: t + "\ncolour: sepia\n", "E401"),
        ("malformed-yaml", lambda t: "title: [unclosed\n", "E412"),
        ("alias-bomb", lambda t: "a: &a [x,x]\nb: &b [*a,*a]\nc: [*b,*b]\n", "E413"),
    ],
)
def test_bad_metadata_is_rejected_with_nothing_written(ctx, copy_fixture, case: str, edit, code: str) -> None:
    sub = copy_fixture(HERITAGE)
    text = _metadata(sub).read_text()
    assert "accession_number: HHM.2024.017" in text
    _metadata(sub).write_text(edit(text))
    with pytest.raises(SubmissionRejected) as exc:
        ingest(ctx, sub, "heritage")
    assert code in {f.code for f in exc.value.findings}, exc.value.findings
    assert nothing_stored(ctx)


def test_every_problem_is_reported_at_once(ctx, copy_fixture, tmp_path: Path) -> None:
    import os

    sub = copy_fixture(HERITAGE)
    _metadata(sub).write_text(
        _metadata(sub).read_text().replace("accession_number: HHM.2024.017", "accession_number: seventeen")
        + "\ncolour: red\n"
    )
    os.symlink(tmp_path, sub / "escape")
    os.mkfifo(sub / "pipe")
    (sub / "cafe\u0301.txt").write_text("1")
    (sub / "caf\u00e9.txt").write_text("2")
    with pytest.raises(SubmissionRejected) as exc:
        ingest(ctx, sub, "heritage")
    assert {"E406", "E401", "E137", "E138", "E132"} <= {f.code for f in exc.value.findings}
    assert nothing_stored(ctx)


def test_format_rejected_by_profile(ctx, copy_fixture, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "no-pdf.yaml").write_text(
        "id: no-pdf\nversion: '1'\nextends: heritage\nformats:\n  rejected: [fmt/18]\n"
    )
    ctx.profiles.dirs.insert(0, profiles)
    sub = copy_fixture(HERITAGE)
    with pytest.raises(SubmissionRejected) as exc:
        ingest(ctx, sub, "no-pdf")
    assert [f.path for f in exc.value.findings if f.code == "E202"] == ["finding-aid/HHM.2024.017 finding aid.pdf"]
    assert nothing_stored(ctx)


def test_unknown_profile_and_missing_submission(ctx, copy_fixture, tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="unknown profile"):
        ingest(ctx, copy_fixture(HERITAGE), "photos")
    with pytest.raises(SubmissionRejected, match="rejected"):
        ingest(ctx, tmp_path / "nowhere", "heritage")
    assert nothing_stored(ctx)


def test_zip_slip_submission_rejected(ctx, tmp_path: Path) -> None:
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("metadata.yaml", "title: x\n")
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(SubmissionRejected) as exc:
        ingest(ctx, z, "heritage")
    assert "E121" in {f.code for f in exc.value.findings}
    assert not (tmp_path.parent / "escape.txt").exists()
    assert nothing_stored(ctx)


def test_storage_is_write_once(ctx, copy_fixture) -> None:
    result = ingest(ctx, copy_fixture("submissions/legal-minimal"), "legal")
    staging = ctx.storage.new_staging("again")
    (staging / "x").write_text("x")
    with pytest.raises(StorageError, match="write-once"):
        ctx.storage.commit(staging, result.package_id)
    bagit.Bag(str(stored_bag(ctx, result.package_id))).validate()


def test_failure_after_storage_rolls_back(ctx, copy_fixture, monkeypatch) -> None:
    from archive.errors import CatalogError

    def broken(*args, **kwargs):
        raise CatalogError("database went away")

    monkeypatch.setattr(ctx.catalog, "record_package", broken)
    with pytest.raises(CatalogError):
        ingest(ctx, copy_fixture("submissions/legal-minimal"), "legal")
    assert list(ctx.storage.iter_package_ids()) == []
    assert ctx.storage.staging_leftovers() == []


def test_export_copies_a_bag_that_validates(ctx, copy_fixture, tmp_path: Path) -> None:
    from archive.services.retrieve.export import export

    result = ingest(ctx, copy_fixture("submissions/heritage-minimal"), "heritage")
    dest = export(ctx, result.package_id, tmp_path / "out")
    bagit.Bag(str(dest)).validate()
    with pytest.raises(Exception, match="already exists"):
        export(ctx, result.package_id, dest)


@pytest.mark.parametrize(
    "profile, example",
    [
        ("heritage", HERITAGE),
        ("legal", "examples/legal-contract-dispute"),
        ("research", "examples/research-coastal-sensors"),
    ],
)
def test_bagit_profile_export_validates_our_bags(sqlite_ctx, copy_fixture, profile: str, example: str) -> None:
    result = ingest(sqlite_ctx, copy_fixture(example), profile)
    p = sqlite_ctx.profiles.get(profile)
    doc = to_bagit_profile(p, sqlite_ctx.settings.organisation)
    checker = bagit_profile.Profile(profile_identifier(p), profile=doc)
    bag = bagit.Bag(str(stored_bag(sqlite_ctx, result.package_id)))
    assert checker.validate(bag), [str(e) for e in checker.report.errors]
    # and it is the same rules: a bag of another profile fails it
    other = "legal" if profile != "legal" else "heritage"
    other_doc = to_bagit_profile(sqlite_ctx.profiles.get(other), sqlite_ctx.settings.organisation)
    other_checker = bagit_profile.Profile(profile_identifier(sqlite_ctx.profiles.get(other)), profile=other_doc)
    assert not other_checker.validate(bag)


def test_bagit_profile_rejects_a_bag_without_mets(sqlite_ctx, copy_fixture, tmp_path: Path) -> None:
    result = ingest(sqlite_ctx, copy_fixture("submissions/heritage-minimal"), "heritage")
    copy = tmp_path / "copy"
    shutil.copytree(stored_bag(sqlite_ctx, result.package_id), copy)
    (copy / "mets.xml").unlink()
    p = sqlite_ctx.profiles.get("heritage")
    checker = bagit_profile.Profile(profile_identifier(p), profile=to_bagit_profile(p, "Example Organisation"))
    assert not checker.validate(bagit.Bag(str(copy)))


def test_files_and_events_recorded_in_chunks_are_all_recorded(ctx, copy_fixture, monkeypatch) -> None:
    """The catalog takes a package's files and events a chunk at a time (a million-file package
    is never one list of rows): every file and event arrives once, as the METS describes them."""
    from archive.catalog import repository

    monkeypatch.setattr(repository, "INSERT_CHUNK", 2)
    result = ingest(ctx, copy_fixture(HERITAGE), "heritage")
    pkg = ctx.catalog.get_package(result.package_id)
    described = read_mets(stored_bag(ctx, result.package_id) / "mets.xml")
    assert sorted(f.path for f in pkg.files) == sorted(f.path for f in described.files) and len(pkg.files) == 5
    assert sorted(e.identifier for e in pkg.events) == sorted(e.identifier for e in described.events)
    assert ctx.catalog.count_events(result.package_id) == len(pkg.events) > 5


def test_progress_counts_files_and_bytes(ctx, copy_fixture, monkeypatch) -> None:
    """Long work says how far it is: files hashed, identified and described in METS, and bytes
    hashed and read back (what the command line turns into sizes, a rate and the time left),
    never going back, ending at the total."""
    from archive.cli.render import progress_amount
    from archive.services import progress as progress_module

    monkeypatch.setattr(progress_module, "REPORT_EVERY", 0.0)  # every chunk reports
    seen: dict[str, list[tuple[int, int]]] = {}
    result = ingest(
        ctx, copy_fixture(HERITAGE), "heritage", progress=lambda s, d, t: seen.setdefault(s, []).append((d, t))
    )
    for stage in ("hashing bytes", "verifying bytes"):
        reports = seen[stage]
        assert [d for d, _ in reports] == sorted(d for d, _ in reports) and len(reports) > 1
        assert all(d <= t for d, t in reports) and reports[-1][0] == reports[-1][1]
    assert seen["hashing bytes"][-1] == (result.bytes, result.bytes)  # the payload, exactly
    assert seen["verifying bytes"][-1][0] > result.bytes  # the payload and the tag files written
    for stage in ("hashing", "identifying", "writing METS"):
        assert seen[stage][-1] == (result.files, result.files), stage
    assert progress_amount("hashing bytes", 1_500_000, 3_000_000, 2_000_000.0) == "1.5 MB/3.0 MB 2.0 MB/s"
    assert progress_amount("hashing", 3, 7, None) == "3/7"

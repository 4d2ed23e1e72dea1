"""Nothing a submission brings is dropped without a word: an incoming bag's tag files and tag
folders (bag-info, its manifests, an Archivematica-style ``metadata/`` or ``logs/`` folder) and a
folder's metadata files are kept byte-exact under ``submission/`` in the AIP, covered by its tag
manifests, listed in METS (fileGrp USE="submission"), read back by ``read_mets`` and audited."""

from __future__ import annotations

import shutil
from pathlib import Path

import bagit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.packaging.mets.read import read_mets
from archive.services.ingest.run import ingest
from tests.conftest import DATA
from tests.support.audit import audit

HERITAGE_META = (DATA / "submissions" / "heritage-minimal" / "metadata.yaml").read_bytes()


def _archivematica_style_bag(dest: Path, extra: dict[str, bytes]) -> Path:
    payload = dest / "payload"
    payload.mkdir(parents=True)
    (payload / "objects").mkdir()
    (payload / "objects" / "letter.txt").write_bytes(b"Dear sir,\n")
    bagit.make_bag(
        str(payload), {"Contact-Name": "Registrar", "External-Description": "Transfer 42"}, checksums=["md5", "sha256"]
    )
    for rel, data in extra.items():  # tag files and folders beside data/, as other systems write them
        target = payload / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (payload / "metadata.yaml").write_bytes(HERITAGE_META)
    bag = bagit.Bag(str(payload))
    bag.save(manifests=False)  # rewrites the tag manifests so they cover the added tag files
    return payload


def _check_kept(ctx, package_id: str, source: Path, tag_names: list[str]) -> None:
    stored = ctx.storage.original_bag(package_id)
    bagit.Bag(str(stored)).validate()
    pkg = read_mets(stored / "mets.xml", validate=True)
    listed = {f.path: f for f in pkg.submitted}
    tagmanifest = (stored / "tagmanifest-sha256.txt").read_text(encoding="utf-8")
    for rel in tag_names:
        kept = stored / "submission" / rel
        assert kept.read_bytes() == (source / rel).read_bytes(), rel
        assert rel in listed and listed[rel].size == kept.stat().st_size
        assert f"  submission/{rel}\n" in tagmanifest


def test_archivematica_style_tag_folders_are_kept(sqlite_ctx, tmp_path: Path) -> None:
    extra = {
        "metadata/rights.csv": b"file,basis\nobjects/letter.txt,copyright\n",
        "metadata/submissionDocumentation/donor-agreement.pdf": b"%PDF-1.4\n%%EOF\n",
        "logs/transfer.log": b"ok\n",
        "checksum.md5": b"d41d8cd98f00b204e9800998ecf8427e  x\n",
    }
    bag = _archivematica_style_bag(tmp_path / "in", extra)
    before = {
        p.relative_to(bag).as_posix() for p in bag.rglob("*") if p.is_file() and p.relative_to(bag).parts[0] != "data"
    }
    result = ingest(sqlite_ctx, bag, "heritage")
    _check_kept(sqlite_ctx, result.package_id, bag, sorted(before))
    assert audit(sqlite_ctx, package_ids=[result.package_id]).status == "complete"


def test_folder_metadata_files_are_kept(sqlite_ctx, tmp_path: Path) -> None:
    sub = tmp_path / "folder"
    shutil.copytree(DATA / "submissions" / "heritage-minimal", sub)
    result = ingest(sqlite_ctx, sub, "heritage")
    _check_kept(sqlite_ctx, result.package_id, sub, ["metadata.yaml"])


_names = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_characters="/\\%*"), min_size=1, max_size=12
).filter(lambda n: n.strip() == n and n not in (".", ".."))


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folder=_names, name=_names, data=st.binary(max_size=200))
def test_any_tag_file_a_bag_brings_is_kept_or_refused(
    sqlite_ctx, tmp_path_factory, folder: str, name: str, data: bytes
) -> None:
    tmp = tmp_path_factory.mktemp("tags")
    rel = f"{folder}/{name}"
    if rel.split("/")[0] in ("data", "bagit.txt", "bag-info.txt") or rel.startswith(("manifest-", "tagmanifest-")):
        return
    try:
        bag = _archivematica_style_bag(tmp / "in", {rel: data})
    except (OSError, bagit.BagError, ValueError):
        return
    from archive.errors import SubmissionRejected

    try:
        result = ingest(sqlite_ctx, bag, "heritage")
    except SubmissionRejected as exc:
        assert exc.findings and all(f.code for f in exc.findings)
        return
    _check_kept(sqlite_ctx, result.package_id, bag, [rel])

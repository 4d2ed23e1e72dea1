"""``validate`` runs every check ``ingest`` runs: on any submission the two give the same verdict and
the same error codes, and a refusal writes nothing. Generated over submitted bag-info values and
file names, where METS and bag-info rules (what XML 1.0 and tag files can carry) come last."""

from __future__ import annotations

import shutil
from pathlib import Path

import bagit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import SubmissionRejected
from archive.services.ingest.run import ingest, validate
from tests.conftest import DATA, nothing_stored

SUB = DATA / "submissions" / "heritage-minimal"


def _verdict(call) -> set[str]:
    try:
        call()
    except SubmissionRejected as exc:
        return {f.code for f in exc.findings if f.is_error}
    return set()


def _bag(dest: Path, info: dict[str, str], name: str) -> Path:
    shutil.copytree(SUB, dest)
    (dest / "payload").mkdir()
    (dest / "payload" / name).write_bytes(b"some bytes\n")
    meta = (dest / "metadata.yaml").read_bytes()
    (dest / "metadata.yaml").unlink()
    bagit.make_bag(str(dest), bag_info=info, checksums=["sha256"])
    (dest / "metadata.yaml").write_bytes(meta)  # beside data/, as the archive reads a bag's metadata
    return dest


_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=_text,
    label=st.sampled_from(["Contact-Name", "Source-Organization", "X-Note", "Bagging-Date"]),
    name=st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=10),
)
def test_validate_and_ingest_agree(sqlite_ctx, tmp_path_factory, value: str, label: str, name: str) -> None:
    tmp = tmp_path_factory.mktemp("parity")
    try:
        sub = _bag(tmp / "bag", {label: value}, name)
    except (OSError, ValueError, UnicodeError, bagit.BagError):
        return  # the file system or bagit-python cannot even make this bag
    before = sqlite_ctx.catalog.count_packages()
    checked = _verdict(lambda: validate(sqlite_ctx, sub, "heritage"))
    stored = _verdict(lambda: ingest(sqlite_ctx, sub, "heritage"))
    assert checked == stored, (label, value, name)
    if stored:
        assert sqlite_ctx.catalog.count_packages() == before


def test_bag_info_value_mets_cannot_carry_is_refused_by_validate(sqlite_ctx, tmp_path: Path) -> None:
    sub = _bag(tmp_path / "bag", {"Contact-Name": "A\x01B"}, "file.txt")
    assert "E321" in _verdict(lambda: validate(sqlite_ctx, sub, "heritage"))
    assert "E321" in _verdict(lambda: ingest(sqlite_ctx, sub, "heritage"))
    assert nothing_stored(sqlite_ctx)

"""Reading submissions: folders, zips and tars read safely, every problem reported at once."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from archive.submission.extract import Limits, extract_archive
from archive.submission.metadata import read_metadata_file
from archive.submission.scan import scan_folder
from tests.conftest import tree_state

LIMITS = Limits(max_bytes=10_000_000, max_files=1000)


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


def test_folder_scan_lists_payload_and_skips_metadata(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "s",
        {"a.txt": b"a", "sub/b.txt": b"bb", "metadata.yaml": b"title: x", "metadata/files.csv": b"path\n"},
    )
    before = tree_state(root)
    scan = scan_folder(root, 100)
    assert [f.path for f in scan.files] == ["a.txt", "sub/b.txt"]
    assert scan.metadata_file == root / "metadata.yaml"
    assert scan.files_csv == root / "metadata/files.csv"
    assert scan.total_bytes == 3 and not scan.findings.items
    assert tree_state(root) == before  # reading never changes the submission


def test_symlinks_fifos_are_rejected_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    root = make_tree(tmp_path / "s", {"a.txt": b"a"})
    os.symlink(outside, root / "link.txt")
    os.symlink(tmp_path, root / "linkdir")
    os.mkfifo(root / "pipe")
    scan = scan_folder(root, 100)
    assert codes(scan.findings.errors) == ["E137", "E137", "E138"]
    assert [f.path for f in scan.files] == ["a.txt"]


def test_nfc_collision_is_an_error_and_case_collision_a_warning(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "s", {"caf\u00e9.txt": b"1", "cafe\u0301.txt": b"2", "Readme.txt": b"3", "README.txt": b"4"}
    )
    scan = scan_folder(root, 100)
    assert codes(scan.findings.errors) == ["E132"]
    assert codes(scan.findings.warnings) == ["W133"]


def test_empty_submission_is_rejected(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"metadata.yaml": b"title: x"})
    (root / "empty-folder").mkdir()
    assert codes(scan_folder(root, 100).findings.errors) == ["E136"]


def test_empty_file_is_allowed(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"empty.txt": b""})
    scan = scan_folder(root, 100)
    assert not scan.findings.errors and scan.files[0].size == 0


def test_names_with_control_characters_and_bad_utf8(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"ok.txt": b"1", "bell\x07.txt": b"2", "line\nbreak.txt": b"3"})
    os.close(os.open(os.fsencode(root) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY))
    scan = scan_folder(root, 100)
    assert codes(scan.findings.errors) == ["E130", "E131"]
    assert codes(scan.findings.warnings) == ["W131"]
    assert sorted(f.path for f in scan.files) == ["line\nbreak.txt", "ok.txt"]


def test_too_many_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {f"{i}.txt": b"x" for i in range(5)})
    assert "E124" in codes(scan_folder(root, 3).findings.errors)


def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_zip_extracts_into_work_folder(tmp_path: Path) -> None:
    z = _zip(tmp_path / "s.zip", {"top/a.txt": b"a", "top/metadata.yaml": b"title: t"})
    dest = tmp_path / "out"
    dest.mkdir()
    assert extract_archive(z, dest, LIMITS) == []
    assert (dest / "top/a.txt").read_bytes() == b"a"


def test_zip_slip_absolute_and_symlink_members_all_reported(tmp_path: Path) -> None:
    z = _zip(tmp_path / "evil.zip", {"../escape.txt": b"x", "/abs.txt": b"y", "ok.txt": b"z"}, symlink="link")
    dest = tmp_path / "out"
    dest.mkdir()
    findings = extract_archive(z, dest, LIMITS)
    assert codes(findings) == ["E121", "E121", "E122"]
    assert list(dest.iterdir()) == []  # nothing extracted when any member is bad
    assert not (tmp_path / "escape.txt").exists()


def test_zip_bomb_is_bounded(tmp_path: Path) -> None:
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * 20_000_000)
    assert z.stat().st_size < 100_000
    dest = tmp_path / "out"
    dest.mkdir()
    findings = extract_archive(z, dest, Limits(max_bytes=1_000_000, max_files=10))
    assert codes(findings) == ["E125"]
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) == 0


def test_zip_bomb_lying_about_its_size_is_stopped_while_extracting(tmp_path: Path) -> None:
    z = tmp_path / "liar.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * 5_000_000)
    data = bytearray(z.read_bytes())
    # patch the declared uncompressed size (local header and central directory) down to 10 bytes
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = data.find(sig)
        data[i + offset : i + offset + 4] = (10).to_bytes(4, "little")
    z.write_bytes(bytes(data))
    dest = tmp_path / "out"
    dest.mkdir()
    findings = extract_archive(z, dest, Limits(max_bytes=1_000_000, max_files=10))
    assert findings and all(f.is_error for f in findings)
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= 1_000_000


def test_tar_links_devices_and_traversal_rejected(tmp_path: Path) -> None:
    t = tmp_path / "evil.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        for name, kind in (
            ("ok.txt", tarfile.REGTYPE),
            ("../up.txt", tarfile.REGTYPE),
            ("sym", tarfile.SYMTYPE),
            ("hard", tarfile.LNKTYPE),
            ("dev", tarfile.CHRTYPE),
            ("fifo", tarfile.FIFOTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            data = b"hello" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = "/etc/passwd"
            tf.addfile(info, io.BytesIO(data) if data else None)
    dest = tmp_path / "out"
    dest.mkdir()
    assert codes(extract_archive(t, dest, LIMITS)) == ["E121", "E122", "E122", "E123", "E123"]
    assert list(dest.iterdir()) == []


def test_corrupt_archive_is_a_finding(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    dest = tmp_path / "out"
    dest.mkdir()
    assert codes(extract_archive(bad, dest, LIMITS)) == ["E120"]


@pytest.mark.parametrize(
    "name, text, code",
    [
        ("metadata.yaml", "title: [unclosed", "E412"),
        ("metadata.json", '{"title": ', "E412"),
        ("metadata.yaml", "a: &a ['lol','lol']\nb: &b [*a,*a,*a]\nc: [*b,*b,*b]\n", "E413"),
        ("metadata.yaml", "a: " + "[" * 100 + "]" * 100, "E413"),
    ],
)
def test_malformed_or_hostile_metadata(tmp_path: Path, name: str, text: str, code: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    _, findings = read_metadata_file(p, 1_000_000)
    assert codes(findings) == [code]


def test_metadata_invalid_utf8_and_size_limit(tmp_path: Path) -> None:
    p = tmp_path / "metadata.yaml"
    p.write_bytes(b"title: caf\xe9\n")
    assert codes(read_metadata_file(p, 1000)[1]) == ["E411"]
    p.write_bytes(b"title: " + b"x" * 2000)
    assert codes(read_metadata_file(p, 1000)[1]) == ["E410"]


def test_files_csv_cells_are_read_as_their_field_types(tmp_path: Path) -> None:
    from archive.profiles.loader import ProfileRegistry, build_profile

    base = ProfileRegistry([Path(__file__).resolve().parent.parent / "archive" / "profiles" / "bundled"]).get("base")
    raw = {
        "id": "typed",
        "version": "1",
        "file_fields": {
            "pages": {"type": "integer"},
            "redacted": {"type": "boolean"},
            "keywords": {"type": "string", "repeatable": True},
        },
    }
    profile = build_profile(raw, base, "typed.yaml")
    csv_path = tmp_path / "files.csv"
    csv_path.write_text("path,pages,redacted,keywords\na.txt,12,true,harbour; pier\nb.txt,twelve,maybe,x\n")
    from archive.submission.metadata import read_files_csv

    values, findings = read_files_csv(csv_path, 10_000, profile, {"a.txt", "b.txt"})
    assert values["a.txt"] == {"pages": 12, "redacted": True, "keywords": ["harbour", "pier"]}
    assert sorted(f.code for f in findings) == ["E403", "E403"]  # b.txt: not a number, not a boolean

"""Format identification: fido (in-process) and siegfried against PRONOM skeletons and real files.

Also the honesty of an identification: every answer carries its basis; a PUID guessed from the
extension alone (or an empty file) never counts as identified for a profile's format policy,
under every engine and signature set (docs/formats.md).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import FormatError
from archive.formats import (
    EMPTY_FILE,
    ENGINES,
    GUESSED,
    Identifier,
    also_matched,
    by_content,
    describe,
    guessed,
    is_empty,
    mime_for,
)
from archive.formats import identify as identify_module
from archive.model import FormatInfo
from archive.profiles import ProfileRegistry
from archive.profiles.model import Profile
from archive.profiles.rules import check_format

SAMPLE = Path(__file__).parent / "data" / "format-skeletons-sample"
with open(SAMPLE / "truth.csv", newline="", encoding="utf-8") as _f:
    ROWS = list(csv.DictReader(_f))

HAVE_PYGFRIED = importlib.util.find_spec("pygfried") is not None
_NEEDS_PYGFRIED = pytest.mark.skipif(not HAVE_PYGFRIED, reason="pygfried not installed")
ENGINE_PARAMS = [
    "fido",
    pytest.param("siegfried", marks=_NEEDS_PYGFRIED),
]
#: every engine with every signature set it can load: (engine, signatures)
ENGINE_SETS = [
    pytest.param("fido", None, id="fido-bundled-v116"),
    pytest.param("fido", "wheel", id="fido-wheel-v109"),
    pytest.param("siegfried", None, id="siegfried", marks=_NEEDS_PYGFRIED),
]
#: fido signature sets and the sample's columns recording their answers and statuses
FIDO_SETS = [
    pytest.param(None, "fido_1_6_1_v116", "fido_v116_status", id="bundled-v116"),
    pytest.param("wheel", "fido_1_6_1_v109", "fido_status", id="wheel-v109"),
]
#: exact answers resting on the file's bytes on the sample: may grow, never shrink
EXACT_BY_CONTENT_FLOOR = {("fido", None): 37, ("fido", "wheel"): 29, ("siegfried", None): 32}


@pytest.fixture(scope="module")
def fido() -> Identifier:
    return Identifier("fido")


@pytest.fixture(scope="module")
def siegfried() -> Identifier:
    pytest.importorskip("pygfried")
    return Identifier("siegfried")


def _items(rows: list[dict[str, str]]) -> list[tuple[str, str | None]]:
    return [(str(SAMPLE / r["path"]), _sha256(SAMPLE / r["path"])) for r in rows]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the skeleton sample -------------------------------------------------------------------


@pytest.mark.parametrize("signatures, answers, status", FIDO_SETS)
def test_fido_matches_its_recorded_answers(signatures: str | None, answers: str, status: str) -> None:
    ident = Identifier("fido", signatures=signatures)
    infos = ident.identify_many(_items(ROWS))
    for row, info in zip(ROWS, infos, strict=False):
        candidates = {info.puid, *also_matched(info)} - {None}
        assert candidates == set(filter(None, row[answers].split(";"))), row["path"]
        if signatures is None:
            assert info.basis == row["fido_v116_basis"], row["path"]
        if row[status] == "exact" and (signatures is not None or row["fido_v116_basis"] != "extension"):
            assert info.puid == row["expected_puid"] and not also_matched(info), row["path"]
            assert info.basis in ("signature", "container") and info.name, row["path"]


@pytest.mark.parametrize("engine, signatures", ENGINE_SETS)
def test_exact_matches_on_the_sample_do_not_regress(engine: str, signatures: str | None) -> None:
    """Exact answers that rest on the bytes (an extension guess does not count) never fall
    below what is recorded: in truth.csv and in EXACT_BY_CONTENT_FLOOR."""
    infos = Identifier(engine, signatures=signatures).identify_many(_items(ROWS))
    exact = sum(
        info.puid == row["expected_puid"] and not also_matched(info) and by_content(info)
        for row, info in zip(ROWS, infos, strict=False)
    )
    if engine == "siegfried":
        recorded = sum(r["siegfried_status"] == "exact" for r in ROWS)
    elif signatures is None:
        recorded = sum(r["fido_v116_status"] == "exact" and r["fido_v116_basis"] != "extension" for r in ROWS)
    else:
        recorded = sum(r["fido_status"] == "exact" for r in ROWS)
    assert exact >= max(recorded, EXACT_BY_CONTENT_FLOOR[engine, signatures]), (exact, recorded)


def test_the_bundled_signatures_beat_the_wheels_on_the_sample() -> None:
    """The reason they are bundled (docs/decisions/0005): more exact answers, fewer misses."""

    def statuses(signatures: str | None) -> list[tuple[bool, bool]]:
        infos = Identifier("fido", signatures=signatures).identify_many(_items(ROWS))
        return [
            (info.puid == r["expected_puid"] and not also_matched(info) and by_content(info), by_content(info))
            for r, info in zip(ROWS, infos, strict=False)
        ]

    new, old = statuses(None), statuses("wheel")
    assert sum(e for e, _ in new) > sum(e for e, _ in old)
    assert sum(c for _, c in new) >= sum(c for _, c in old)


def test_fido_breaks_ties_by_extension_then_pronom(fido: Identifier) -> None:
    """Among formats fido leaves standing, the file's extension wins, then a real PUID."""
    engine: Any = fido.engine
    fmt = engine._fido.puid_format_map

    def pick(name: str, *puids: str) -> FormatInfo:
        info: FormatInfo = engine._to_info(name, [(fmt[p], "sig") for p in puids], "signature", "")
        return info

    assert pick("a.jar", "x-fmt/263", "x-fmt/412").puid == "x-fmt/412"
    assert pick("A.ZIP", "x-fmt/263", "x-fmt/412").puid == "x-fmt/263"
    tie = pick("a.bin", "x-fmt/263", "x-fmt/412")  # no help from the name: fido's order
    assert (tie.puid, also_matched(tie), tie.name) == ("x-fmt/263", ["x-fmt/412"], "ZIP Format")
    assert pick("a.bin", "fido-fmt/189.word", "fmt/189").puid == "fmt/189"
    assert pick("a.bin", "x-fmt/263", "x-fmt/263").warning == ""  # one format, two signatures


def test_fido_extension_only_answers(tmp_path: Path) -> None:
    """No v109 signature matches this WordPerfect skeleton: fido lists every format using its extension."""
    fido = Identifier("fido", signatures="wheel")
    src = SAMPLE / "x-fmt/x-fmt-44-signature-id-246.doc"
    as_doc = fido.identify(str(src))
    assert (as_doc.puid, as_doc.basis, len(also_matched(as_doc))) == ("x-fmt/42", "extension", 16)
    assert guessed(as_doc) and not by_content(as_doc) and GUESSED in as_doc.warning
    wpd = tmp_path / "letter.wpd"
    shutil.copy(src, wpd)
    as_wpd = fido.identify(str(wpd), _sha256(src))  # same content, other extension: not cached
    assert as_wpd.puid == "x-fmt/44" and "x-fmt/42" not in also_matched(as_wpd)
    assert as_wpd.basis == "extension"


def test_bundled_signatures_that_cannot_match_leave_a_guess(fido: Identifier) -> None:
    """Two v116 regressions kept in the sample: a changed signature (.ai) and one whose regular
    expression Python refuses (.toast). fido can only guess them, and says so."""
    for path in ("fmt/fmt-558-signature-id-892.ai", "fmt/fmt-1738-signature-id-2076.toast"):
        info = fido.identify(str(SAMPLE / path))
        assert info.basis == "extension" and GUESSED in info.warning and not by_content(info), path


def test_siegfried_on_the_sample(siegfried: Identifier) -> None:
    infos = siegfried.identify_many(_items(ROWS))
    for row, info in zip(ROWS, infos, strict=False):
        if row["siegfried_status"] == "exact":
            assert info.puid == row["expected_puid"], row["path"]
    exact = sum(info.puid == row["expected_puid"] for row, info in zip(ROWS, infos, strict=False))
    assert exact >= sum(r["siegfried_status"] == "exact" for r in ROWS)


def _stock(core: Any, bof: bytes, eof: bytes) -> list[Any]:
    """Stock fido's match_formats (it prints each signature Python refuses to stderr: silenced)."""
    from fido.fido import Fido

    with contextlib.redirect_stderr(io.StringIO()):
        return list(Fido.match_formats(core, bof, eof))


@pytest.mark.parametrize("signatures", [None, "wheel"], ids=["bundled-v116", "wheel-v109"])
def test_fast_matcher_equals_fido(signatures: str | None, tmp_path: Path) -> None:
    """Our precompiled, first-byte-indexed match_formats gives fido's own answer."""
    core: Any = Identifier("fido", signatures=signatures).engine._fido  # type: ignore[attr-defined]
    paths = [SAMPLE / r["path"] for r in ROWS] + list(_real_files(tmp_path).values())
    for path in paths:
        data = path.read_bytes()
        bof, eof = data[: core.bufsize], data[-core.bufsize :]
        ours = [core.get_puid(f) for f, _ in core.match_formats(bof, eof)]
        stock = [core.get_puid(f) for f, _ in _stock(core, bof, eof)]
        assert ours == stock, path
    assert core.match_formats(b"", b"") == _stock(core, b"", b"")


# -- cache and workers ----------------------------------------------------------------------


def test_duplicate_content_is_identified_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = SAMPLE / "fmt/fmt-18-signature-id-20.pdf"
    copies = [tmp_path / f"copy{i}.pdf" for i in range(3)]
    for c in copies:
        shutil.copy(src, c)
    ident = Identifier("fido")
    calls: list[str] = []
    real = ident.engine.identify

    def counting(path: str) -> FormatInfo:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(ident.engine, "identify", counting)
    digest = _sha256(src)
    first = ident.identify(str(copies[0]), digest)
    assert ident.identify(str(copies[1]), digest.upper()) == first
    infos = ident.identify_many([(str(c), digest) for c in copies] + [(str(src), digest)])
    assert infos == [first] * 4 and len(calls) == 1
    ident.clear_cache()
    ident.identify_many([(str(c), digest) for c in copies])
    assert len(calls) == 2
    ident.identify(str(copies[0]))  # no digest: no caching
    assert len(calls) == 3


def test_workers_give_the_same_answers(fido: Identifier, monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.formats.identify as identify_module

    monkeypatch.setattr(identify_module, "POOL_MIN_FILES", 2)  # use the pool even for this small sample
    items = _items(ROWS)
    expected = fido.identify_many(items)
    with Identifier("fido", workers=2) as pool:
        assert pool.identify_many(items) == expected
        assert pool._pool is not None
        assert pool.identify_many([(p, None) for p, _ in items[:5]]) == expected[:5]  # pool reused
        with pytest.raises(FormatError, match="nothing-here"):
            pool.identify_many([items[0], (str(SAMPLE / "nothing-here.pdf"), None)])
    assert pool._pool is None


def test_the_workers_name_the_tool_without_loading_it_here(fido: Identifier, monkeypatch: pytest.MonkeyPatch) -> None:
    """What PREMIS records of the tool (its version, its signatures) comes from the answers the
    worker processes gave: the ingesting process does not load fido's signatures just for that."""
    import archive.formats.identify as identify_module

    monkeypatch.setattr(identify_module, "POOL_MIN_FILES", 2)
    with Identifier("fido", workers=2) as pool:
        pool.identify_many(_items(ROWS))
        assert (pool.tool, pool.tool_version, pool.signature_version) == (
            fido.tool,
            fido.tool_version,
            fido.signature_version,
        )
        assert pool._engine is None


# -- real files, errors, versions -------------------------------------------------------------


def tiny_jpeg() -> bytes:
    """A 1x1 grey baseline JFIF 1.01 JPEG: one block, DC difference 0, no AC coefficient."""

    def seg(marker: int, body: bytes) -> bytes:
        return struct.pack(">HH", 0xFF00 | marker, len(body) + 2) + body

    one_code = bytes([1] + [0] * 15)  # a Huffman table with one code, of length 1
    return (
        b"\xff\xd8"
        + seg(0xE0, b"JFIF\x00\x01\x01\x00" + struct.pack(">HH", 1, 1) + b"\x00\x00")
        + seg(0xDB, b"\x00" + bytes([1] * 64))  # quantisation table 0: all ones
        + seg(0xC0, struct.pack(">BHHB", 8, 1, 1, 1) + b"\x01\x11\x00")  # 1x1, one component
        + seg(0xC4, b"\x00" + one_code + b"\x00")  # DC table 0: difference 0
        + seg(0xC4, b"\x10" + one_code + b"\x00")  # AC table 0: end of block
        + seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f"  # DC code 0, EOB code 0, padded with ones
        + b"\xff\xd9"
    )


def _real_files(folder: Path) -> dict[str, Path]:
    """A PDF 1.4, ZIP, PNG, JPEG, DOCX and XLSX written from scratch."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    pdf, offsets = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(pdf)
    pdf += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    pdf += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )
    files = {
        "pdf": folder / "report.pdf",
        "png": folder / "pixel.png",
        "jpg": folder / "photo.jpg",
        "zip": folder / "bundle.zip",
        "docx": folder / "letter.docx",
        "xlsx": folder / "sheet.xlsx",
    }
    files["pdf"].write_bytes(pdf)
    files["png"].write_bytes(png)
    files["jpg"].write_bytes(tiny_jpeg())
    with zipfile.ZipFile(files["zip"], "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("hello.txt", "hello, world\n")
    _ooxml(
        files["docx"],
        "word/document.xml",
        "wordprocessingml.document.main",
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>',
    )
    _ooxml(
        files["xlsx"],
        "xl/workbook.xml",
        "spreadsheetml.sheet.main",
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>',
    )
    return files


def _ooxml(path: Path, part: str, kind: str, body: str) -> None:
    ns, mime = "http://schemas.openxmlformats.org", "application/vnd.openxmlformats"
    types = (
        f'<?xml version="1.0"?><Types xmlns="{ns}/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="{mime}-package.relationships+xml"/>'
        f'<Override PartName="/{part}" ContentType="{mime}-officedocument.{kind}+xml"/>'
        "</Types>"
    )
    rels = (
        f'<?xml version="1.0"?><Relationships xmlns="{ns}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
        f'Target="{part}"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        z.writestr(part, '<?xml version="1.0"?>' + body)


OOXML = "application/vnd.openxmlformats-officedocument"
REAL = {  # kind: (PUID, basis, MIME)
    "pdf": ("fmt/18", "signature", "application/pdf"),
    "png": ("fmt/11", "signature", "image/png"),
    "jpg": ("fmt/43", "signature", "image/jpeg"),
    "zip": ("x-fmt/263", None, "application/zip"),  # siegfried calls its ZIP check a container match
    "docx": ("fmt/412", "container", f"{OOXML}.wordprocessingml.document"),
    "xlsx": ("fmt/214", "container", f"{OOXML}.spreadsheetml.sheet"),
}


@pytest.mark.parametrize("engine, signatures", ENGINE_SETS)
def test_real_files(engine: str, signatures: str | None, tmp_path: Path, strict: Profile) -> None:
    """Real (tiny) files are identified from their bytes, whatever their name, and pass a strict policy."""
    ident = Identifier(engine, signatures=signatures)
    for kind, path in _real_files(tmp_path).items():
        info = ident.identify(str(path), _sha256(path))
        puid, basis, mime = REAL[kind]
        assert (info.puid, info.mime) == (puid, mime), (kind, info)
        assert basis is None or info.basis == basis, (kind, info)
        assert info.tool == engine and info.identified and by_content(info) and GUESSED not in info.warning
        assert check_format(strict, path.name, info) is None, (kind, info)
        if kind in ("jpg", "png", "pdf"):  # renamed: still the signature, never the name
            renamed = path.with_name(f"renamed-{kind}.bin")
            shutil.copy(path, renamed)
            again = ident.identify(str(renamed), _sha256(path))
            assert (again.puid, again.basis) == (puid, "signature"), (kind, again)


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_unreadable_files_raise(engine: str, tmp_path: Path) -> None:
    ident = Identifier(engine)
    with pytest.raises(FormatError, match=r"missing\.pdf"):
        ident.identify(str(tmp_path / "missing.pdf"))
    with pytest.raises(FormatError):
        ident.identify(str(tmp_path))  # a folder
    with pytest.raises(FormatError, match=r"missing\.pdf"):
        ident.identify_many([(str(tmp_path / "missing.pdf"), None)])
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.pdf"
        locked.write_bytes(b"%PDF-1.4\n")
        locked.chmod(0)
        with pytest.raises(FormatError):
            ident.identify(str(locked))


def test_fido_edge_cases(fido: Identifier, tmp_path: Path) -> None:
    named = tmp_path / "notes.pdf"
    named.write_bytes(b"\x00\x01 nothing like a PDF")
    info = fido.identify(str(named))
    assert info.basis == "extension" and info.puid and info.mime == "application/pdf"
    assert guessed(info) and GUESSED in info.warning and not by_content(info)
    assert describe(info).endswith("(guessed from the extension only)")
    unknown = tmp_path / "blob.qqqq"
    unknown.write_bytes(b"\x00\x01 nothing known")
    info = fido.identify(str(unknown))
    assert (info.puid, info.basis, info.identified) == (None, "none", False)


# -- honesty: the basis, extension guesses, empty files ------------------------------------------


def _profile(tmp_path: Path, unidentified: str) -> Profile:
    folder = tmp_path / f"profiles-{unidentified}"
    folder.mkdir(exist_ok=True)
    (folder / "strict.yaml").write_text(f"id: strict\nversion: '1'\nformats: {{unidentified: {unidentified}}}\n")
    return ProfileRegistry([folder]).get("strict")


@pytest.fixture
def strict(tmp_path: Path) -> Profile:
    """A profile that rejects unidentified files."""
    return _profile(tmp_path, "reject")


def _random_file(folder: Path, name: str, seed: int, size: int = 3000) -> Path:
    path = folder / name
    path.write_bytes(random.Random(f"{seed}:{name}").randbytes(size))
    return path


@pytest.mark.parametrize("engine, signatures", ENGINE_SETS)
def test_random_bytes_named_like_known_formats_are_unidentified(
    engine: str, signatures: str | None, tmp_path: Path
) -> None:
    ident = Identifier(engine, signatures=signatures)
    policies = {u: _profile(tmp_path, u) for u in ("reject", "warn", "accept")}
    for seed in range(3):
        for name in ("photo.jpg", "report.pdf", "scan.tif", "SCAN.TIFF", "image.png"):
            path = _random_file(tmp_path, name, seed)
            info = ident.identify(str(path), _sha256(path))
            assert not by_content(info) and info.basis in ("extension", "none"), (name, info)
            if info.puid:  # fido names it after its extension: a guess, and it says so
                assert guessed(info) and info.warning.startswith(GUESSED), (name, info)
            rejected = check_format(policies["reject"], name, info)
            assert rejected is not None and rejected.is_error and rejected.code in ("E201", "E210"), (name, info)
            warned = check_format(policies["warn"], name, info)
            assert warned is not None and not warned.is_error and warned.code in ("W201", "W210")
            if info.puid:
                assert "guessed from the extension only" in rejected.message + warned.message
            assert check_format(policies["accept"], name, info) is None


@pytest.mark.parametrize("engine, signatures", ENGINE_SETS)
def test_an_empty_file_is_not_identified(engine: str, signatures: str | None, tmp_path: Path) -> None:
    """fido and siegfried name an empty file after its extension; the archive gives it no PUID.
    Under a profile that rejects unidentified files it is a warning, not an error: zero bytes
    carry no format to preserve (docs/formats.md)."""
    ident = Identifier(engine, signatures=signatures)
    for name in ("empty.pdf", "empty.txt", "EMPTY.JPG", "empty"):
        path = tmp_path / name
        path.write_bytes(b"")
        info = ident.identify(str(path), _sha256(path))
        assert (info.puid, info.basis, info.warning) == (None, "none", EMPTY_FILE), (name, info)
        assert is_empty(info) and describe(info) == "unidentified (empty file)"
        for unidentified, code in (("reject", "W211"), ("warn", "W211"), ("accept", None)):
            finding = check_format(_profile(tmp_path, unidentified), name, info)
            assert (finding.code if finding else None) == code, (name, unidentified, finding)
            assert finding is None or not finding.is_error


def test_the_policy_and_the_engines_agree_on_the_words() -> None:
    from archive.formats import base
    from archive.profiles import rules

    assert rules._EMPTY_FILE == base.EMPTY_FILE
    assert set(rules._NOT_BY_CONTENT) == set(base.BASES) - base.BY_CONTENT


def test_a_cached_answer_keeps_its_basis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest cache returns the whole answer: a guess stays a guess, a signature a signature."""
    import archive.formats.identify as identify_module

    guess = _random_file(tmp_path, "a.jpg", 1)
    same = tmp_path / "b.jpg"
    shutil.copy(guess, same)
    jpeg = tmp_path / "c.jpg"
    jpeg.write_bytes(tiny_jpeg())
    ident = Identifier("fido")
    first = ident.identify(str(guess), _sha256(guess))
    again = ident.identify(str(same), _sha256(guess))
    assert ident.hits == 1 and again == first and again.basis == "extension" and GUESSED in again.warning
    real = ident.identify(str(jpeg), _sha256(jpeg))
    assert ident.identify(str(jpeg), _sha256(jpeg)).basis == real.basis == "signature"
    monkeypatch.setattr(identify_module, "POOL_MIN_FILES", 2)
    items = [(str(p), _sha256(p)) for p in (guess, same, jpeg)]
    with Identifier("fido", workers=2) as pool:  # answers travel back from worker processes
        from_pool = pool.identify_many(items)
        assert [i.basis for i in from_pool] == ["extension", "extension", "signature"]
        assert from_pool == [first, first, real] and pool.identify_many(items) == from_pool


_MAGIC = [
    b"",
    b"%PDF-1.4\n",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"II*\x00",
    b"MM\x00*",
    b"GIF89a",
    b"PK\x03\x04",
    b"RIFF\x00\x00\x00\x00WAVE",
    b'<?xml version="1.0"?>',
]
_EXTENSIONS = [
    "jpg",
    "jpeg",
    "pdf",
    "tif",
    "tiff",
    "png",
    "gif",
    "doc",
    "zip",
    "wav",
    "mp3",
    "xml",
    "txt",
    "csv",
    "docx",
    "odt",
    "psd",
    "html",
    "bin",
    "",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(magic=st.sampled_from(_MAGIC), tail=st.binary(max_size=1500), ext=st.sampled_from(_EXTENSIONS))
def test_basis_is_honest_for_any_bytes_under_any_name(fido: Identifier, magic: bytes, tail: bytes, ext: str) -> None:
    """Invariants, for random bytes (sometimes after a real magic number) under known extensions:
    a ``signature`` basis is a match of fido's own (stock) matcher; an ``extension`` basis is a
    guess that the policy never counts as identified; only a content basis passes ``reject``."""
    data = magic + tail
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (f"file.{ext}" if ext else "file")
        path.write_bytes(data)
        info = fido.identify(str(path))
        strict = _profile(Path(tmp), "reject")
        finding = check_format(strict, path.name, info)
    core: Any = fido.engine._fido  # type: ignore[attr-defined]
    if not data:
        assert (info.puid, info.basis) == (None, "none")
    if info.basis == "signature":
        stock = {core.get_puid(f) for f, _ in _stock(core, data[: core.bufsize], data[-core.bufsize :])}
        assert info.puid in stock, (info, stock)
    if info.basis in ("extension", "none"):
        assert not by_content(info) and finding is not None and finding.code in ("E201", "E210", "W211")
    if info.basis == "extension":
        assert info.puid and finding is not None and finding.code == "E210" and GUESSED in info.warning
    if by_content(info):
        assert finding is None or finding.code not in ("E201", "E210", "W211")


@pytest.mark.skipif(not HAVE_PYGFRIED, reason="pygfried not installed")
@settings(max_examples=60, deadline=None)
@given(magic=st.sampled_from(_MAGIC), tail=st.binary(max_size=1500), ext=st.sampled_from(_EXTENSIONS))
def test_siegfried_basis_is_honest_for_any_bytes(magic: bytes, tail: bytes, ext: str) -> None:
    data = magic + tail
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (f"file.{ext}" if ext else "file")
        path.write_bytes(data)
        info = Identifier("siegfried").identify(str(path))
        finding = check_format(_profile(Path(tmp), "reject"), path.name, info)
    assert info.basis in ("signature", "container", "extension", "none")
    if not by_content(info):
        assert finding is not None and finding.code in ("E201", "E210", "W211"), info


def test_siegfried_basis_words() -> None:
    """Only siegfried's matchers that read bytes make a content basis; anything else is a guess."""
    from archive.formats.siegfried_engine import _basis

    assert _basis("extension match pdf; byte match at [[0 8] [8 5]]") == "signature"
    assert _basis("byte match at 0, 4") == "signature"
    assert _basis("extension match txt; text match ASCII") == "signature"
    assert _basis("xml match with root svg") == "signature"
    assert _basis("container match with trigger ZIP") == "container"
    assert _basis("extension match pdf") == "extension"
    assert _basis("") == "extension"  # nothing said: never taken for a signature
    assert _basis("mime match application/pdf") == "extension"  # a declared type, not the bytes


def test_extension_guess_in_premis_catalog_and_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A guessed format is recorded as one: PREMIS formatNote basis + warning, a ``warning``
    identification event, the catalog row, ``archive validate`` (W210) and ``archive show``."""
    import json

    import yaml
    from click.testing import CliRunner

    from archive.cli import main
    from archive.packaging.mets.read import read_mets
    from tests.support.hostile_cases import METADATA_YAML

    monkeypatch.chdir(tmp_path)
    sub = tmp_path / "build" / "guesses"
    sub.mkdir(parents=True)
    (sub / "metadata.yaml").write_text(METADATA_YAML)
    _random_file(sub, "photo.jpg", 7)
    (sub / "real.jpg").write_bytes(tiny_jpeg())
    (sub / "empty.pdf").write_bytes(b"")
    home, config = tmp_path / "home", tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump({"workers": 1, "identify_engine": "fido"}))

    def run(*args: str) -> Any:
        result = CliRunner().invoke(main, ["--config", str(config), "--home", str(home), *args], catch_exceptions=False)
        return result

    shown = run("validate", str(sub), "--profile", "heritage")
    assert shown.exit_code == 0, shown.output
    assert "W210" in shown.output and "W211" in shown.output
    assert "guessed from the extension only" in shown.output
    stored = run("ingest", str(sub), "--profile", "heritage", "--json")
    assert stored.exit_code == 0, stored.output
    data = json.loads(stored.stdout)
    assert {"W210", "W211"} <= {w["code"] for w in data["warnings"]}
    package = read_mets(next(home.rglob("mets.xml")))
    by_path = {f.path: f.format for f in package.files}
    assert by_path["photo.jpg"] is not None and by_path["photo.jpg"].basis == "extension"
    assert GUESSED in by_path["photo.jpg"].warning
    assert by_path["real.jpg"] is not None and by_path["real.jpg"].basis == "signature"
    empty = by_path["empty.pdf"]
    assert empty is not None and (empty.puid, empty.basis) == (None, "none")
    mets = next(home.rglob("mets.xml")).read_text(encoding="utf-8")
    assert "basis: extension" in mets and f"warning: {GUESSED}" in mets
    events = {e.objects[0]: e for e in package.events if e.type == "format identification"}
    assert events["photo.jpg"].outcome == "warning" and GUESSED in events["photo.jpg"].outcome_detail
    assert events["real.jpg"].outcome == "success"
    assert "signatures PRONOM v116; container-signature-20231127.xml" in events["real.jpg"].detail
    shown = run("show", data["id"])
    assert shown.exit_code == 0, shown.output
    assert "(guessed from the extension only)" in shown.output and "unidentified (empty file)" in shown.output


def test_versions(fido: Identifier) -> None:
    import fido as fido_pkg

    assert (fido.tool, fido.tool_version) == ("fido", fido_pkg.__version__)
    assert fido.signature_version == "PRONOM v116; container-signature-20231127.xml"  # the bundled set
    info = fido.identify(str(SAMPLE / "fmt/fmt-11-signature-id-58.png"))
    assert (info.tool, info.tool_version, info.signature_version) == (
        fido.tool,
        fido.tool_version,
        fido.signature_version,
    )
    wheel = Identifier("fido", signatures="wheel")
    assert re.fullmatch(r"PRONOM v\d+; container-signature-\d{8}\.xml", wheel.signature_version)
    assert wheel.signature_version != fido.signature_version
    assert wheel.identify(str(SAMPLE / "fmt/fmt-11-signature-id-58.png")).signature_version == wheel.signature_version


def test_bundled_signatures_are_the_documented_files() -> None:
    """The bundled set is upstream's, unmodified (PROVENANCE.md names each file's sha256), and ships
    as package data."""
    from archive.formats.fido_engine import BUNDLED

    folder = Path(BUNDLED)
    provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in (
        "versions.xml",
        "formats-v116.xml",
        "container-signature-20231127.xml",
        "format_extensions.xml",
        "LICENSE.txt",
    ):
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert f"`{name}`" in provenance and digest in provenance, name
    assert "Apache-2.0" in provenance and "openpreserve/fido @ 33789ab" in provenance
    assert (folder / "__init__.py").is_file()  # a package: setuptools ships its *.xml as package data


def test_a_broken_signature_folder_is_a_format_error(tmp_path: Path) -> None:
    from archive.formats.fido_engine import FidoEngine

    with pytest.raises(FormatError, match=r"no versions\.xml"):
        FidoEngine(str(tmp_path))


def test_siegfried_versions(siegfried: Identifier) -> None:
    import pygfried

    assert (siegfried.tool, siegfried.tool_version) == ("siegfried", pygfried.version())
    assert re.fullmatch(r"PRONOM v\d+; container-signature-\d{8}\.xml", siegfried.signature_version)
    assert int(re.search(r"v(\d+)", siegfried.signature_version).group(1)) >= 109  # type: ignore[union-attr]


def test_siegfried_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.formats.siegfried_engine import SiegfriedEngine

    monkeypatch.setitem(sys.modules, "pygfried", None)  # makes "import pygfried" fail
    with pytest.raises(FormatError, match=re.escape("pip install 'archive-preservation[siegfried]'")):
        SiegfriedEngine()


def test_engine_names_and_mime() -> None:
    assert ENGINES == ("fido", "siegfried")
    with pytest.raises(FormatError, match="unknown"):
        Identifier("droid")
    with pytest.raises(FormatError):
        Identifier("fido", workers=0)
    assert mime_for("fmt/18") == "application/pdf"
    assert mime_for("x-fmt/263") == "application/zip"
    assert mime_for("fmt/999999") == mime_for(None) == "application/octet-stream"


def test_siegfried_in_batches_answers_as_in_one(siegfried: Identifier, monkeypatch) -> None:
    """A transfer goes to siegfried a batch at a time (flat memory): each file keeps its own
    answer, in order, whatever the batch size."""
    items = _items(ROWS)
    siegfried.clear_cache()
    whole = siegfried.identify_many(items)
    monkeypatch.setattr(identify_module, "NATIVE_BATCH_FILES", 3)
    siegfried.clear_cache()
    assert siegfried.identify_many(items) == whole and len(whole) == len(items) > 3
    # one shared answer per distinct format, not one object per file
    assert len({id(info) for info in whole}) == len(set(whole))


@pytest.mark.parametrize("engine", ["fido", pytest.param("siegfried", marks=_NEEDS_PYGFRIED)])
def test_a_big_transfer_is_identified_by_workers_while_the_caller_goes_on(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transfer of many blocks goes to worker processes (siegfried too: it holds the process
    that calls it while it works), and the next blocks are taken from the caller's generator
    while earlier ones are with the workers: an ingest hashes on while identification runs.
    Every file keeps the answer it gets in this process, in order."""
    items = _items(ROWS)
    here = Identifier(engine).identify_many(items)
    monkeypatch.setattr(identify_module, "BLOCK_FILES", 3)
    monkeypatch.setattr(identify_module, "BLOCKS_AHEAD", 2)
    monkeypatch.setattr(identify_module, "POOL_MIN_FILES", 2)
    taken: list[int] = []
    taken_when_settled: list[int] = []

    def generated() -> Iterator[tuple[str, str | None]]:
        for n, item in enumerate(items, start=1):
            taken.append(n)
            yield item

    with Identifier(engine, workers=2) as pool:
        finish = pool._finish

        def spy(*args: Any) -> Any:
            taken_when_settled.append(len(taken))
            return finish(*args)

        monkeypatch.setattr(pool, "_finish", spy)
        told: list[tuple[int, int]] = []
        answers = pool.identify_many(generated(), lambda done, total: told.append((done, total)), len(items))
        assert pool._pool is not None and pool._engine is None  # the workers did it, not this process
        assert answers == here
    # the first block was settled only once two more had been taken (and handed on)
    assert taken_when_settled[0] == 9 and len(items) > 9
    assert told[-1] == (len(items), len(items)) and all(t == len(items) for _, t in told)

"""Format identification: fido (in-process) and siegfried against PRONOM skeletons and real files."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import re
import shutil
import struct
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from archive.errors import FormatError
from archive.formats import ENGINES, Identifier, also_matched, mime_for
from archive.model import FormatInfo

SAMPLE = Path(__file__).parent / "data" / "format-skeletons-sample"
with open(SAMPLE / "truth.csv", newline="", encoding="utf-8") as _f:
    ROWS = list(csv.DictReader(_f))

HAVE_PYGFRIED = importlib.util.find_spec("pygfried") is not None
ENGINE_PARAMS = [
    "fido",
    pytest.param("siegfried", marks=pytest.mark.skipif(not HAVE_PYGFRIED, reason="pygfried not installed")),
]


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


def test_fido_matches_its_recorded_answers(fido: Identifier) -> None:
    infos = fido.identify_many(_items(ROWS))
    for row, info in zip(ROWS, infos):
        candidates = {info.puid, *also_matched(info)} - {None}
        assert candidates == set(filter(None, row["fido_1_6_1_v109"].split(";"))), row["path"]
        if row["fido_status"] == "exact":
            assert info.puid == row["expected_puid"] and not also_matched(info), row["path"]
            assert info.basis in ("signature", "container") and info.name, row["path"]


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


def test_fido_extension_only_answers(fido: Identifier, tmp_path: Path) -> None:
    """No signature matches this WordPerfect skeleton: fido lists every format using its extension."""
    src = SAMPLE / "x-fmt/x-fmt-44-signature-id-246.doc"
    as_doc = fido.identify(str(src))
    assert (as_doc.puid, as_doc.basis, len(also_matched(as_doc))) == ("x-fmt/42", "extension", 16)
    wpd = tmp_path / "letter.wpd"
    shutil.copy(src, wpd)
    as_wpd = fido.identify(str(wpd), _sha256(src))  # same content, other extension: not cached
    assert as_wpd.puid == "x-fmt/44" and "x-fmt/42" not in also_matched(as_wpd)


def test_siegfried_on_the_sample(siegfried: Identifier) -> None:
    infos = siegfried.identify_many(_items(ROWS))
    for row, info in zip(ROWS, infos):
        if row["siegfried_status"] == "exact":
            assert info.puid == row["expected_puid"], row["path"]
    exact = sum(info.puid == row["expected_puid"] for row, info in zip(ROWS, infos))
    assert exact >= sum(r["siegfried_status"] == "exact" for r in ROWS)


def test_fast_matcher_equals_fido(fido: Identifier, tmp_path: Path) -> None:
    """Our precompiled, first-byte-indexed match_formats gives fido's own answer."""
    from fido.fido import Fido

    core: Any = fido.engine._fido  # type: ignore[attr-defined]
    paths = [SAMPLE / r["path"] for r in ROWS] + list(_real_files(tmp_path).values())
    for path in paths:
        data = path.read_bytes()
        bof, eof = data[: core.bufsize], data[-core.bufsize:]
        ours = [core.get_puid(f) for f, _ in core.match_formats(bof, eof)]
        stock = [core.get_puid(f) for f, _ in Fido.match_formats(core, bof, eof)]
        assert ours == stock, path
    assert core.match_formats(b"", b"") == Fido.match_formats(core, b"", b"")


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


# -- real files, errors, versions -------------------------------------------------------------


def _real_files(folder: Path) -> dict[str, Path]:
    """A PDF 1.4, ZIP, PNG, DOCX and XLSX written from scratch."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"]
    pdf, offsets = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(pdf)
    pdf += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    pdf += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))
    files = {"pdf": folder / "report.pdf", "png": folder / "pixel.png", "zip": folder / "bundle.zip",
             "docx": folder / "letter.docx", "xlsx": folder / "sheet.xlsx"}
    files["pdf"].write_bytes(pdf)
    files["png"].write_bytes(png)
    with zipfile.ZipFile(files["zip"], "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("hello.txt", "hello, world\n")
    _ooxml(files["docx"], "word/document.xml", "wordprocessingml.document.main",
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>')
    _ooxml(files["xlsx"], "xl/workbook.xml", "spreadsheetml.sheet.main",
           '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>')
    return files


def _ooxml(path: Path, part: str, kind: str, body: str) -> None:
    ns, mime = "http://schemas.openxmlformats.org", "application/vnd.openxmlformats"
    types = (f'<?xml version="1.0"?><Types xmlns="{ns}/package/2006/content-types">'
             f'<Default Extension="rels" ContentType="{mime}-package.relationships+xml"/>'
             f'<Override PartName="/{part}" ContentType="{mime}-officedocument.{kind}+xml"/>'
             "</Types>")
    rels = (f'<?xml version="1.0"?><Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
            f'Target="{part}"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        z.writestr(part, '<?xml version="1.0"?>' + body)


OOXML = "application/vnd.openxmlformats-officedocument"
REAL = {  # kind: (PUID, basis, MIME)
    "pdf": ("fmt/18", "signature", "application/pdf"),
    "png": ("fmt/11", "signature", "image/png"),
    "zip": ("x-fmt/263", None, "application/zip"),  # siegfried calls its ZIP check a container match
    "docx": ("fmt/412", "container", f"{OOXML}.wordprocessingml.document"),
    "xlsx": ("fmt/214", "container", f"{OOXML}.spreadsheetml.sheet"),
}


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_real_files(engine: str, tmp_path: Path) -> None:
    ident = Identifier(engine)
    for kind, path in _real_files(tmp_path).items():
        info = ident.identify(str(path), _sha256(path))
        puid, basis, mime = REAL[kind]
        assert (info.puid, info.mime) == (puid, mime), (kind, info)
        assert basis is None or info.basis == basis, (kind, info)
        assert info.tool == engine and info.identified


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_unreadable_files_raise(engine: str, tmp_path: Path) -> None:
    ident = Identifier(engine)
    with pytest.raises(FormatError, match="missing.pdf"):
        ident.identify(str(tmp_path / "missing.pdf"))
    with pytest.raises(FormatError):
        ident.identify(str(tmp_path))  # a folder
    with pytest.raises(FormatError, match="missing.pdf"):
        ident.identify_many([(str(tmp_path / "missing.pdf"), None)])
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.pdf"
        locked.write_bytes(b"%PDF-1.4\n")
        locked.chmod(0)
        with pytest.raises(FormatError):
            ident.identify(str(locked))


def test_fido_edge_cases(fido: Identifier, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    info = fido.identify(str(empty))
    assert info.basis == "extension" and info.puid and "empty file" in info.warning
    named = tmp_path / "notes.pdf"
    named.write_bytes(b"\x00\x01 nothing like a PDF")
    info = fido.identify(str(named))
    assert info.basis == "extension" and info.puid and info.mime == "application/pdf"
    unknown = tmp_path / "blob.qqqq"
    unknown.write_bytes(b"\x00\x01 nothing known")
    info = fido.identify(str(unknown))
    assert (info.puid, info.basis, info.identified) == (None, "none", False)


def test_versions(fido: Identifier) -> None:
    import fido as fido_pkg

    assert (fido.tool, fido.tool_version) == ("fido", fido_pkg.__version__)
    assert re.fullmatch(r"PRONOM v\d+; container-signature-\d{8}\.xml", fido.signature_version)
    info = fido.identify(str(SAMPLE / "fmt/fmt-11-signature-id-58.png"))
    assert (info.tool, info.tool_version, info.signature_version) == (
        fido.tool, fido.tool_version, fido.signature_version)


def test_siegfried_versions(siegfried: Identifier) -> None:
    import pygfried

    assert (siegfried.tool, siegfried.tool_version) == ("siegfried", pygfried.version())
    assert re.fullmatch(r"PRONOM v\d+; container-signature-\d{8}\.xml", siegfried.signature_version)
    assert int(re.search(r"v(\d+)", siegfried.signature_version).group(1)) >= 109  # type: ignore[union-attr]


def test_siegfried_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.formats.siegfried_engine import SiegfriedEngine

    monkeypatch.setitem(sys.modules, "pygfried", None)  # makes "import pygfried" fail
    with pytest.raises(FormatError, match=re.escape("install archive[siegfried]")):
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

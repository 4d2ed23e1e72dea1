"""METS 1.12.1 / PREMIS 3 writing, reading and offline schema validation."""

from __future__ import annotations

import http.server
import importlib.resources
import re
import socket
import threading
import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import archive
from archive.errors import PackagingError
from archive.model import (
    ACCESS_EMBARGOED,
    ACCESS_LEVELS,
    AGENT_ORGANIZATION,
    AGENT_PERSON,
    AGENT_SOFTWARE,
    EVENT_FIXITY_CHECK,
    EVENT_FORMAT_IDENTIFICATION,
    EVENT_INGESTION,
    EVENT_MESSAGE_DIGEST,
    EVENT_PACKAGE_CREATION,
    EVENT_VALIDATION,
    OUTCOME_SUCCESS,
    OUTCOME_WARNING,
    Access,
    Agent,
    Event,
    EventLink,
    FileRecord,
    FormatInfo,
    Package,
)
from archive.packaging.mets.common import DCMES, DCTERMS_ONLY, METS_NS, PREMIS_NS, XLINK_NS
from archive.packaging.mets.read import read_mets
from archive.packaging.mets.schemas import ENTRY_SCHEMA, SCHEMA_DIR
from archive.packaging.mets.validate import assert_valid_mets, load_schema, validate_mets
from archive.packaging.mets.write import write_mets

PKG_ID = "5f0c6a5e-3b0e-4d4c-9f0e-2c8f6f1d7a10"
NS = {"mets": METS_NS, "premis": PREMIS_NS, "xlink": XLINK_NS}
T0 = datetime(2024, 5, 17, 9, 30, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs with outbound connections and name lookups forbidden."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _event(
    n: int, kind: str, detail: str, outcome: str, note: str, links: list[EventLink], objects: list[str]
) -> Event:
    return Event(
        f"0000000{n}-1111-4222-8333-444444444444",
        kind,
        T0 + timedelta(seconds=n),
        detail,
        outcome,
        note,
        links,
        objects,
    )


def make_package() -> Package:
    """A realistic heritage package: nested folders, Unicode and spaces, an unidentified file."""
    text = FormatInfo("x-fmt/111", "Plain Text File", "", "text/plain", "signature", "fido", "1.6.1", "v109")
    tiff = FormatInfo("fmt/353", "Tagged Image File Format", "6", "image/tiff", "signature", "fido", "1.6.1", "v109")
    pdf = FormatInfo(
        "fmt/276",
        "Acrobat PDF 1.7 - Portable Document Format",
        "1.7",
        "application/pdf",
        "container",
        "fido",
        "1.6.1",
        "v109",
        "several signatures matched; best kept",
    )
    unknown = FormatInfo(None, "", "", "", "none", "fido", "1.6.1", "v109", "no match")
    files = [
        FileRecord("README.txt", 1204, {"sha256": "a" * 64, "sha512": "b" * 128}, text, "README.txt"),
        FileRecord(
            "scans/Seite 1 – Übersicht.tif",
            5_242_880,
            {"sha256": "c" * 64, "sha512": "d" * 128},
            tiff,
            "Seite 1 – Übersicht.tif",
            {"caption": "Front page & <cover>", "page": 1, "colour": True},
        ),
        FileRecord(
            "scans/2023/東京 map.pdf",
            88_000,
            {"sha256": "e" * 64, "sha512": "f" * 128},
            pdf,
            "東京 map.pdf",
            {"caption": "Tokyo\nsecond line", "pages": [1, 2], "scanned": date(2023, 11, 2)},
        ),
        FileRecord("scans/2023/raw/blob.xyz", 0, {"sha256": "0" * 64, "sha512": "1" * 128}, unknown, "blob.xyz"),
        FileRecord("notes/percent%20and#hash?.txt", 12, {"sha256": "2" * 64, "sha512": "3" * 128}, None, ""),
    ]
    paths = [f.path for f in files]
    me, fido = (
        EventLink("software:archive", "executing program"),
        EventLink("software:fido", "executing program"),
    )
    who, org = EventLink("person:ana", "implementer"), EventLink("organization", "authorizer")
    events = [
        _event(
            1,
            EVENT_INGESTION,
            "Submission 'box 12.zip' received for profile heritage",
            OUTCOME_SUCCESS,
            "5 files, 5331100 bytes",
            [me, who, org],
            [PKG_ID],
        ),
        _event(
            2,
            EVENT_FIXITY_CHECK,
            "Submitted bag's manifests (sha256) checked",
            OUTCOME_SUCCESS,
            "5 files verified",
            [me, who],
            paths,
        ),
        _event(
            3,
            EVENT_MESSAGE_DIGEST,
            "sha256, sha512 computed in one pass while copying",
            OUTCOME_SUCCESS,
            "",
            [me],
            paths,
        ),
        _event(
            4,
            EVENT_VALIDATION,
            "Validated against profile heritage version 1.2",
            OUTCOME_WARNING,
            "[W401] warning: metadata: 'extent' is recommended",
            [me, who],
            [PKG_ID],
        ),
        _event(
            5,
            EVENT_FORMAT_IDENTIFICATION,
            "fido 1.6.1 with signatures v109",
            OUTCOME_SUCCESS,
            "fmt/353 Tagged Image File Format 6 (basis: signature)",
            [fido],
            [paths[1]],
        ),
        _event(
            6,
            EVENT_FORMAT_IDENTIFICATION,
            "fido 1.6.1 with signatures v109",
            OUTCOME_WARNING,
            "no match",
            [fido],
            [paths[3]],
        ),
        _event(
            7,
            EVENT_PACKAGE_CREATION,
            "BagIt 1.0 bag with METS 1.12.1 and PREMIS 3 created",
            OUTCOME_SUCCESS,
            "manifests: sha256, sha512",
            [me],
            [PKG_ID],
        ),
    ]
    agents = [
        Agent("software:archive", f"archive {archive.__version__}", AGENT_SOFTWARE, "version=0.1.0; python=3.11"),
        Agent("software:fido", "fido 1.6.1", AGENT_SOFTWARE, "version=1.6.1; signatures=v109"),
        Agent("software:bagit-python", "bagit-python 1.9.0", AGENT_SOFTWARE, "version=1.9.0"),
        Agent("organization", "Stadtarchiv Musterstadt", AGENT_ORGANIZATION),
        Agent("person:ana", "Ana Müller", AGENT_PERSON, "submitter"),
    ]
    metadata: dict[str, Any] = {
        "title": 'Letters & <drafts> of "A. Müller"',
        "creator": ["Ana Müller", "Bert O'Neil"],
        "date": date(1921, 3, 4),
        "digitised": datetime(2023, 11, 2, 14, 5, tzinfo=timezone(timedelta(hours=1))),
        "extent_pages": 212,
        "public": False,
        "scale": 0.25,
        "price": Decimal("12.50"),
        "notes": "line one\nline two\r\n\ttabbed  ",
        "empty": "",
        "none": None,
        "subjects": [],
        "places": [{"name": "Tokyo", "coords": [35.68, 139.69]}, {"name": "Köln", "coords": None}],
        "custody": {"from": "family", "history": [["1950", "attic"], ["2001", "donation"]]},
    }
    return Package(
        id=PKG_ID,
        profile_id="heritage",
        profile_version="1.2",
        created=T0,
        metadata=metadata,
        dublin_core={
            "title": [metadata["title"]],
            "creator": metadata["creator"],
            "date": ["1921-03-04"],
            "subject": ["letters", "Köln"],
            "extent": ["212 pages"],
            "dcterms:rights": ["CC BY 4.0"],
        },
        access=Access(ACCESS_EMBARGOED, date(2030, 1, 1), "Embargoed until 2030 at the donor's request."),
        files=files,
        events=events,
        agents=agents,
        bag_info={
            "Source-Organization": ["Stadtarchiv Musterstadt"],
            "Contact-Name": ["Ana", "Bert"],
            "External-Identifier": [f"urn:uuid:{PKG_ID}"],
        },
        source_name="box 12.zip",
        idempotency_key="sha256:" + "9" * 64,
    )


def _tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


# --- the realistic package ---------------------------------------------------------------------------


def test_realistic_package_is_valid_and_round_trips() -> None:
    package = make_package()
    data = write_mets(package)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert validate_mets(data) == []
    assert_valid_mets(data)
    assert read_mets(data) == package
    assert read_mets(data, validate=True) == package
    assert write_mets(package) == data  # deterministic


def _one(el: etree._Element, path: str) -> etree._Element:
    found = el.find(path, NS)
    assert found is not None, path
    return found


def test_document_structure() -> None:
    package = make_package()
    root = _tree(write_mets(package))
    assert root.get("OBJID") == PKG_ID
    assert _one(root, "mets:metsHdr").get("CREATEDATE") == "2024-05-17T09:30:12+00:00"
    names = [n.text for n in root.iterfind("mets:metsHdr/mets:agent/mets:name", NS)]
    assert names == ["Stadtarchiv Musterstadt", "archive"]
    # Dublin Core and profile sections, with the DMDIDs on the top div
    assert _one(root, "mets:dmdSec[@ID='dmd-dc']/mets:mdWrap").get("MDTYPE") == "DC"
    assert _one(root, "mets:dmdSec[@ID='dmd-profile']/mets:mdWrap").get("OTHERMDTYPE") == "archive-profile"
    top = _one(root, "mets:structMap[@TYPE='physical']/mets:div")
    assert top.get("DMDID") == "dmd-dc dmd-profile"
    # one file per record, IDs from position, checksums, encoded hrefs
    files = root.findall("mets:fileSec/mets:fileGrp[@USE='original']/mets:file", NS)
    assert [f.get("ID") for f in files] == [f"file-{i:06d}" for i in range(1, 6)]
    assert files[1].get("CHECKSUMTYPE") == "SHA-256" and files[1].get("CHECKSUM") == "c" * 64
    assert files[1].get("MIMETYPE") == "image/tiff" and files[1].get("SIZE") == "5242880"
    hrefs = [_one(f, "mets:FLocat").get(f"{{{XLINK_NS}}}href") for f in files]
    assert hrefs[1] == "data/scans/Seite%201%20%E2%80%93%20%C3%9Cbersicht.tif"
    assert hrefs[4] == "data/notes/percent%2520and%23hash%3F.txt"
    # every file's ADMID names its techMD, which holds a PREMIS file object
    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"
    for f in files:
        techmd = _one(root, f"mets:amdSec/mets:techMD[@ID='{f.get('ADMID')}']")
        assert _one(techmd, ".//premis:object").get(xsi_type) == "premis:file"
    # the unidentified file says so; the never-identified one too
    names = [n.text for n in root.iterfind(".//premis:formatName", NS)]
    assert names.count("unknown") == 2
    assert "identification: not performed" in [n.text for n in root.iterfind(".//premis:formatNote", NS)]
    # folder hierarchy: scans/2023/raw
    raw = _one(top, "mets:div[@LABEL='scans']/mets:div[@LABEL='2023']/mets:div[@LABEL='raw']")
    assert _one(raw, "mets:fptr").get("FILEID") == "file-000004"
    # events, agents, rights
    assert len(root.findall(".//premis:event", NS)) == 7
    assert len(root.findall(".//premis:agent", NS)) == 5
    assert _one(root, ".//premis:restriction[@authority='archive-access-level']").text == ACCESS_EMBARGOED
    assert _one(root, ".//premis:termOfRestriction/premis:endDate").text == "2030-01-01"


def test_read_from_path(tmp_path: Path) -> None:
    package = make_package()
    target = tmp_path / "mets.xml"
    target.write_bytes(write_mets(package))
    assert read_mets(target) == package
    assert read_mets(str(target)) == package
    with pytest.raises(PackagingError, match="cannot read METS"):
        read_mets(tmp_path / "missing.xml")


@pytest.mark.parametrize("level", ACCESS_LEVELS)
def test_every_access_level_round_trips(level: str) -> None:
    package = make_package()
    package.access = Access(level, None, "")
    data = write_mets(package)
    assert validate_mets(data) == []
    assert read_mets(data).access == package.access


def test_empty_package_is_valid() -> None:
    package = Package(PKG_ID, "base", "1", T0, {}, {}, Access())
    data = write_mets(package)
    assert validate_mets(data) == []
    assert read_mets(data) == package


# --- what the writer refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p.metadata.update(title="bell\x07"), "U\\+0007"),
        (lambda p: p.files[0].metadata.update(note="nul\x00"), "U\\+0000"),
        (lambda p: setattr(p.files[0], "path", "a\x1bb.txt"), "U\\+001B"),
        (lambda p: p.dublin_core.update(title=["\ufffe"]), "U\\+FFFE"),
        (lambda p: setattr(p.files[0], "path", "../escape.txt"), "not a safe relative payload path"),
        (lambda p: setattr(p.files[0], "path", "/abs.txt"), "not a safe relative payload path"),
        (lambda p: setattr(p.files[1], "path", p.files[0].path), "listed twice"),
        (lambda p: setattr(p, "created", datetime(2024, 1, 1)), "no timezone"),
        (lambda p: setattr(p.events[0], "datetime", datetime(2024, 1, 1)), "no timezone"),
        (lambda p: p.dublin_core.update({"dc:title": ["x"]}), "write it as 'title'"),
        (lambda p: p.dublin_core.update({"colour": ["x"]}), "not a DCMES element"),
        (lambda p: setattr(p.access, "level", "secret"), "access level"),
        (lambda p: p.metadata.update(blob=b"bytes"), "type bytes"),
        (lambda p: p.metadata.update({1: "int key"}), "not a string"),
    ],
)
def test_writer_refuses_what_it_cannot_represent(change: Any, message: str) -> None:
    package = make_package()
    change(package)
    with pytest.raises(PackagingError, match=message):
        write_mets(package)


# --- property: write -> read round-trips -------------------------------------------------------------

XML_CHARS = st.one_of(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    st.sampled_from("\t\n\r&<>\"' "),
)
xml_text = st.text(XML_CHARS, max_size=12)
segment = st.text(st.one_of(XML_CHARS.filter(lambda c: c != "/")), min_size=1, max_size=10).filter(
    lambda s: s not in (".", "..")
)
paths = st.lists(segment, min_size=1, max_size=4).map("/".join)
offsets = st.builds(timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m)))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False),
    xml_text,
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=offsets),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(xml_text, inner, max_size=3),
    max_leaves=8,
)
metadata = st.dictionaries(xml_text, values, max_size=4)
dublin_core = st.dictionaries(
    st.sampled_from(DCMES + DCTERMS_ONLY), st.lists(xml_text, min_size=1, max_size=3), max_size=4
)


@st.composite
def packages(draw: st.DrawFn) -> Package:
    file_paths = draw(st.lists(paths, min_size=0, max_size=5, unique=True))
    files = [
        FileRecord(
            path,
            draw(st.integers(0, 2**62)),
            {"sha256": draw(st.text("0123456789abcdef", min_size=64, max_size=64))},
            draw(st.one_of(st.none(), st.builds(FormatInfo, st.none() | st.just("fmt/1"), xml_text, xml_text))),
            draw(xml_text),
            draw(metadata),
        )
        for path in file_paths
    ]
    agent = Agent(draw(xml_text), draw(xml_text), AGENT_SOFTWARE, draw(xml_text))
    event = Event(
        draw(xml_text),
        EVENT_VALIDATION,
        draw(st.datetimes(timezones=offsets)),
        draw(xml_text),
        OUTCOME_SUCCESS,
        draw(xml_text),
        [EventLink(agent.identifier, draw(xml_text))],
        [*file_paths, PKG_ID],
    )
    return Package(
        id=PKG_ID,
        profile_id=draw(xml_text),
        profile_version=draw(xml_text),
        created=draw(st.datetimes(timezones=offsets)),
        metadata=draw(metadata),
        dublin_core=draw(dublin_core),
        access=Access(draw(st.sampled_from(ACCESS_LEVELS)), draw(st.none() | st.dates()), draw(xml_text)),
        files=files,
        events=[event],
        agents=[agent],
        bag_info=draw(st.dictionaries(xml_text, st.lists(xml_text, max_size=2), max_size=3)),
        source_name=draw(xml_text),
        idempotency_key=draw(xml_text),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packages())
def test_write_read_round_trips(package: Package) -> None:
    data = write_mets(package)
    assert validate_mets(data) == []
    assert read_mets(data) == package


# --- schema validation -------------------------------------------------------------------------------


def test_schema_validation_catches_a_broken_document() -> None:
    data = write_mets(make_package())
    no_struct_map = re.sub(rb"<mets:structMap.*</mets:structMap>", b"", data, flags=re.DOTALL)
    findings = validate_mets(no_struct_map)
    assert findings and all(f.code == "E320" and f.is_error for f in findings)
    assert "structMap" in findings[0].message and findings[0].message.startswith("line ")
    with pytest.raises(PackagingError, match="not valid METS"):
        assert_valid_mets(no_struct_map)
    with pytest.raises(PackagingError):
        read_mets(no_struct_map, validate=True)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (b"<premis:eventType>ingestion</premis:eventType>", b"", "eventDateTime"),  # PREMIS inside mdWrap
        (b"<premis:size>1204</premis:size>", b"<premis:size>big</premis:size>", "xs:long"),
        (b"<dc:title>", b"<dc:colour>", "colour"),
        (b'ADMID="techmd-file-000001"', b'ADMID="techmd-nowhere"', "no ID defines"),
        (b"<mets:metsHdr", b"<mets:header", "header"),
    ],
)
def test_schema_validation_looks_inside_embedded_metadata(old: bytes, new: bytes, expected: str) -> None:
    data = write_mets(make_package())
    assert old in data
    findings = validate_mets(data.replace(old, new, 1))
    assert any(expected in f.message for f in findings), findings


def test_malformed_input_is_a_finding_not_an_exception() -> None:
    findings = validate_mets(b"<mets:mets")
    assert len(findings) == 1 and findings[0].code == "E320"


# --- hostile input -----------------------------------------------------------------------------------


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = b'<!ENTITY leak "fetched">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tripwire_server() -> Iterator[str]:
    """A local HTTP server that records any request: the parser must never call it."""
    _CountingHandler.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


LAUGHS = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))


def _hostile(tmp_path: Path, server: str) -> dict[str, bytes]:
    """A real METS with a DOCTYPE slipped in and one file's size replaced by an entity reference.

    The entity stands in for a file's size: a parser that expanded it would get as far as the
    size check, whose message quotes the text, so a leak would show in the exception.
    """
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = write_mets(make_package()).split(b"\n", 1)[1]

    def doc(doctype: str, entity: str) -> bytes:
        return doctype.encode() + b"\n" + body.replace(b">1204<", f">&{entity};<".encode())

    return {
        "xxe-file": doc(f'<!DOCTYPE m [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>', "xxe"),
        "xxe-http": doc(f'<!DOCTYPE m [<!ENTITY xxe SYSTEM "{server}/xxe">]>', "xxe"),
        "parameter-entity": doc(f'<!DOCTYPE m [<!ENTITY % p SYSTEM "{server}/p.dtd"> %p;]>', "leak"),
        "external-dtd": doc(f'<!DOCTYPE m SYSTEM "{server}/evil.dtd">', "leak"),
        "billion-laughs": doc(f'<!DOCTYPE m [<!ENTITY lol0 "lol">{LAUGHS}]>', "lol9"),
        "undeclared-entity": doc("", "xxe"),
    }


@pytest.mark.parametrize(
    "case",
    ["xxe-file", "xxe-http", "parameter-entity", "external-dtd", "billion-laughs", "undeclared-entity"],
)
def test_hostile_xml_fails_cleanly_without_fetching(case: str, tmp_path: Path, tripwire_server: str) -> None:
    data = _hostile(tmp_path, tripwire_server)[case]
    started = time_module.monotonic()
    with pytest.raises(PackagingError) as caught:
        read_mets(data)
    assert "TOP-SECRET" not in str(caught.value) and "fetched" not in str(caught.value)
    findings = validate_mets(data)
    assert findings and findings[0].code == "E320"
    assert time_module.monotonic() - started < 5
    assert _CountingHandler.hits == []


# --- tampered or foreign documents -------------------------------------------------------------------


@pytest.mark.parametrize(
    "old, new, message",
    [
        (b">data/README.txt<", b">data/../../etc/passwd<", "not a safe relative payload path"),
        (b'xlink:href="data/README.txt"', b'xlink:href="data/other.txt"', "does not match"),
        (b'OBJID="' + PKG_ID.encode(), b'OBJID="someone-else', "OBJID"),
        (b"<premis:size>1204</premis:size>", b"<premis:size>big</premis:size>", "size"),
        (b'type="date">1921-03-04<', b'type="date">yesterday<', "not a valid date"),
        (b'OTHERMDTYPE="archive-profile"', b'OTHERMDTYPE="something-else"', "archive-profile"),
    ],
)
def test_reader_rejects_tampered_documents(old: bytes, new: bytes, message: str) -> None:
    data = write_mets(make_package())
    assert old in data
    with pytest.raises(PackagingError, match=message):
        read_mets(data.replace(old, new, 1))


@pytest.mark.parametrize("data", [b"", b"not xml", b"<other/>", "<str/>".encode("utf-16")])
def test_reader_rejects_non_mets(data: bytes) -> None:
    with pytest.raises(PackagingError):
        read_mets(data)


# --- bundled schemas ---------------------------------------------------------------------------------


def test_bundled_schemas_load_from_the_package() -> None:
    bundled = importlib.resources.files("archive.packaging.mets.schemas")
    expected = {
        "archive_aip.xsd",
        "mets_premis_wrapper.xsd",
        "mets.xsd",
        "premis.xsd",
        "premis-v2-2.xsd",
        "mods.xsd",
        "dc.xsd",
        "dcterms.xsd",
        "dcmitype.xsd",
        "simpledc.xsd",
        "xlink.xsd",
        "xml.xsd",
        "PROVENANCE.md",
    }
    assert expected <= {entry.name for entry in bundled.iterdir()}
    package_dir = Path(archive.__file__).resolve().parent
    assert package_dir / "packaging" / "mets" / "schemas" == SCHEMA_DIR
    assert ENTRY_SCHEMA.is_file()
    # every import/include points at a sibling file: nothing could be fetched even if asked
    xs = "{http://www.w3.org/2001/XMLSchema}"
    for xsd in SCHEMA_DIR.glob("*.xsd"):
        tree = etree.parse(str(xsd), etree.XMLParser(no_network=True, resolve_entities=False))
        for ref in tree.iter(f"{xs}import", f"{xs}include", f"{xs}redefine"):
            location = ref.get("schemaLocation", "")
            assert "/" not in location and (SCHEMA_DIR / location).is_file(), (xsd.name, location)
    load_schema.cache_clear()
    assert isinstance(load_schema(), etree.XMLSchema)
    assert load_schema() is load_schema()  # compiled once, then cached
    provenance = (SCHEMA_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "mets/METS-schema @ a89833c" in provenance and "keeps/roda @ 4ab74d2" in provenance


def test_validation_works_offline_from_a_cold_cache() -> None:
    load_schema.cache_clear()  # the autouse fixture forbids connections during the recompile
    data = write_mets(make_package())
    assert validate_mets(data) == []
    assert read_mets(data, validate=True) == make_package()


def test_time_values_and_naive_datetimes_in_metadata_round_trip() -> None:
    package = make_package()
    package.metadata["at"] = time(13, 45, 7, 120)
    package.metadata["naive"] = datetime(1999, 12, 31, 23, 59, 59)
    package.files[0].metadata["tuple"] = ("a", 1)
    back = read_mets(write_mets(package))
    assert back.metadata["at"] == time(13, 45, 7, 120)
    assert back.metadata["naive"] == datetime(1999, 12, 31, 23, 59, 59)
    assert back.files[0].metadata["tuple"] == ["a", 1]  # tuples come back as lists

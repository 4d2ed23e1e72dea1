"""Read a METS document written by :func:`~archive.packaging.mets.write.write_mets` into a Package.

``read_mets(write_mets(p)) == p`` for every package the writer accepts. Parsing is safe: no
network, no DTD, no entity expansion, no ``huge_tree``; a DOCTYPE (the carrier of XXE and
"billion laughs") is refused with :class:`PackagingError`, as is anything malformed or missing.
Paths read back are checked again, so a tampered METS cannot name ``../`` outside the bag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lxml import etree

from archive.errors import PackagingError
from archive.model import SUBMISSION_FOLDER, Event, FileRecord, Package, SubmittedFile
from archive.packaging.mets import premis_read
from archive.packaging.mets.common import (
    ARC_NS,
    DC_NS,
    DCMES,
    DCTERMS_NS,
    DIGEST_NAMES,
    OTHERMDTYPE_BAG_INFO,
    OTHERMDTYPE_FILE,
    OTHERMDTYPE_PROFILE,
    SUBMISSION_USE,
    XLINK_NS,
    M,
    P,
    check_payload_path,
    first,
    id_list,
    parse_xml,
    q,
    text_of,
)
from archive.packaging.mets.parts import PART_TYPE, is_part_name
from archive.packaging.mets.validate import assert_valid_mets
from archive.packaging.mets.values import decode_fields

__all__ = ["part_names", "read_mets"]

_SECTIONS = ("dmdSec", "techMD", "rightsMD", "sourceMD", "digiprovMD")
_EVENT_ID = re.compile(r"digiprovmd-event-([0-9]{1,9})")


def _load(source: bytes | str | os.PathLike[str]) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise PackagingError(f"cannot read METS file {os.fspath(source)!r}: {exc.strerror or exc}") from exc


def _payload(section: etree._Element) -> list[etree._Element]:
    """The element children of a metadata section's ``mdWrap/xmlData``."""
    xml_data = section.find(f"{M('mdWrap')}/{M('xmlData')}")
    return [] if xml_data is None else [c for c in xml_data if isinstance(c.tag, str)]


def _wrapped(root: etree._Element, tag: str, other: str) -> list[etree._Element]:
    """Sections of kind ``tag`` whose mdWrap has ``OTHERMDTYPE=other``."""
    return [s for s in root.iter(M(tag)) if s.find(f"{M('mdWrap')}[@OTHERMDTYPE='{other}']") is not None]


def _one(items: list[etree._Element], what: str) -> etree._Element:
    if len(items) != 1:
        raise PackagingError(f"METS: expected exactly one {what}, found {len(items)}")
    return items[0]


def _dublin_core(root: etree._Element) -> dict[str, list[str]]:
    dc: dict[str, list[str]] = {}
    for section in root.iter(M("dmdSec")):
        if section.find(f"{M('mdWrap')}[@MDTYPE='DC']") is None:
            continue
        for container in _payload(section):
            for el in container:
                if not isinstance(el.tag, str):
                    continue
                qname = etree.QName(el)
                if qname.namespace == DC_NS:
                    key = qname.localname
                elif qname.namespace == DCTERMS_NS:
                    key = f"dcterms:{qname.localname}" if qname.localname in DCMES else qname.localname
                else:
                    raise PackagingError(f"METS line {el.sourceline}: {el.tag} is not a Dublin Core element")
                dc.setdefault(key, []).append(text_of(el))
    return dc


def _fields(section: etree._Element, tag: str) -> dict[str, Any]:
    holder = _one([e for e in _payload(section) if e.tag == q(ARC_NS, tag)], f"arc:{tag}")
    return decode_fields(holder)


def _file(el: etree._Element, sections: dict[str, etree._Element]) -> tuple[FileRecord, list[str]]:
    """A METS file and the ids of the events its PREMIS object links to (a package in parts)."""
    objects = [
        o
        for ref in id_list(el.get("ADMID"))
        if ref in sections
        for o in _payload(sections[ref])
        if premis_read.is_object_of_type(o, "file")
    ]
    obj = _one(objects, f"PREMIS file object for METS file {el.get('ID')!r}")
    bag_path = premis_read.object_path(obj)
    if not bag_path.startswith("data/"):
        raise PackagingError(f"METS: file object {bag_path!r} is not under data/")
    path = check_payload_path(bag_path[len("data/") :], f"METS file {el.get('ID')!r}")
    for locat in el.iterchildren(M("FLocat")):
        try:
            href = unquote(locat.get(q(XLINK_NS, "href"), ""), errors="strict")
        except UnicodeDecodeError as exc:
            raise PackagingError(f"METS: FLocat of {bag_path!r} is not percent-encoded UTF-8") from exc
        if href != bag_path:
            raise PackagingError(f"METS: FLocat {href!r} does not match PREMIS object {bag_path!r}")
    chars = first(obj, P("objectCharacteristics"), f"objectCharacteristics of {bag_path!r}")
    size_text = text_of(first(chars, P("size"), f"size of {bag_path!r}"))
    metadata: dict[str, Any] = {}
    for ref in id_list(el.get("DMDID")):
        if ref in sections and sections[ref].find(f"{M('mdWrap')}[@OTHERMDTYPE='{OTHERMDTYPE_FILE}']") is not None:
            metadata.update(_fields(sections[ref], "fileMetadata"))
    record = FileRecord(
        path=path,
        size=premis_read.parse_as(int, size_text, f"size of {bag_path!r}"),
        digests=premis_read.file_digests(chars),
        format=premis_read.file_format(chars, el.get("MIMETYPE", "")),
        original_name=text_of(obj.find(P("originalName"))),
        metadata=metadata,
    )
    return record, [value for _, value in premis_read.identifiers(obj, "linkingEvent")]


def _submitted(el: etree._Element) -> SubmittedFile:
    try:
        href = unquote(
            first(el, M("FLocat"), "FLocat of a submitted file").get(q(XLINK_NS, "href"), ""), errors="strict"
        )
    except UnicodeDecodeError as exc:
        raise PackagingError("METS: FLocat of a submitted file is not percent-encoded UTF-8") from exc
    prefix = f"{SUBMISSION_FOLDER}/"
    if not href.startswith(prefix):
        raise PackagingError(f"METS: submitted file {href!r} is not under {prefix}")
    path = check_payload_path(href[len(prefix) :], f"METS submitted file {el.get('ID')!r}")
    size = premis_read.parse_as(int, el.get("SIZE", ""), f"size of {href!r}")
    checksum, kind = el.get("CHECKSUM"), el.get("CHECKSUMTYPE")
    digests = {DIGEST_NAMES[kind]: checksum.lower()} if checksum and kind in DIGEST_NAMES else {}
    return SubmittedFile(path=path, size=size, digests=digests)


def _sections(doc: etree._Element) -> dict[str, etree._Element]:
    return {s.get("ID", ""): s for tag in _SECTIONS for s in doc.iter(M(tag))}


class _Reading:
    """What the documents of one package say of its files and events, gathered a document at a
    time (a part's tree is dropped once read: a million-file package is a thousand parts)."""

    def __init__(self, package_id: str) -> None:
        self.package_id = package_id
        self.files: list[FileRecord] = []
        self.back: dict[str, list[str]] = {}  # event id -> the files linking to it
        self.seen: set[str] = set()
        self.found: list[tuple[int, Event]] = []
        self.numbered = True

    def take(self, doc: etree._Element) -> None:
        """The document's original files, in order, and its events."""
        sections = _sections(doc)
        for group in doc.iterfind(f"{M('fileSec')}/{M('fileGrp')}"):
            if group.get("USE") != "original":
                continue
            for el in group.iter(M("file")):
                record, events = _file(el, sections)
                if record.path in self.seen:
                    raise PackagingError(f"METS: file {record.bag_path!r} is described twice")
                self.seen.add(record.path)
                self.files.append(record)
                for identifier in events:
                    self.back.setdefault(identifier, []).append(record.path)
        for section in doc.iter(M("digiprovMD")):
            for el in _payload(section):
                if el.tag != P("event"):
                    continue
                match = _EVENT_ID.fullmatch(section.get("ID", ""))
                self.numbered = self.numbered and match is not None
                self.found.append((int(match[1]) if match else 0, premis_read.event(el, self.package_id)))

    def events(self) -> list[Event]:
        """Every document's events in the package's order (their digiprovMD IDs number them), each
        with its objects: the files that link to it, then those it links to itself."""
        if self.numbered:
            self.found.sort(key=lambda item: item[0])
        events = [ev for _, ev in self.found]
        back = self.back
        for ev in events:
            ev.objects = [*back.pop(ev.identifier, []), *ev.objects]
        if back:
            raise PackagingError(
                f"METS: a file object links to event {next(iter(back))!r}, which no document describes"
            )
        return events


def _check_part(part: etree._Element, name: str, package_id: str) -> None:
    if part.tag != M("mets") or part.get("TYPE") != PART_TYPE:
        raise PackagingError(f"METS part {name}: not a METS document of TYPE {PART_TYPE!r}")
    if part.get("OBJID") != package_id:
        raise PackagingError(f"METS part {name}: OBJID {part.get('OBJID')!r} is not package {package_id!r}")


def part_names(root: etree._Element) -> list[str]:
    """The bag paths of the parts a root METS points to, in order; refused unless each is a part
    name (``mets/files-<hex>.xml``: never outside the bag) and named once."""
    names: list[str] = []
    for pointer in root.iterfind(f"{M('structMap')}//{M('mptr')}"):
        try:
            href = unquote(pointer.get(q(XLINK_NS, "href"), ""), errors="strict")
        except UnicodeDecodeError as exc:
            raise PackagingError("METS: an mptr is not percent-encoded UTF-8") from exc
        if not is_part_name(href):
            raise PackagingError(f"METS: mptr {href[:200]!r} does not name a METS part of this bag")
        if href in names:
            raise PackagingError(f"METS: part {href!r} is pointed to twice")
        names.append(href)
    return names


def _parse(root: etree._Element, parts: Iterable[tuple[str, etree._Element]] = ()) -> Package:
    """The package ``root`` and its ``parts`` describe; each part is taken as it comes (parsed when
    asked for) and let go once read."""
    if root.tag != M("mets"):
        raise PackagingError(f"METS: root element is {root.tag}, expected mets:mets")
    header = first(root, M("metsHdr"), "mets:metsHdr")
    created = premis_read.parse_as(datetime.fromisoformat, header.get("CREATEDATE", ""), "CREATEDATE")
    profile_section = _one(_wrapped(root, "dmdSec", OTHERMDTYPE_PROFILE), f"{OTHERMDTYPE_PROFILE} dmdSec")
    profile = _one([e for e in _payload(profile_section) if e.tag == q(ARC_NS, "profileMetadata")], "profileMetadata")
    entities = [
        o for s in root.iter(M("techMD")) for o in _payload(s) if premis_read.is_object_of_type(o, "intellectualEntity")
    ]
    entity = premis_read.package_entity(_one(entities, "PREMIS intellectualEntity object"))
    if root.get("OBJID") != entity["id"]:
        raise PackagingError(f"METS: OBJID {root.get('OBJID')!r} differs from package object {entity['id']!r}")
    profile_id, profile_version = profile.get("profile", ""), profile.get("profileVersion", "")
    if (entity.get("profile_id"), entity.get("profile_version")) != (profile_id, profile_version):
        raise PackagingError("METS: profile id/version differ between dmd-profile and the package object")
    reading = _Reading(entity["id"])
    reading.take(root)
    for name, part in parts:
        _check_part(part, name, entity["id"])
        reading.take(part)
        del part  # before the next part is parsed: one tree at a time, not two
    rights = [r for s in root.iter(M("rightsMD")) for r in _payload(s) if r.tag == P("rights")]
    bag_sections = _wrapped(root, "sourceMD", OTHERMDTYPE_BAG_INFO)
    bag_info = _fields(_one(bag_sections, "bag-info sourceMD"), "bagInfo") if bag_sections else {}
    agents = [e for s in root.iter(M("digiprovMD")) for e in _payload(s) if e.tag == P("agent")]
    submitted = [
        _submitted(el)
        for group in root.iterfind(f"{M('fileSec')}/{M('fileGrp')}")
        if group.get("USE") == SUBMISSION_USE
        for el in group.iter(M("file"))
    ]
    return Package(
        id=entity["id"],
        profile_id=profile_id,
        profile_version=profile_version,
        created=created,
        metadata=decode_fields(profile),
        dublin_core=_dublin_core(root),
        access=premis_read.access(_one(rights, "PREMIS rights element")),
        files=reading.files,
        events=reading.events(),
        agents=[premis_read.agent(e) for e in agents],
        bag_info=bag_info,
        source_name=entity["source_name"],
        idempotency_key=entity["idempotency_key"],
        submitted=submitted,
    )


def read_mets(
    source: bytes | str | os.PathLike[str],
    *,
    validate: bool = False,
    parts: Callable[[str], bytes] | None = None,
) -> Package:
    """Parse METS bytes (or a file path: ``str`` or ``PathLike``) into a :class:`Package`.

    A root that points to parts (a big package, :mod:`archive.packaging.mets.parts`) needs
    ``parts``: bag path -> that part's bytes (a file path source reads them beside it). With
    ``validate=True`` every document is first checked against the bundled schemas
    (:func:`~archive.packaging.mets.validate.assert_valid_mets`). Raises :class:`PackagingError`
    for unreadable, unsafe, malformed or incomplete documents.
    """
    data = _load(source)
    if validate:
        assert_valid_mets(data)
    root = parse_xml(data)
    names = part_names(root)
    if names and parts is None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            raise PackagingError(f"METS: points to {len(names)} part(s); read it with its bag's parts")
        folder = Path(source).parent
        parts = lambda name: _load(folder / name)  # noqa: E731
    read_part = parts

    def loaded() -> Iterator[tuple[str, etree._Element]]:
        for name in names:  # one part at a time: parsed when taken, dropped when the next is
            assert read_part is not None
            try:
                body = read_part(name)
            except OSError as exc:
                raise PackagingError(f"cannot read METS part {name}: {exc.strerror or exc}") from exc
            if validate:
                assert_valid_mets(body, name)
            yield name, parse_xml(body, f"METS part {name}")

    return _parse(root, loaded())

"""Write a :class:`~archive.model.Package` as a METS 1.12.1 document carrying PREMIS 3.

Layout (documented with an example in ``docs/aip.md``)::

    mets:mets OBJID=<package id> TYPE="AIP"
      metsHdr CREATEDATE        organisation agent(s) + the archive software
      dmdSec dmd-dc             simple Dublin Core (<simpledc> of dc:/dcterms: elements)
      dmdSec dmd-profile        the profile's fields as typed field/value XML (archive-profile)
      dmdSec dmd-file-NNNNNN    per-file metadata, only for files that have some
      amdSec amd
        techMD techmd-package   PREMIS intellectualEntity: package id, profile, source, idempotency key
        techMD techmd-file-N    PREMIS file object: identifier, fixity, size, format, original name
        rightsMD rightsmd-access PREMIS rights: access level, embargo, statement
        sourceMD sourcemd-bag-info  bag-info tags (only if the package has any)
        digiprovMD digiprovmd-event-N / digiprovmd-agent-N   PREMIS events, then agents
      fileSec / fileGrp USE="submission" / file submitted-NNNNNN   what the submission brought beside
                                its payload, kept under submission/ (a submitted bag's tag files)
      fileSec / fileGrp USE="original" / file file-NNNNNN + FLocat xlink:href=<percent-encoded bag path>
      structMap TYPE="physical"  div per folder, fptr per file

IDs come from positions (``file-000001``), never from names, so any Unicode path is safe.
Text that XML 1.0 cannot carry is refused with :class:`PackagingError` (see ``archive.packaging.mets.common``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lxml import etree

import archive
from archive.batches import ordered_results
from archive.errors import PackagingError
from archive.model import AGENT_ORGANIZATION, Event, FileRecord, Package
from archive.packaging.mets import parts as parts_module
from archive.packaging.mets import premis_write
from archive.packaging.mets.common import (
    ARC_NS,
    CHECKSUM_PREFERENCE,
    DC_NS,
    DCMES,
    DCTERMS_NS,
    DCTERMS_ONLY,
    DIGEST_LABELS,
    NSMAP,
    OTHERMDTYPE_BAG_INFO,
    OTHERMDTYPE_FILE,
    OTHERMDTYPE_PROFILE,
    SUBMISSION_USE,
    XLINK_NS,
    M,
    check_payload_path,
    check_text,
    join_ids,
    q,
    stamp,
    sub,
)
from archive.packaging.mets.parts import METS_NAME, PART_TYPE, MetsSet, chunk_files, part_name
from archive.packaging.mets.values import encode_fields

#: file path -> the package-wide events its object links to
Links = Mapping[str, Sequence[str]]

__all__ = ["MetsSet", "dc_element_name", "file_id", "iter_mets", "part_fingerprints", "write_mets", "write_mets_set"]

SOFTWARE_NAME = "archive"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
DMD_DC = "dmd-dc"
DMD_PROFILE = "dmd-profile"
TECHMD_PACKAGE = "techmd-package"
RIGHTSMD_ACCESS = "rightsmd-access"
SOURCEMD_BAG_INFO = "sourcemd-bag-info"


def file_id(index: int) -> str:
    """The METS ID of the file at 0-based ``index``: ``file-000001`` for the first."""
    return f"file-{index + 1:06d}"


def dc_element_name(key: str) -> str:
    """Clark name for a Dublin Core key: DCMES names -> ``dc:``, other DCMI terms -> ``dcterms:``.

    Keys are canonical: ``title`` (not ``dc:title``), ``abstract`` (not ``dcterms:abstract``),
    and ``dcterms:title`` only for the dcterms twin of a DCMES element.
    """
    if key in DCMES:
        return q(DC_NS, key)
    if key in DCTERMS_ONLY:
        return q(DCTERMS_NS, key)
    if key.startswith("dcterms:") and key[len("dcterms:") :] in DCMES:
        return q(DCTERMS_NS, key[len("dcterms:") :])
    hint = key.split(":", 1)[-1]
    if hint in DCMES or hint in DCTERMS_ONLY:
        raise PackagingError(f"Dublin Core key {key!r}: write it as {hint!r}")
    raise PackagingError(f"Dublin Core key {key!r} is not a DCMES element or DCMI term")


def _md_wrap(section: etree._Element, mdtype: str, other: str = "", version: str = "") -> etree._Element:
    """Add ``mdWrap/xmlData`` to a metadata section and return the ``xmlData`` element."""
    attrib = {"MDTYPE": mdtype}
    if other:
        attrib["OTHERMDTYPE"] = other
    if version:
        attrib["MDTYPEVERSION"] = version
    wrap = sub(section, M("mdWrap"), **attrib)
    return sub(wrap, M("xmlData"))


#: metadata sections' stamps (:func:`~archive.packaging.mets.common.stamp`): one per kind of section
_SECTION_STAMPS: dict[object, etree._Element] = {}


def _section(parent: etree._Element, tag: str, section_id: str, mdtype: str, other: str = "") -> etree._Element:
    """A metadata section ``tag`` with ``mdWrap/xmlData``; returns the ``xmlData`` element."""

    def build(holder: etree._Element) -> etree._Element:
        version = "3.0" if mdtype.startswith("PREMIS") else ""
        section = sub(holder, M(tag), ID="")
        _md_wrap(section, mdtype, other, version)
        return section

    section = stamp(_SECTION_STAMPS, (tag, mdtype, other), build, parent)
    section.set("ID", check_text(section_id, f"{tag} @ID"))
    return section[0][0]


def _check_package(package: Package) -> None:
    check_text(package.id, "package id")
    if not package.id:
        raise PackagingError("package id is empty")
    seen: set[str] = set()
    for record in package.files:
        check_payload_path(record.path, f"file {record.path!r}")
        if record.path in seen:
            raise PackagingError(f"file {record.path!r} is listed twice")
        seen.add(record.path)


def _header(root: etree._Element, package: Package) -> None:
    dates = {"CREATEDATE": premis_write.iso(package.created, "package created")}
    if package.version_created is not None and package.version > 1:
        dates["LASTMODDATE"] = premis_write.iso(package.version_created, "version created")
    header = sub(root, M("metsHdr"), **dates)
    for agent in package.agents:
        if agent.type == AGENT_ORGANIZATION:
            el = sub(header, M("agent"), ROLE="CREATOR", TYPE="ORGANIZATION")
            sub(el, M("name"), agent.name, f"agent {agent.identifier!r} name")
    software = sub(header, M("agent"), ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
    sub(software, M("name"), SOFTWARE_NAME)
    sub(software, M("note"), f"{SOFTWARE_NAME} {archive.__version__}")


def _dmd_secs(root: etree._Element, package: Package) -> None:
    xml_data = _section(root, "dmdSec", DMD_DC, "DC")
    container = sub(xml_data, "simpledc")
    for key, values in package.dublin_core.items():
        name = dc_element_name(key)
        for value in values:
            sub(container, name, value, f"Dublin Core {key}")
    xml_data = _section(root, "dmdSec", DMD_PROFILE, "OTHER", OTHERMDTYPE_PROFILE)
    profile = sub(
        xml_data,
        q(ARC_NS, "profileMetadata"),
        profile=package.profile_id,
        profileVersion=package.profile_version,
    )
    encode_fields(profile, package.metadata, "metadata")


def _file_dmd_secs(root: etree._Element, files: list[FileRecord], ids: list[str]) -> None:
    for fid, record in zip(ids, files, strict=True):
        if record.metadata:
            xml_data = _section(root, "dmdSec", f"dmd-{fid}", "OTHER", OTHERMDTYPE_FILE)
            holder = sub(xml_data, q(ARC_NS, "fileMetadata"))
            encode_fields(holder, record.metadata, f"file {record.path!r} metadata")


def _package_amd(amd: etree._Element, package: Package) -> None:
    premis_write.package_object(_section(amd, "techMD", TECHMD_PACKAGE, "PREMIS:OBJECT"), package)


def _file_objects(amd: etree._Element, files: list[FileRecord], ids: list[str], links: Links | None = None) -> None:
    for fid, record in zip(ids, files, strict=True):
        xml_data = _section(amd, "techMD", f"techmd-{fid}", "PREMIS:OBJECT")
        premis_write.file_object(xml_data, record, (links or {}).get(record.path, ()))


def _rights_and_source(amd: etree._Element, package: Package) -> None:
    rights = _section(amd, "rightsMD", RIGHTSMD_ACCESS, "PREMIS:RIGHTS")
    premis_write.rights_element(rights, package.access, package)
    if package.bag_info:
        xml_data = _section(amd, "sourceMD", SOURCEMD_BAG_INFO, "OTHER", OTHERMDTYPE_BAG_INFO)
        encode_fields(sub(xml_data, q(ARC_NS, "bagInfo")), package.bag_info, "bag-info")


def _events(
    amd: etree._Element, events: list[tuple[int, Event]], package_id: str, linked_back: Collection[str]
) -> None:
    """digiprovMD per event, IDs from the event's position in the package (``event_id``), so
    events spread over several documents read back in their order. The files in ``linked_back``
    are described in parts and link to the event from their file objects instead."""
    for n, ev in events:
        xml_data = _section(amd, "digiprovMD", event_id(n), "PREMIS:EVENT")
        premis_write.event_element(xml_data, ev, package_id, linked_back)


def _agents(amd: etree._Element, package: Package) -> None:
    for n, agent in enumerate(package.agents, start=1):
        xml_data = _section(amd, "digiprovMD", f"digiprovmd-agent-{n:06d}", "PREMIS:AGENT")
        premis_write.agent_element(xml_data, agent)


def event_id(index: int) -> str:
    """The digiprovMD ID of the package's event at 0-based ``index``."""
    return f"digiprovmd-event-{index + 1:06d}"


def _checksum(record: FileRecord) -> dict[str, str]:
    for algorithm in CHECKSUM_PREFERENCE:
        if algorithm in record.digests:
            digest = check_text(record.digests[algorithm], f"file {record.path!r} {algorithm} digest")
            return {"CHECKSUM": digest, "CHECKSUMTYPE": DIGEST_LABELS[algorithm]}
    return {}


def submitted_id(index: int) -> str:
    return f"submitted-{index + 1:06d}"


def _href(el: etree._Element, target: str) -> None:
    locat = sub(el, M("FLocat"), LOCTYPE="URL")
    locat.set(q(XLINK_NS, "type"), "simple")
    locat.set(q(XLINK_NS, "href"), quote(target, safe="/"))


def _submitted_group(file_sec: etree._Element, package: Package) -> None:
    """fileGrp USE="submission": the files the submission brought beside its payload."""
    group = sub(file_sec, M("fileGrp"), USE=SUBMISSION_USE)
    seen: set[str] = set()
    for n, record in enumerate(package.submitted):
        check_payload_path(record.path, f"submitted file {record.path!r}")
        if record.path in seen:
            raise PackagingError(f"submitted file {record.path!r} is listed twice")
        seen.add(record.path)
        attrib = {"ID": submitted_id(n), "SIZE": str(record.size)}
        for algorithm in CHECKSUM_PREFERENCE:
            if algorithm in record.digests:
                attrib |= {"CHECKSUM": record.digests[algorithm], "CHECKSUMTYPE": DIGEST_LABELS[algorithm]}
                break
        _href(sub(group, M("file"), where=f"submitted file {record.path!r}", **attrib), record.bag_path)


def _file_group(file_sec: etree._Element, files: list[FileRecord], ids: list[str]) -> None:
    group = sub(file_sec, M("fileGrp"), USE="original")
    for fid, record in zip(ids, files, strict=True):
        attrib = {"ID": fid, "SIZE": str(record.size), "ADMID": f"techmd-{fid}", **_checksum(record)}
        if record.format is not None and record.format.mime:
            attrib["MIMETYPE"] = record.format.mime
        if record.metadata:
            attrib["DMDID"] = f"dmd-{fid}"
        _href(sub(group, M("file"), where=f"file {record.path!r}", **attrib), record.bag_path)


def _folder_tree(files: list[FileRecord], ids: list[str]) -> dict[str, Any]:
    """``{"files": [file ids], "dirs": {name: subtree}}`` in first-seen order."""
    tree: dict[str, Any] = {"files": [], "dirs": {}}
    for fid, record in zip(ids, files, strict=True):
        node = tree
        for segment in record.path.split("/")[:-1]:
            node = node["dirs"].setdefault(segment, {"files": [], "dirs": {}})
        node["files"].append(fid)
    return tree


def _emit_div(div: etree._Element, node: dict[str, Any]) -> None:
    """One div per folder, nested as the folders are; a stack, not recursion (any depth)."""
    stack = [(div, node)]
    while stack:
        parent, here = stack.pop()
        for fid in here["files"]:  # METS wants fptr before child divs
            sub(parent, M("fptr"), FILEID=fid)
        children = [(sub(parent, M("div"), TYPE="folder", LABEL=name), child) for name, child in here["dirs"].items()]
        stack.extend(reversed(children))


def _top_div(root: etree._Element, package: Package) -> etree._Element:
    struct = sub(root, M("structMap"), TYPE="physical")
    admids = [TECHMD_PACKAGE, RIGHTSMD_ACCESS] + ([SOURCEMD_BAG_INFO] if package.bag_info else [])
    return sub(
        struct,
        M("div"),
        TYPE="package",
        LABEL=package.source_name or package.id,
        DMDID=join_ids([DMD_DC, DMD_PROFILE]),
        ADMID=join_ids(admids),
    )


def _new_root(package: Package, doc_type: str) -> etree._Element:
    root = etree.Element(M("mets"), nsmap=NSMAP)
    root.set("OBJID", package.id)
    root.set("TYPE", doc_type)
    if package.source_name:
        root.set("LABEL", check_text(package.source_name, "source name"))
    return root


def _serialise(root: etree._Element) -> bytes:
    try:
        body: bytes = etree.tostring(root, encoding="UTF-8", pretty_print=True)
    except (ValueError, UnicodeError) as exc:  # belt and braces: check_text should have caught it
        raise PackagingError(f"METS could not be serialised: {exc}") from exc
    return XML_DECLARATION + body


def _write_root(package: Package, chunks: list[range] | None) -> tuple[bytes, list[tuple[str, _Part]]]:
    """The package's METS: one document when ``chunks`` is None, else a root document and one
    part per chunk of files (``docs/decisions/0010-mets-parts.md``), each made when it is asked
    for, so a caller can write and drop one part before the next is made."""
    inline = chunks is None
    files = package.files
    root = _new_root(package, "AIP")
    _header(root, package)
    _dmd_secs(root, package)
    if inline:
        ids = [file_id(i) for i in range(len(files))]
        _file_dmd_secs(root, files, ids)
        part_of: dict[str, int] = {}
    else:
        part_of = {files[i].path: n for n, chunk in enumerate(chunks or ()) for i in chunk}
    amd = sub(root, M("amdSec"), ID="amd")
    _package_amd(amd, package)
    if inline:
        _file_objects(amd, files, ids)
    _rights_and_source(amd, package)
    local, shared = _place_events(package, part_of)
    _events(amd, shared, package.id, part_of.keys())
    _agents(amd, package)
    if package.submitted or (inline and files):
        file_sec = sub(root, M("fileSec"))
        if package.submitted:
            _submitted_group(file_sec, package)
        if inline and files:
            _file_group(file_sec, files, ids)
    top = _top_div(root, package)
    parts: list[tuple[str, _Part]] = []
    if inline:
        _emit_div(top, _folder_tree(files, ids))
        return _serialise(root), parts
    # each file's package-wide events, one tuple for every file with the same ones (most files
    # share them all: the digests event is about every file)
    links: dict[str, tuple[str, ...]] = {}
    same: dict[tuple[str, ...], tuple[str, ...]] = {}
    for _, ev in shared:
        for target in ev.objects:
            if target in part_of:
                linked = (*links.get(target, ()), ev.identifier)
                links[target] = same.setdefault(linked, linked)
    for n, chunk in enumerate(chunks or ()):
        name = part_name(files[chunk.start].path)
        div = sub(top, M("div"), TYPE="files", ORDER=str(n + 1))
        pointer = sub(div, M("mptr"), LOCTYPE="URL")
        pointer.set(q(XLINK_NS, "type"), "simple")
        pointer.set(q(XLINK_NS, "href"), name)
        described = [files[i] for i in chunk]
        parts.append(
            (name, _Part(package.id, described, local.get(n, []), {f.path: links.get(f.path, ()) for f in described}))
        )
    return _serialise(root), parts


def files_paths(package: Package) -> list[str]:
    return [f.path for f in package.files]


def _place_events(
    package: Package, part_of: dict[str, int]
) -> tuple[dict[int, list[tuple[int, Event]]], list[tuple[int, Event]]]:
    """Which document holds each event: the part of its files when all of them are in one part
    (a file's format identification), else the root (an event about the package or about files
    of several parts, linked back from their file objects)."""
    local: dict[int, list[tuple[int, Event]]] = {}
    shared: list[tuple[int, Event]] = []
    for n, ev in enumerate(package.events):
        homes = {part_of.get(t, -1) for t in ev.objects}
        if ev.objects and len(homes) == 1 and -1 not in homes:
            local.setdefault(homes.pop(), []).append((n, ev))
        else:
            shared.append((n, ev))
    return local, shared


#: changes whenever _write_part would write other bytes for the same inputs (a part's fingerprint)
PART_LAYOUT = "1"


@dataclass(frozen=True)
class _Part:
    """What one part is made from: nothing else goes into its bytes."""

    package_id: str
    files: list[FileRecord]
    events: list[tuple[int, Event]]
    links: Links

    def fingerprint(self) -> str:
        """A digest of everything the part is made from (so equal fingerprints, equal bytes)."""
        return hashlib.sha256(
            repr((PART_LAYOUT, self.package_id, self.files, self.events, self.links)).encode("utf-8", "surrogatepass")
        ).hexdigest()

    def make(self) -> bytes:
        return _write_part(self.package_id, self.files, self.events, self.links)


def _write_part(package_id: str, files: list[FileRecord], events: list[tuple[int, Event]], links: Links) -> bytes:
    """One part: the PREMIS objects, metadata, fileSec and folder structure of a chunk of files,
    and the events about only these files. Nothing in it depends on the version, so a part
    whose files did not change is byte-identical in the next version and stored once."""
    root = etree.Element(M("mets"), nsmap=NSMAP)
    root.set("OBJID", package_id)
    root.set("TYPE", PART_TYPE)
    ids = [file_id(i) for i in range(len(files))]
    _file_dmd_secs(root, files, ids)
    amd = sub(root, M("amdSec"), ID="amd")
    _file_objects(amd, files, ids, links)
    _events(amd, events, package_id, set())
    _file_group(sub(root, M("fileSec")), files, ids)
    struct = sub(root, M("structMap"), TYPE="physical")
    _emit_div(sub(struct, M("div"), TYPE="files"), _folder_tree(files, ids))
    return _serialise(root)


def write_mets_set(package: Package, part_files: int | None = None) -> MetsSet:
    """The package's METS documents: one ``mets.xml`` for a package of at most ``part_files``
    files (:data:`~archive.packaging.mets.parts.PART_FILES` by default), else ``mets.xml`` and
    parts of about ``part_files`` files each (:func:`chunk_files`). Raises
    :class:`PackagingError` as :func:`write_mets` does."""
    return MetsSet.of((name, body) for name, body in iter_mets(package, part_files) if body is not None)


def _plan(package: Package, part_files: int | None) -> tuple[bytes, list[tuple[str, _Part]]]:
    _check_package(package)
    part_files = part_files or parts_module.PART_FILES
    paths = files_paths(package)
    return _write_root(package, None if len(paths) <= part_files else chunk_files(paths, part_files))


def iter_mets(
    package: Package,
    part_files: int | None = None,
    unchanged: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    pool: Executor | None = None,
) -> Iterator[tuple[str, bytes | None]]:
    """The package's METS documents as ``(bag path, bytes)``, ``mets.xml`` first, each part made
    only when the one before has been taken (what :func:`write_mets_set` holds at once).

    ``unchanged``: part name -> fingerprint (:func:`part_fingerprints`) of parts a caller holds
    already (the version before's); a part made from the same is not made again: ``None``.
    ``progress`` is told ``(files described, files)`` as each part is made. ``pool``: worker
    processes that make the parts, a few ahead of the one taken (the bytes are the same)."""
    root, documents = _plan(package, part_files)
    total = len(package.files)
    done = 0 if documents else total
    if progress is not None:
        progress(done, total)
    yield METS_NAME, root
    carried = {name for name, part in documents if unchanged and unchanged.get(name) == part.fingerprint()}
    todo = [part for name, part in documents if name not in carried]
    made: Iterator[bytes]
    if pool is None:
        made = (part.make() for part in todo)
    else:
        made = ordered_results(lambda part: pool.submit(make_part, part), todo, PARTS_AHEAD)
    for name, part in documents:
        yield name, None if name in carried else next(made)
        done += len(part.files)
        if progress is not None:
            progress(done, total)


#: parts with the worker processes while the one before is taken
PARTS_AHEAD = 4


def make_part(part: _Part) -> bytes:
    """One part's bytes (a task of the worker processes of :func:`iter_mets`)."""
    return part.make()


def part_fingerprints(package: Package, part_files: int | None = None) -> dict[str, str]:
    """Part name -> fingerprint of what it is made from, for the parts ``package`` is described in
    (none for a package of one ``mets.xml``): a later version whose part has the same fingerprint
    carries the part instead of writing it again."""
    if len(package.files) <= (part_files or parts_module.PART_FILES):
        return {}  # one mets.xml: no parts (and no need to build it)
    return {name: part.fingerprint() for name, part in _plan(package, part_files)[1]}


def write_mets(package: Package) -> bytes:
    """Serialise ``package`` as one pretty-printed UTF-8 METS document, every file in it.

    Raises :class:`PackagingError` for anything that cannot be represented faithfully: text with
    characters XML 1.0 forbids, naive datetimes, unsafe or duplicate paths, unknown Dublin Core
    keys or access levels, metadata values of unsupported types.
    """
    _check_package(package)
    return _write_root(package, None)[0]

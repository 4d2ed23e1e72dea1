"""Validate METS against the bundled METS 1.12.1 + PREMIS 3 + MODS + DC schemas, offline.

The schema set is compiled once per process, on first use (about 30 ms), from files shipped in
``archive/packaging/mets/schemas/``; every import there points at a sibling file, and the parser
has ``no_network=True``, so validation never touches the network. ``mets.xsd`` alone would not
do: it rejects ``premis:*`` elements carrying ``xsi:type`` because it does not know the PREMIS
types, hence the wrapper that compiles all namespaces together.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterable
from typing import Any, cast

from lxml import etree

from archive.errors import Finding, PackagingError, error
from archive.packaging.mets.common import METS_NS, parse_xml, safe_parser
from archive.packaging.mets.schemas import ENTRY_SCHEMA

__all__ = ["CODE", "assert_valid_mets", "assert_valid_streaming", "load_schema", "validate_mets"]

#: Finding code for METS schema problems
CODE = "E320"
#: how many findings an exception message lists before summarising
_MESSAGE_LIMIT = 20
#: METS attributes typed IDREF or IDREFS
_IDREF_ATTRIBUTES = ("ADMID", "DMDID", "FILEID")
#: the METS elements the archive's writer gives an ID or an IDREF(S) (what the streaming check reads)
_WITH_IDS = tuple(
    f"{{{METS_NS}}}{tag}"
    for tag in (
        "mets", "metsHdr", "dmdSec", "amdSec", "techMD", "rightsMD", "sourceMD", "digiprovMD",
        "fileSec", "fileGrp", "file", "structMap", "div", "fptr",
    )
)  # fmt: skip
#: ... and of those, the ones dropped once read: each file's sections, its file entry, its folders
_DROPPED = frozenset(
    f"{{{METS_NS}}}{tag}" for tag in ("dmdSec", "techMD", "rightsMD", "sourceMD", "digiprovMD", "file", "div")
)

# one compiled schema is shared; its error_log belongs to the last validate() call, so serialise
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def load_schema() -> etree.XMLSchema:
    """The compiled schema set (cached; ``load_schema.cache_clear()`` forces a recompile)."""
    try:
        document = etree.parse(str(ENTRY_SCHEMA), safe_parser())
        return etree.XMLSchema(document)
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise PackagingError(f"bundled METS schemas at {ENTRY_SCHEMA.parent} could not be compiled: {exc}") from exc


def validate_mets(data: bytes, name: str = "mets.xml") -> list[Finding]:
    """Every schema problem in ``data`` as an ``E320`` error Finding (``[]`` means valid).

    ``name`` goes into each Finding's ``path``; messages start with ``line N:``. Malformed or
    unsafe input (a DOCTYPE, entities) is reported as a Finding too, not raised.
    """
    try:
        root = parse_xml(data)
    except PackagingError as exc:
        return [error(CODE, name, exc.message)]
    schema = load_schema()
    with _LOCK:
        valid = schema.validate(root)
        log = list(cast(Iterable[Any], schema.error_log))
    findings = [error(CODE, name, f"line {entry.line}: {entry.message}") for entry in log]
    if not valid and not findings:
        findings.append(error(CODE, name, "document is not valid against the METS/PREMIS schemas"))
    return findings + _dangling_references(root, name)


def _dangling_references(root: etree._Element, name: str) -> list[Finding]:
    """IDREF(S) attributes of METS elements that name no ID (libxml2's XSD check skips this).

    One pass over the tree's METS elements with ``iter`` (the PREMIS, Dublin Core and profile
    elements inside them, most of a document, are skipped in C): linear in the document and
    free of the XPath engine's node-set limits (an XPath union over a 70,000-file METS fails in
    libxml2). The IDs they may name are METS elements' own (the sections, files and divisions).
    """
    ids: set[str] = set()
    refs: list[_Ref] = []
    for el in root.iter(f"{{{METS_NS}}}*"):
        _note_ids(el, ids, refs)
    return _unresolved(ids, refs, name)


#: an IDREF(S) attribute as found: its element's line and tag, the attribute, its value
_Ref = tuple[int | None, str, str, str]


def _note_ids(el: etree._Element, ids: set[str], refs: list[_Ref]) -> None:
    """Add ``el``'s ID to ``ids`` and its IDREF(S) attributes to ``refs`` (values only: the
    streaming check drops elements it has read)."""
    attrib = el.attrib
    value = attrib.get("ID")
    if value is not None:
        ids.add(value)
    for attr in _IDREF_ATTRIBUTES:
        value = attrib.get(attr)
        if value:
            refs.append((el.sourceline, el.tag, attr, value))


def _unresolved(ids: set[str], refs: list[_Ref], name: str) -> list[Finding]:
    """An ``E320`` finding for each reference in ``refs`` naming no ID of ``ids``."""
    findings = []
    for line, tag, attr, value in refs:
        for ref in value.split():
            if ref not in ids:
                where = f"line {line}: {etree.QName(tag).localname}/@{attr}"
                findings.append(error(CODE, name, f"{where} names {ref!r}, which no ID defines"))
    return findings


def _streamed_references(data: bytes) -> bool:
    """Parse ``data`` validating against the schema set as it goes, dropping each file's sections
    once read, so what is held is one section, not the document. True when the document is
    valid and every IDREF(S) its ID-bearing METS elements carry names an ID of theirs; False
    when the schema or an IDREF says otherwise (or the XML is not well-formed)."""
    if b"<!" in data:
        return False  # a DOCTYPE, a comment or CDATA: never written by the archive; the full check judges
    ids: set[str] = set()
    refs: list[_Ref] = []
    whole = False  # the root element ended: lxml does not always raise on a document cut short
    schema = load_schema()
    with _LOCK:
        try:
            for _, el in etree.iterparse(
                io.BytesIO(data),
                events=("end",),
                tag=_WITH_IDS,
                schema=schema,
                no_network=True,
                load_dtd=False,
                huge_tree=True,
            ):
                _note_ids(el, ids, refs)
                parent = el.getparent()
                if parent is None:
                    whole = True
                elif el.tag in _DROPPED:
                    el.clear(keep_tail=True)
                    while el.getprevious() is not None:
                        del parent[0]
        except etree.LxmlError:
            return False
    return whole and not _unresolved(ids, refs, "")


def assert_valid_streaming(data: bytes, name: str = "mets.xml") -> None:
    """:func:`assert_valid_mets` for a document the archive has just written, in the memory of
    one of its sections: the schema is checked while parsing (:func:`_streamed_references`).
    Only a document that fails is parsed whole, to list every problem the way
    :func:`assert_valid_mets` does (and to be sure: the full check is the one that decides)."""
    if not _streamed_references(data):
        assert_valid_mets(data, name)


def assert_valid_mets(data: bytes, name: str = "mets.xml") -> None:
    """Raise :class:`PackagingError` listing the problems if ``data`` is not valid METS."""
    findings = validate_mets(data, name)
    if findings:
        shown = "\n".join(f"  {f}" for f in findings[:_MESSAGE_LIMIT])
        more = len(findings) - _MESSAGE_LIMIT
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise PackagingError(f"{name} is not valid METS 1.12.1/PREMIS 3: {len(findings)} problem(s)\n{shown}{tail}")

"""What the METS writer, reader and validator share: namespaces, safe parsing, string checks.

Decisions recorded here (see ``docs/aip.md``):

* Characters that XML 1.0 cannot carry (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF, lone
  surrogates) are **rejected** with :class:`PackagingError` naming the field, never silently
  dropped or re-encoded: a METS must say exactly what the archive was given. Tab, LF and CR are
  kept (lxml writes CR as ``&#13;`` so it survives parsing).
* Parsing never touches the network or the file system beyond the bytes given: no DTD loading,
  no entity resolution, no ``huge_tree``, and any document carrying a DOCTYPE is refused (that is
  where XXE and "billion laughs" live; a METS never needs one).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Iterable

from lxml import etree

from archive.errors import PackagingError

METS_NS = "http://www.loc.gov/METS/"
PREMIS_NS = "http://www.loc.gov/premis/v3"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
DC_NS = "http://purl.org/dc/elements/1.1/"
DCTERMS_NS = "http://purl.org/dc/terms/"
#: the archive's own vocabulary for typed field/value metadata (profile, per-file, bag-info)
ARC_NS = "urn:archive:profile-metadata:1"

NSMAP: dict[str, str] = {
    "mets": METS_NS,
    "premis": PREMIS_NS,
    "xlink": XLINK_NS,
    "xsi": XSI_NS,
    "dc": DC_NS,
    "dcterms": DCTERMS_NS,
    "arc": ARC_NS,
}

#: mdWrap OTHERMDTYPE labels of the archive's own sections
OTHERMDTYPE_PROFILE = "archive-profile"
OTHERMDTYPE_FILE = "archive-file-metadata"
OTHERMDTYPE_BAG_INFO = "archive-bag-info"
#: premis:restriction authority that carries the archive's own access level word
ACCESS_LEVEL_AUTHORITY = "archive-access-level"
#: fileGrp USE of the files a submission brought beside its payload (kept under submission/)
SUBMISSION_USE = "submission"
#: premis:objectIdentifierType of the submission's idempotency key
IDEMPOTENCY_KEY_TYPE = "idempotency-key"
#: formatNote saying identification never ran (``FileRecord.format is None``)
FORMAT_NOT_IDENTIFIED = "identification: not performed"
UNKNOWN_FORMAT_NAME = "unknown"

#: Dublin Core Metadata Element Set 1.1 (the 15 elements), written as ``dc:NAME``
DCMES = (
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
)  # fmt: skip
#: DCMI terms that are not also DCMES names, written as ``dcterms:NAME`` (from the bundled dcterms.xsd)
DCTERMS_ONLY = (
    "alternative", "tableOfContents", "abstract", "created", "valid", "available", "issued",
    "modified", "dateAccepted", "dateCopyrighted", "dateSubmitted", "extent", "medium",
    "isVersionOf", "hasVersion", "isReplacedBy", "replaces", "isRequiredBy", "requires",
    "isPartOf", "hasPart", "isReferencedBy", "references", "isFormatOf", "hasFormat",
    "conformsTo", "spatial", "temporal", "audience", "accrualMethod", "accrualPeriodicity",
    "accrualPolicy", "instructionalMethod", "provenance", "rightsHolder", "mediator",
    "educationLevel", "accessRights", "license", "bibliographicCitation",
)  # fmt: skip

#: archive digest names (hashlib) <-> PREMIS messageDigestAlgorithm / METS CHECKSUMTYPE labels
DIGEST_LABELS = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
DIGEST_NAMES = {label: name for name, label in DIGEST_LABELS.items()}
#: which digest goes into mets:file/@CHECKSUM, best first
CHECKSUM_PREFERENCE = ("sha256", "sha512", "sha384", "sha1", "md5")

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def q(ns: str, tag: str) -> str:
    """Clark notation ``{ns}tag`` for lxml."""
    return f"{{{ns}}}{tag}"


def M(tag: str) -> str:
    return q(METS_NS, tag)


def P(tag: str) -> str:
    return q(PREMIS_NS, tag)


def check_text(value: str, where: str) -> str:
    """Return ``value`` if XML 1.0 can carry it, else raise :class:`PackagingError` naming ``where``."""
    if not isinstance(value, str):
        raise PackagingError(f"{where}: expected a string, found {type(value).__name__}")
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        raise PackagingError(
            f"{where}: contains U+{ord(bad.group()):04X} at position {bad.start()}, "
            "which XML 1.0 cannot represent; remove it from the submission"
        )
    return value


def check_payload_path(path: str, where: str = "file path") -> str:
    """A payload path relative to ``data/``: '/'-separated, no empty, '.' or '..' segments."""
    check_text(path, where)
    if not path or path.startswith("/") or any(seg in ("", ".", "..") for seg in path.split("/")):
        raise PackagingError(f"{where}: {path!r} is not a safe relative payload path")
    return path


def identifier_type(value: str) -> str:
    """``"UUID"`` when ``value`` is one, else ``"local"`` (PREMIS identifier types)."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return "local"
    return "UUID"


def sub(parent: etree._Element, tag: str, text: str | None = None, where: str = "", **attrib: str) -> etree._Element:
    """Append a child element; ``text`` and attribute values are checked with :func:`check_text`."""
    for name, value in attrib.items():
        check_text(value, f"{where or tag} @{name}")
    el = etree.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = check_text(text, where or tag)
    return el


#: distinct stamps kept in one table (all are dropped when there would be more)
STAMPS_KEPT = 512


def stamp(
    stamps: dict[object, etree._Element],
    key: object,
    build: Callable[[etree._Element], etree._Element],
    parent: etree._Element,
) -> etree._Element:
    """A copy of the element ``build`` makes for ``key``, appended to ``parent``: what many files
    or events share is built (its text checked) once and copied after that, which is several
    times faster than building it again element by element. The first one for a key is built
    under a holder declaring the METS namespaces, so its copies serialise exactly as an element
    built in place would; the caller fills in the texts that differ."""
    template = stamps.get(key)
    if template is None:
        template = build(etree.Element(M("holder"), nsmap=NSMAP))
        if len(stamps) >= STAMPS_KEPT:
            stamps.clear()
        stamps[key] = template
    el = copy.deepcopy(template)
    parent.append(el)
    return el


def safe_parser() -> etree.XMLParser:
    """An lxml parser that cannot fetch anything or expand entities.

    ``huge_tree`` lifts libxml2's size and depth limits (256 levels, 10 MB text nodes): a METS
    mirrors its package's folder nesting in the structMap, and a 100,000-file package is a big
    document. Entities stay unexpanded and a DOCTYPE is refused (:func:`parse_xml`), which is
    what guards against entity bombs.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,
        remove_blank_text=False,
    )


def parse_xml(data: bytes, what: str = "METS") -> etree._Element:
    """Parse ``data`` safely; raise :class:`PackagingError` on malformed XML or any DOCTYPE."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PackagingError(f"{what}: expected bytes, found {type(data).__name__}")
    try:
        root = etree.fromstring(bytes(data), safe_parser())
    except etree.XMLSyntaxError as exc:
        raise PackagingError(f"{what}: not well-formed XML: {exc}") from exc
    except (ValueError, etree.LxmlError) as exc:
        raise PackagingError(f"{what}: could not be parsed: {exc}") from exc
    docinfo = root.getroottree().docinfo
    doctype: str = getattr(docinfo, "doctype", "")
    if doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise PackagingError(f"{what}: a DOCTYPE is not allowed (entities and DTDs are refused)")
    for _ in root.iter(etree.Entity):
        raise PackagingError(f"{what}: entity references are not allowed")
    return root


def first(el: etree._Element, path: str, what: str) -> etree._Element:
    """The first match of ``path`` (Clark-notation ElementPath) or a PackagingError naming ``what``."""
    found = el.find(path)
    if found is None:
        raise PackagingError(f"METS: missing {what}")
    return found


def text_of(el: etree._Element | None) -> str:
    return "" if el is None or el.text is None else el.text


def id_list(value: str | None) -> list[str]:
    """Split an XML IDREFS attribute."""
    return (value or "").split()


def join_ids(ids: Iterable[str]) -> str:
    return " ".join(ids)

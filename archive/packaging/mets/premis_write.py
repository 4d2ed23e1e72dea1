"""PREMIS 3 elements for the METS writer: file and package objects, events, agents, rights.

Each function appends one PREMIS element under a ``mets:xmlData`` parent and returns it. Field
mapping (read back by :mod:`archive.packaging.mets.premis_read`):

* file object: ``objectIdentifier`` local = bag path; ``fixity`` per digest (``SHA-256`` ...);
  ``size``; ``format`` with ``formatDesignation`` (name, or ``unknown``; version) and
  ``formatRegistry`` PRONOM/PUID when identified; ``formatNote`` lines ``basis: ...``,
  ``tool: ...``, ``tool version: ...``, ``signature version: ...``, ``warning: ...``;
  ``originalName``. The basis says what the PUID rests on (``signature``, ``container``,
  ``extension``, ``none``): a PUID on basis ``extension`` is a guess from the file name, and its
  warning note starts "guessed from the extension only" (docs/formats.md); an empty file has no
  ``formatRegistry``, basis ``none`` and the warning ``empty file``.
* package object (``intellectualEntity``): identifier = package id, ``idempotency-key``
  identifier, ``preservationLevel`` type ``archive profile`` (value = profile id, rationale =
  ``profile version V``), ``originalName`` = source name.
* rights: ``rightsBasis`` Other / ``otherRightsBasis`` Policy (the archive's access policy),
  ``otherRightsNote`` = statement, ``rightsGranted`` act ``disseminate`` with a LoC restriction
  (Allow / Conditional / Disallow) plus the archive's own level as ``restriction`` with
  ``authority="archive-access-level"``, and ``termOfRestriction`` ending on the embargo date.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import date, datetime

from lxml import etree

from archive.errors import PackagingError
from archive.model import (
    ACCESS_CONFIDENTIAL,
    ACCESS_EMBARGOED,
    ACCESS_LEGAL_HOLD,
    ACCESS_LEVELS,
    ACCESS_OPEN,
    ACCESS_RESTRICTED,
    Access,
    Agent,
    Event,
    FileRecord,
    FormatInfo,
    Package,
)
from archive.packaging.mets.common import (
    ACCESS_LEVEL_AUTHORITY,
    DIGEST_LABELS,
    FORMAT_NOT_IDENTIFIED,
    IDEMPOTENCY_KEY_TYPE,
    UNKNOWN_FORMAT_NAME,
    XSI_NS,
    P,
    check_text,
    identifier_type,
    q,
    stamp,
    sub,
)

PREMIS_VERSION = "3.0"
PROFILE_LEVEL_TYPE = "archive profile"
PROFILE_VERSION_PREFIX = "profile version "
PRONOM = "PRONOM"
#: format notes, in the order written: (FormatInfo attribute, note label)
FORMAT_NOTES = (
    ("basis", "basis"),
    ("tool", "tool"),
    ("tool_version", "tool version"),
    ("signature_version", "signature version"),
    ("warning", "warning"),
)
#: the archive's access level -> LoC "restriction" vocabulary word for the disseminate act
LOC_RESTRICTION = {
    ACCESS_OPEN: "Allow",
    ACCESS_RESTRICTED: "Conditional",
    ACCESS_EMBARGOED: "Disallow",
    ACCESS_CONFIDENTIAL: "Disallow",
    ACCESS_LEGAL_HOLD: "Disallow",
}


def iso(value: datetime, where: str) -> str:
    """ISO 8601 with a UTC offset; naive datetimes are refused (they are ambiguous forever)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PackagingError(f"{where}: datetime {value.isoformat()} has no timezone")
    return value.isoformat()


def _object(parent: etree._Element, xsi_type: str) -> etree._Element:
    obj = sub(parent, P("object"), version=PREMIS_VERSION)
    obj.set(q(XSI_NS, "type"), f"premis:{xsi_type}")
    return obj


def _identifier(parent: etree._Element, kind: str, id_type: str, value: str, where: str) -> etree._Element:
    el = sub(parent, P(f"{kind}Identifier"))
    sub(el, P(f"{kind}IdentifierType"), id_type, where)
    sub(el, P(f"{kind}IdentifierValue"), value, where)
    return el


def _format(parent: etree._Element, fmt: FormatInfo | None, where: str) -> None:
    stamp(_FORMAT_STAMPS, fmt, lambda holder: _format_element(holder, fmt, where), parent)


def _format_element(parent: etree._Element, fmt: FormatInfo | None, where: str) -> etree._Element:
    el = sub(parent, P("format"))
    designation = sub(el, P("formatDesignation"))
    name = fmt.name if fmt is not None and fmt.name else UNKNOWN_FORMAT_NAME
    sub(designation, P("formatName"), name, f"{where} format name")
    if fmt is not None and fmt.version:
        sub(designation, P("formatVersion"), fmt.version, f"{where} format version")
    if fmt is None:
        sub(el, P("formatNote"), FORMAT_NOT_IDENTIFIED)
        return el
    if fmt.puid:
        registry = sub(el, P("formatRegistry"))
        sub(registry, P("formatRegistryName"), PRONOM)
        sub(registry, P("formatRegistryKey"), fmt.puid, f"{where} PUID")
        sub(registry, P("formatRegistryRole"), "specification")
    for attr, label in FORMAT_NOTES:
        value = getattr(fmt, attr)
        if value:
            sub(el, P("formatNote"), f"{label}: {value}", f"{where} format {label}")
    return el


def file_object(parent: etree._Element, record: FileRecord, events: Iterable[str] = ()) -> etree._Element:
    """A PREMIS file object; ``events`` are the identifiers of events described elsewhere (the
    root METS of a package in parts) that concern this file, linked from it.

    Files of the same shape (digest algorithms, format, an original name or not, the kinds of
    their event links) are copies of one stamp with their own texts filled in."""
    where = f"file {record.path!r}"
    links = [(identifier_type(identifier), identifier) for identifier in events]
    key = (*record.digests, record.format, bool(record.original_name), *(kind for kind, _ in links))
    obj = stamp(_FILE_STAMPS, key, lambda holder: _file_object(holder, record, links, where), parent)
    obj[0][1].text = check_text(record.bag_path, where)
    chars = obj[1]
    for fixity, (algorithm, digest) in zip(chars, record.digests.items(), strict=False):
        fixity[1].text = check_text(digest, f"{where} {algorithm} digest")
    _check_size(record.size, where)
    chars[len(record.digests)].text = str(record.size)
    rest = 2
    if record.original_name:
        obj[2].text = check_text(record.original_name, f"{where} original name")
        rest = 3
    for link, (_, identifier) in zip(obj[rest:], links, strict=True):
        link[1].text = check_text(identifier, f"{where} event")
    return obj


def _check_size(size: object, where: str) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise PackagingError(f"{where}: size {size!r} is not a non-negative integer")


def _file_object(
    parent: etree._Element, record: FileRecord, links: list[tuple[str, str]], where: str
) -> etree._Element:
    """A file object built element by element: the stamp of :func:`file_object`."""
    obj = _object(parent, "file")
    _identifier(obj, "object", "local", record.bag_path, where)
    chars = sub(obj, P("objectCharacteristics"))
    for algorithm, digest in record.digests.items():
        fixity = sub(chars, P("fixity"))
        label = DIGEST_LABELS.get(algorithm, algorithm)
        sub(fixity, P("messageDigestAlgorithm"), label, f"{where} digest algorithm")
        sub(fixity, P("messageDigest"), digest, f"{where} {algorithm} digest")
    _check_size(record.size, where)
    sub(chars, P("size"), str(record.size))
    _format(chars, record.format, where)
    if record.original_name:
        sub(obj, P("originalName"), record.original_name, f"{where} original name")
    for kind, identifier in links:
        _identifier(obj, "linkingEvent", kind, identifier, f"{where} event")
    return obj


def package_object(parent: etree._Element, package: Package) -> etree._Element:
    obj = _object(parent, "intellectualEntity")
    _identifier(obj, "object", identifier_type(package.id), package.id, "package id")
    if package.idempotency_key:
        _identifier(obj, "object", IDEMPOTENCY_KEY_TYPE, package.idempotency_key, "idempotency key")
    level = sub(obj, P("preservationLevel"))
    sub(level, P("preservationLevelType"), PROFILE_LEVEL_TYPE)
    sub(level, P("preservationLevelValue"), package.profile_id, "profile id")
    sub(
        level,
        P("preservationLevelRationale"),
        PROFILE_VERSION_PREFIX + package.profile_version,
        "profile version",
    )
    sub(level, P("preservationLevelDateAssigned"), iso(package.created, "package created"))
    if package.source_name:
        sub(obj, P("originalName"), package.source_name, "source name")
    return obj


def event_element(
    parent: etree._Element, event: Event, package_id: str, linked_back: Container[str] = ()
) -> etree._Element:
    """A PREMIS event linking its agents and objects, except the files in ``linked_back``: those
    link to the event from their own file objects (:func:`file_object`)."""
    where = f"event {event.identifier!r}"
    key = (event.type, event.detail, event.outcome, event.outcome_detail, *((a.agent, a.role) for a in event.agents))
    el = stamp(_EVENT_STAMPS, key, lambda holder: _event_head(holder, event, where), parent)
    ident = el[0]
    ident[0].text = identifier_type(event.identifier)
    ident[1].text = check_text(event.identifier, where)
    el[2].text = iso(event.datetime, where)
    for target in event.objects:
        if target in linked_back:
            continue
        if target == package_id:
            _identifier(el, "linkingObject", identifier_type(target), target, f"{where} object")
        else:
            _identifier(el, "linkingObject", "local", f"data/{target}", f"{where} object")
    return el


def _event_head(parent: etree._Element, event: Event, where: str) -> etree._Element:
    """An event without its identifier's text, its date and its objects: what the events of one
    kind share (every file's format identification has the same detail, outcome and agents)."""
    el = sub(parent, P("event"), version=PREMIS_VERSION)
    _identifier(el, "event", "", "", where)
    sub(el, P("eventType"), event.type, f"{where} type")
    sub(el, P("eventDateTime"), "")
    detail = sub(el, P("eventDetailInformation"))
    sub(detail, P("eventDetail"), event.detail, f"{where} detail")
    outcome = sub(el, P("eventOutcomeInformation"))
    sub(outcome, P("eventOutcome"), event.outcome, f"{where} outcome")
    if event.outcome_detail:
        note = sub(outcome, P("eventOutcomeDetail"))
        sub(note, P("eventOutcomeDetailNote"), event.outcome_detail, f"{where} outcome detail")
    for link in event.agents:
        agent = _identifier(el, "linkingAgent", "local", link.agent, f"{where} agent")
        if link.role:
            sub(agent, P("linkingAgentRole"), link.role, f"{where} agent role")
    return el


#: the stamps of this module's elements (see :func:`~archive.packaging.mets.common.stamp`): a
#: transfer of 100,000 files has a few dozen formats, one kind of format identification event and
#: a few shapes of file object
_FORMAT_STAMPS: dict[object, etree._Element] = {}
_EVENT_STAMPS: dict[object, etree._Element] = {}
_FILE_STAMPS: dict[object, etree._Element] = {}


def agent_element(parent: etree._Element, agent: Agent) -> etree._Element:
    where = f"agent {agent.identifier!r}"
    el = sub(parent, P("agent"), version=PREMIS_VERSION)
    _identifier(el, "agent", "local", agent.identifier, where)
    sub(el, P("agentName"), agent.name, f"{where} name")
    sub(el, P("agentType"), agent.type, f"{where} type")
    if agent.note:
        sub(el, P("agentNote"), agent.note, f"{where} note")
    return el


def rights_element(parent: etree._Element, access: Access, package: Package) -> etree._Element:
    if access.level not in ACCESS_LEVELS:
        raise PackagingError(f"access level {access.level!r} is not one of {', '.join(ACCESS_LEVELS)}")
    el = sub(parent, P("rights"), version=PREMIS_VERSION)
    statement = sub(el, P("rightsStatement"))
    _identifier(statement, "rightsStatement", "local", "access-policy", "rights")
    sub(statement, P("rightsBasis"), "Other")
    other = sub(statement, P("otherRightsInformation"))
    sub(other, P("otherRightsBasis"), "Policy")
    if access.statement:
        sub(other, P("otherRightsNote"), access.statement, "access statement")
    granted = sub(statement, P("rightsGranted"))
    sub(granted, P("act"), "disseminate")
    sub(granted, P("restriction"), LOC_RESTRICTION[access.level])
    sub(granted, P("restriction"), access.level, authority=ACCESS_LEVEL_AUTHORITY)
    if access.embargo_until is not None:
        if not isinstance(access.embargo_until, date) or isinstance(access.embargo_until, datetime):
            raise PackagingError(f"embargo date {access.embargo_until!r} is not a date")
        term = sub(granted, P("termOfRestriction"))
        sub(term, P("startDate"), package.created.date().isoformat())
        sub(term, P("endDate"), access.embargo_until.isoformat())
    _identifier(statement, "linkingObject", identifier_type(package.id), package.id, "rights object")
    return el

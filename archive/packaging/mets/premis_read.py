"""Read back the PREMIS 3 elements that :mod:`archive.packaging.mets.premis_write` produces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from lxml import etree

from archive.errors import PackagingError
from archive.model import Access, Agent, Event, EventLink, FormatInfo
from archive.packaging.mets.common import (
    ACCESS_LEVEL_AUTHORITY,
    DIGEST_NAMES,
    FORMAT_NOT_IDENTIFIED,
    IDEMPOTENCY_KEY_TYPE,
    PREMIS_NS,
    UNKNOWN_FORMAT_NAME,
    XSI_NS,
    P,
    first,
    q,
    text_of,
)
from archive.packaging.mets.premis_write import FORMAT_NOTES, PROFILE_LEVEL_TYPE, PROFILE_VERSION_PREFIX, PRONOM

T = TypeVar("T")


def parse_as(parse: Callable[[str], T], text: str, what: str) -> T:
    try:
        return parse(text)
    except (ValueError, TypeError) as exc:
        raise PackagingError(f"METS: {what} {text!r} is not valid: {exc}") from exc


def xsi_type(el: etree._Element) -> tuple[str | None, str]:
    """``(namespace, local name)`` of an element's ``xsi:type``, resolving its prefix in scope."""
    value = el.get(q(XSI_NS, "type"), "")
    prefix, _, local = value.rpartition(":")
    return el.nsmap.get(prefix or None), local


def is_object_of_type(el: etree._Element, local: str) -> bool:
    return el.tag == P("object") and xsi_type(el) == (PREMIS_NS, local)


def identifiers(el: etree._Element, kind: str) -> list[tuple[str, str]]:
    return [
        (text_of(i.find(P(f"{kind}IdentifierType"))), text_of(i.find(P(f"{kind}IdentifierValue"))))
        for i in el.iterchildren(P(f"{kind}Identifier"))
    ]


def object_path(obj: etree._Element) -> str:
    """The bag path (``data/...``) from a file object's local identifier."""
    for id_type, value in identifiers(obj, "object"):
        if id_type == "local":
            return value
    raise PackagingError(f"METS line {obj.sourceline}: file object without a local identifier")


def file_digests(chars: etree._Element) -> dict[str, str]:
    digests: dict[str, str] = {}
    for fixity in chars.iterchildren(P("fixity")):
        label = text_of(fixity.find(P("messageDigestAlgorithm")))
        digests[DIGEST_NAMES.get(label, label)] = text_of(fixity.find(P("messageDigest")))
    return digests


def file_format(chars: etree._Element, mime: str) -> FormatInfo | None:
    fmt = first(chars, P("format"), "premis:format in a file object")
    notes = [text_of(n) for n in fmt.iterchildren(P("formatNote"))]
    if FORMAT_NOT_IDENTIFIED in notes:
        return None
    name = text_of(fmt.find(f"{P('formatDesignation')}/{P('formatName')}"))
    version = text_of(fmt.find(f"{P('formatDesignation')}/{P('formatVersion')}"))
    puid = None
    for registry in fmt.iterchildren(P("formatRegistry")):
        if text_of(registry.find(P("formatRegistryName"))) == PRONOM:
            puid = text_of(registry.find(P("formatRegistryKey")))
    labelled: dict[str, str] = {}
    for note in notes:
        label, sep, value = note.partition(": ")
        if sep:
            labelled.setdefault(label, value)
    fields = {attr: labelled.get(label, "") for attr, label in FORMAT_NOTES}
    return FormatInfo(puid=puid, name="" if name == UNKNOWN_FORMAT_NAME else name, version=version, mime=mime, **fields)


def package_entity(entity: etree._Element) -> dict[str, str]:
    """``id``, ``idempotency_key``, ``profile_id``, ``profile_version``, ``source_name``."""
    ids = identifiers(entity, "object")
    if not ids:
        raise PackagingError("METS: the package object has no identifier")
    result = {
        "id": ids[0][1],
        "idempotency_key": next((v for t, v in ids if t == IDEMPOTENCY_KEY_TYPE), ""),
        "source_name": text_of(entity.find(P("originalName"))),
    }
    for level in entity.iterchildren(P("preservationLevel")):
        if text_of(level.find(P("preservationLevelType"))) == PROFILE_LEVEL_TYPE:
            result["profile_id"] = text_of(level.find(P("preservationLevelValue")))
            rationale = text_of(level.find(P("preservationLevelRationale")))
            result["profile_version"] = rationale.removeprefix(PROFILE_VERSION_PREFIX)
    return result


def event(el: etree._Element, package_id: str) -> Event:
    ids = identifiers(el, "event")
    if not ids:
        raise PackagingError(f"METS line {el.sourceline}: event without an identifier")
    when = text_of(first(el, P("eventDateTime"), "premis:eventDateTime"))
    links = []
    for link in el.iterchildren(P("linkingAgentIdentifier")):
        links.append(
            EventLink(
                agent=text_of(link.find(P("linkingAgentIdentifierValue"))),
                role=text_of(link.find(P("linkingAgentRole"))),
            )
        )
    objects = []
    for _, value in identifiers(el, "linkingObject"):
        if value != package_id and value.startswith("data/"):
            value = value[len("data/") :]
        objects.append(value)
    return Event(
        identifier=ids[0][1],
        type=text_of(el.find(P("eventType"))),
        datetime=parse_as(datetime.fromisoformat, when, "eventDateTime"),
        detail=text_of(el.find(f"{P('eventDetailInformation')}/{P('eventDetail')}")),
        outcome=text_of(el.find(f"{P('eventOutcomeInformation')}/{P('eventOutcome')}")),
        outcome_detail=text_of(
            el.find(f"{P('eventOutcomeInformation')}/{P('eventOutcomeDetail')}/{P('eventOutcomeDetailNote')}")
        ),
        agents=links,
        objects=objects,
    )


def agent(el: etree._Element) -> Agent:
    ids = identifiers(el, "agent")
    if not ids:
        raise PackagingError(f"METS line {el.sourceline}: agent without an identifier")
    return Agent(
        identifier=ids[0][1],
        name=text_of(el.find(P("agentName"))),
        type=text_of(el.find(P("agentType"))),
        note=text_of(el.find(P("agentNote"))),
    )


def access(rights: etree._Element) -> Access:
    statement = first(rights, P("rightsStatement"), "premis:rightsStatement")
    level = None
    embargo: date | None = None
    for granted in statement.iterchildren(P("rightsGranted")):
        for restriction in granted.iterchildren(P("restriction")):
            if restriction.get("authority") == ACCESS_LEVEL_AUTHORITY:
                level = text_of(restriction)
        end = granted.find(f"{P('termOfRestriction')}/{P('endDate')}")
        if end is not None:
            embargo = parse_as(date.fromisoformat, text_of(end), "embargo end date")
    if level is None:
        raise PackagingError(f"METS: rights statement has no restriction with authority {ACCESS_LEVEL_AUTHORITY!r}")
    note = statement.find(f"{P('otherRightsInformation')}/{P('otherRightsNote')}")
    return Access(level=level, embargo_until=embargo, statement=text_of(note))

"""The package an ingest stores, built from a prepared submission: its agents, PREMIS events,
bag-info, the :class:`~archive.model.Package` and its METS (validated against the bundled schemas)."""

from __future__ import annotations

import platform
import uuid
from datetime import timedelta
from pathlib import Path

import bagit

from archive import __version__
from archive.errors import PackagingError, SubmissionRejected, error
from archive.model import (
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
    Agent,
    Event,
    EventLink,
    FormatInfo,
    Package,
    utcnow,
)
from archive.packaging.bag.write import merge_bag_info, payload_oxum, tag_lines
from archive.packaging.mets.parts import PART_FILES, MetsSet, store_mets
from archive.packaging.mets.write import iter_mets
from archive.profiles.bagit_profile import profile_identifier
from archive.services.context import ArchiveContext
from archive.services.ingest.prepare import Prepared
from archive.services.progress import Progress, no_progress
from archive.submission.scan import printable
from archive.subprocesses import worker_pool


def _agents(ctx: ArchiveContext, person: str) -> list[Agent]:
    ident = ctx.identifier
    return [
        Agent(
            "software:archive",
            f"archive {__version__}",
            AGENT_SOFTWARE,
            f"version={__version__}; python={platform.python_version()}",
        ),
        Agent(
            f"software:{ident.tool}",
            f"{ident.tool} {ident.tool_version}",
            AGENT_SOFTWARE,
            f"version={ident.tool_version}; signatures={ident.signature_version}",
        ),
        Agent("software:bagit-python", f"bagit-python {bagit.VERSION}", AGENT_SOFTWARE, f"version={bagit.VERSION}"),
        Agent("organization", ctx.settings.organisation, AGENT_ORGANIZATION),
        Agent(f"person:{person}", person, AGENT_PERSON, "submitter"),
    ]


def _events(ctx: ArchiveContext, p: Prepared, package_id: str, person: str) -> list[Event]:
    now = utcnow()
    tool = f"software:{ctx.identifier.tool}"
    me = EventLink("software:archive", "executing program")
    who = EventLink(f"person:{person}", "implementer")
    org = EventLink("organization", "authorizer")
    paths = [f.path for f in p.files]
    events: list[Event] = []

    def ev(kind: str, detail: str, outcome: str, note: str, links: list[EventLink], objects: list[str]) -> Event:
        # one microsecond apart: the events of an ingest keep their order wherever they are sorted by time
        when = now + timedelta(microseconds=len(events))
        return Event(str(uuid.uuid4()), kind, when, detail, outcome, note, links, objects)

    events += [
        ev(
            EVENT_INGESTION,
            f"Submission {p.source_name!r} received for profile {p.profile.id}",
            OUTCOME_SUCCESS,
            f"{len(p.files)} files, {p.total_bytes} bytes",
            [me, who, org],
            [package_id],
        )
    ]
    if p.is_bag:
        events.append(
            ev(
                EVENT_FIXITY_CHECK,
                f"Submitted bag's manifests ({', '.join(p.bag_algorithms)}) checked against digests "
                "computed while copying",
                OUTCOME_SUCCESS,
                f"{len(p.files)} files verified",
                [me, who],
                paths,
            )
        )
    events.append(
        ev(
            EVENT_MESSAGE_DIGEST,
            f"{', '.join(p.profile.checksums)} computed in one pass while copying",
            OUTCOME_SUCCESS,
            "",
            [me],
            paths,
        )
    )
    warnings = p.warnings
    events.append(
        ev(
            EVENT_VALIDATION,
            f"Validated against profile {p.profile.id} version {p.profile.version}",
            OUTCOME_WARNING if warnings else OUTCOME_SUCCESS,
            "; ".join(str(w) for w in warnings)[:4000],
            [me, who],
            [package_id],
        )
    )
    # what the events of files of one format share is made once (a transfer has few formats)
    shared: dict[FormatInfo, tuple[str, str, str, list[EventLink]]] = {}
    for f in p.files:
        fmt = f.format
        if fmt is None:
            continue
        if fmt not in shared:
            note = (
                (f"{fmt.puid} {fmt.name} {fmt.version}".strip() + f" (basis: {fmt.basis})") if fmt.puid else "no match"
            )
            if fmt.warning:
                note += f"; {fmt.warning}"
            shared[fmt] = (
                f"{fmt.tool} {fmt.tool_version} with signatures {fmt.signature_version}",
                OUTCOME_SUCCESS if fmt.puid and fmt.basis != "extension" else OUTCOME_WARNING,
                note,
                [EventLink(tool, "executing program")],
            )
        detail, outcome, note, links = shared[fmt]
        events.append(ev(EVENT_FORMAT_IDENTIFICATION, detail, outcome, note, links, [f.path]))
    events.append(
        ev(
            EVENT_PACKAGE_CREATION,
            "BagIt 1.0 bag with METS 1.12.1 and PREMIS 3 created",
            OUTCOME_SUCCESS,
            f"manifests: {', '.join(p.profile.checksums)}",
            [me],
            [package_id],
        )
    )
    return events


def _bag_info(ctx: ArchiveContext, p: Prepared, package_id: str, now_date: str) -> dict[str, list[str]]:
    ours = {
        "Source-Organization": [ctx.settings.organisation],
        "Bagging-Date": [now_date],
        "Payload-Oxum": [payload_oxum(p.files)],
        "External-Identifier": [f"urn:uuid:{package_id}"],
        "External-Description": [str(p.metadata.get("title", ""))[:1000]],
        "Internal-Sender-Identifier": [p.source_name],
        "Bag-Software-Agent": [f"archive {__version__} (bagit-python {bagit.VERSION} validated)"],
        "BagIt-Profile-Identifier": [profile_identifier(p.profile)],
        "Archive-Profile-Id": [p.profile.id],
        "Archive-Profile-Version": [p.profile.version],
    }
    return merge_bag_info(ours, p.submitted_bag_info)


def package_and_mets(
    ctx: ArchiveContext,
    p: Prepared,
    package_id: str,
    person: str,
    key: str,
    bag: Path | None = None,
    progress: Progress = no_progress,
) -> tuple[Package, MetsSet]:
    """The package and its METS (schema-valid), or a rejection: the same for ingest and validate.

    Whatever the earlier checks let through but METS or bag-info cannot carry (a value, a
    name, a submitted bag-info label) is refused here as a finding (``E321``), so ``validate``
    says exactly what ``ingest`` would.
    """
    now = utcnow()
    pkg = Package(
        id=package_id,
        profile_id=p.profile.id,
        profile_version=p.profile.version,
        created=now,
        metadata=p.metadata,
        dublin_core=p.dublin_core,
        access=p.access,
        files=p.files,
        events=_events(ctx, p, package_id, person),
        agents=_agents(ctx, person),
        bag_info=_bag_info(ctx, p, package_id, now.date().isoformat()),
        source_name=p.source_name,
        idempotency_key=key,
        fixity_interval_days=p.profile.fixity_interval_days,
        submitted=p.submitted,
        version_agent=person,
    )
    # a package of several parts has them made by worker processes, a few at a time
    pool = worker_pool(ctx.settings.workers) if ctx.settings.workers > 1 and len(pkg.files) > 2 * PART_FILES else None
    try:
        tag_lines(pkg.bag_info)
        # into the bag (if given) one document at a time, hashed from the bytes written
        documents = iter_mets(pkg, progress=lambda done, total: progress("writing METS", done, total), pool=pool)
        mets = store_mets(documents, bag, p.profile.checksums)
    except PackagingError as exc:
        raise SubmissionRejected(
            f"submission {printable(p.source_name)} was rejected",
            [*p.findings.items, error("E321", "mets.xml", printable(exc.message))],
        ) from exc
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return pkg, mets

"""What the API lists and shows of packages: search pages, one package, its events and files, decided per caller.

Paging is by keyset. The keyset a page starts after comes from the caller's cursor, which is
HTTP's business (signed in :mod:`archive.api.cursors`): each function here takes a reader,
``after``, and calls it only once the caller has been authorised, so a malformed cursor on a
package the caller may not see is answered exactly as on an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from archive.access import policy
from archive.catalog import retrieval, search
from archive.catalog.records import PackageInfo, StoredFileInfo, VersionRecord
from archive.catalog.search import SearchQuery
from archive.errors import InvalidRequest
from archive.services.audit.report import last_audit
from archive.services.context import ArchiveContext
from archive.services.retrieve.packages import (
    METADATA,
    authorise,
    authorise_version,
    decide,
    search_scope,
    tightest,
    today_utc,
)
from archive.services.retrieve.usage import Caller, record_view

#: the last row of the previous search page: (created_at, id)
PackagesKey = tuple[datetime, str]


@dataclass(frozen=True)
class Filters:
    """What a search asks for, as the request gave it (``fields``: (name, exact value) pairs)."""

    text: str = ""
    profile: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    puids: tuple[str, ...] = ()
    created_from: date | None = None
    created_to: date | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass
class SearchResult:
    total: int
    query: dict[str, Any]  # the query as it was run, for the caller to see
    next_after: PackagesKey | None
    items: list[tuple[PackageInfo, policy.Decision]] = field(default_factory=list)


def check_ranges(filters: Filters) -> None:
    """A ``…_to`` day before its ``…_from`` day is a contradiction (InvalidRequest)."""
    for when_from, when_to, name in (
        (filters.created_from, filters.created_to, "created"),
        (filters.date_from, filters.date_to, "date"),
    ):
        if when_from and when_to and when_to < when_from:
            raise InvalidRequest(f"{name}_to ({when_to}) is before {name}_from ({when_from})")


def search_packages(
    ctx: ArchiveContext, caller: Caller, filters: Filters, limit: int, after: Callable[[], PackagesKey | None]
) -> SearchResult:
    """One page of the packages ``caller`` may see, each with what they may see of it.

    Visibility is a filter of the query itself (neither listed nor counted); each listed package
    is decided again, and left out should the two ever disagree.
    """
    check_ranges(filters)
    query = SearchQuery(
        text=filters.text,
        profile=filters.profile,
        fields=filters.fields,
        puids=filters.puids,
        created_from=filters.created_from,
        created_to=filters.created_to,
        date_from=filters.date_from,
        date_to=filters.date_to,
        levels=policy.metadata_levels(caller.role, ctx.settings.api_anonymous),
        visible=search_scope(ctx, caller),
        limit=limit,
        after=after(),
    )
    page = search.search(ctx.catalog, query)
    result = SearchResult(page.total, search.describe_query(query), page.next_after)
    today = today_utc()
    for p in page.items:
        decision = decide(ctx, caller, p.profile_id, p.access_level, p.embargo_until, today)
        if not decision.hidden:  # the SQL filter and the policy disagree: never show it
            result.items.append((p, decision))
    return result


@dataclass
class PackageView:
    info: PackageInfo  # as the version shown is (the head, or the version asked for)
    decision: policy.Decision
    metadata: dict[str, Any]  # "metadata", "dublin_core", "formats"
    last_audit: dict[str, Any] | None
    head: int = 1  # the head version's number


def view_package(ctx: ArchiveContext, caller: Caller, package_id: str, version: int | None = None) -> PackageView:
    """One package (its head, or ``version``) as ``caller`` may see it (NotFound if hidden); the
    view is recorded. What it reads and records goes over one catalog connection."""
    with ctx.catalog.scope():
        head, info, decision = authorise_version(ctx, caller, package_id, METADATA, version=version)
        meta = retrieval.package_metadata(ctx.catalog, package_id, version)
        record_view(ctx, caller, info)
        return PackageView(info, decision, meta, last_audit(ctx, info.id), head.version)


@dataclass
class VersionView:
    record: VersionRecord
    decision: policy.Decision  # what the caller may see of this version (hidden: its title is withheld)


def versions(ctx: ArchiveContext, caller: Caller, package_id: str) -> tuple[PackageInfo, list[VersionView]]:
    """Every version of a package ``caller`` may see (NotFound if hidden), oldest first, each with
    what the caller may see of it: the head's decision and the version's own, the tighter."""
    head, decision = authorise(ctx, caller, package_id, METADATA)
    today = today_utc()
    out = []
    for record in ctx.catalog.versions(package_id):
        own = decide(ctx, caller, head.profile_id, record.access_level, record.embargo_until, today)
        out.append(VersionView(record, tightest(decision, own)))
    return head, out


EventsKey = tuple[datetime, str]


def events_page(
    ctx: ArchiveContext,
    caller: Caller,
    package_id: str,
    after: Callable[[], EventsKey | None],
    limit: int,
    event_type: str | None,
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` events of a package ``caller`` may see, oldest first; and whether more follow."""
    authorise(ctx, caller, package_id, METADATA)
    events = retrieval.events_page(ctx.catalog, package_id, after(), limit + 1, event_type)
    return events[:limit], len(events) > limit


@dataclass
class FilesPage:
    info: PackageInfo  # as the version listed is
    decision: policy.Decision
    files: list[StoredFileInfo]
    more: bool


def files_page(
    ctx: ArchiveContext,
    caller: Caller,
    package_id: str,
    after: Callable[[Callable[[int], str | None]], str | None],
    limit: int,
    version: int | None = None,
) -> FilesPage:
    """Up to ``limit`` files of a package ``caller`` may see (of its head, or of ``version``), by
    path. ``after`` is handed the lookup from a file's key to its path."""
    info, decision = authorise(ctx, caller, package_id, METADATA, version=version)
    start = after(lambda key: retrieval.file_path(ctx.catalog, package_id, key))
    files = retrieval.files_page(ctx.catalog, package_id, start, limit + 1, version)
    return FilesPage(info, decision, files[:limit], len(files) > limit)

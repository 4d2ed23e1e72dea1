"""The retention report: every package with each of its profile's schedules, due or not.

Packages are read from the catalog a page at a time (keyset paging, as ``archive list`` and
``GET /packages`` order them: by ingest time, then id), so a report over 100,000 packages holds
one page in memory. Nothing here changes or deletes anything: the report only says what is due.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from archive.catalog import retrieval, search
from archive.catalog.records import PackageInfo
from archive.catalog.search import SearchQuery
from archive.errors import ProfileError
from archive.model import ACCESS_LEGAL_HOLD
from archive.profiles.model import Profile
from archive.services.context import ArchiveContext
from archive.services.lifecycle.retention import Due, governing, needs_metadata, package_dues

PAGE = 500
HELD = "held: disposal blocked"
NO_SCHEDULE = "no retention schedule: kept indefinitely"


@dataclass(frozen=True)
class ReportRow:
    """One schedule of one package; ``due`` is None for a package whose profile has no schedule
    (or cannot be loaded: ``note`` says so)."""

    info: PackageInfo
    due: Due | None
    governs: bool  # this schedule falls due first among the package's schedules
    held: bool
    note: str

    @property
    def due_now(self) -> bool:
        return bool(self.due and self.due.due_now)

    @property
    def uncomputed(self) -> bool:
        """The due day of this schedule (or of the package's schedules) cannot be computed."""
        if self.due is None:
            return self.note != NO_SCHEDULE
        return self.due.due is None

    def as_dict(self) -> dict[str, Any]:
        d = self.due
        return {
            "id": self.info.id,
            "title": self.info.title,
            "profile": self.info.profile_id,
            "schedule": d.schedule.name if d else None,
            "from": d.schedule.start if d else None,
            "start": d.start.isoformat() if d and d.start else None,
            "due": d.due.isoformat() if d and d.due else None,
            "action": d.action if d else None,
            "due_now": self.due_now,
            "governs": self.governs,
            "held": self.held,
            "note": self.note,
        }


def is_held(info: PackageInfo) -> bool:
    """A legal hold is on the package: its ``held`` flag (set by holds), or the access level legal-hold."""
    return bool(getattr(info, "held", False)) or info.access_level == ACCESS_LEGAL_HOLD


def packages(ctx: ArchiveContext, profile: str | None = None, page_size: int | None = None) -> Iterator[PackageInfo]:
    """Every catalogued package (of ``profile``), oldest first, read ``page_size`` (default
    :data:`PAGE`) at a time."""
    page_size = page_size or PAGE
    after = None
    while True:
        page = search.search(ctx.catalog, SearchQuery(profile=profile, limit=page_size, after=after))
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after


def report(
    ctx: ArchiveContext, today: date, *, profile: str | None = None, page_size: int | None = None
) -> Iterator[ReportRow]:
    """The rows of the report as of ``today``: one per schedule of each package (``ReportRow.due_now``:
    due on ``today`` or earlier), or one saying the package has none or its profile cannot be loaded."""
    if profile is not None:
        ctx.profiles.get(profile)  # an unknown profile is the caller's mistake: ProfileError
    loaded: dict[str, Profile | ProfileError] = {}
    for info in packages(ctx, profile, page_size):
        if info.profile_id not in loaded:
            try:
                loaded[info.profile_id] = ctx.profiles.get(info.profile_id)
            except ProfileError as exc:
                loaded[info.profile_id] = exc
        prof = loaded[info.profile_id]
        held = is_held(info)
        if isinstance(prof, ProfileError):
            yield ReportRow(info, None, False, held, f"cannot compute: profile {info.profile_id!r}: {prof.message}")
            continue
        metadata = retrieval.package_metadata(ctx.catalog, info.id)["metadata"] if needs_metadata(prof) else {}
        dues = package_dues(prof, info.created_at, metadata or {}, today)
        if not dues:
            yield ReportRow(info, None, False, held, NO_SCHEDULE)
            continue
        first = governing(dues)
        for d in dues:
            note = "; ".join(n for n in (d.note, HELD if held else "") if n)
            yield ReportRow(info, d, d is first, held, note)

"""When each retention schedule of a package falls due, and what it asks for. Pure computation.

A schedule (:class:`~archive.profiles.model.RetentionSchedule`) keeps a package for a period from
a start day: the day it was ingested (UTC), or the date in one of its date fields. The due day is
the start plus the period (:func:`add_period`); on that day and after, the schedule is due. The
archive only reports this: a review or a disposal is done by people, never by the archive.

A date field's value may be a year, a month, a day or a range (``2030``, ``2030-06``,
``2030-06-30``, ``2025/2030``); the start is the **last** day it covers, so a schedule never
falls due before any reading of the value would have it. A missing or unreadable value is not
an error: that schedule's due day "cannot be computed", and the reason says why.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from archive.catalog.search_index import date_range
from archive.profiles.model import FROM_INGEST, Period, Profile, RetentionSchedule


def add_period(start: date, keep: Period) -> date:
    """``start`` plus whole years and months (the day kept, or the month's last day when it has
    fewer days: Feb 29 plus one year is Feb 28), then days. ``OverflowError`` past year 9999."""
    months = start.month - 1 + keep.months + 12 * keep.years
    year, month = start.year + months // 12, months % 12 + 1
    if year > date.max.year:
        raise OverflowError(f"the due date would be after {date.max.isoformat()}")
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=keep.days)


@dataclass(frozen=True)
class Due:
    """One schedule of one package: when it starts, when it falls due, and whether it is due."""

    schedule: RetentionSchedule
    start: date | None  # None: cannot be computed (``note`` says why)
    due: date | None
    due_now: bool
    note: str = ""

    @property
    def action(self) -> str:
        return self.schedule.then

    @property
    def computed(self) -> bool:
        return self.due is not None


def _field_start(value: Any, field: str) -> tuple[date | None, str]:
    """The last day the value of date field ``field`` covers (the latest, for several values),
    with a note when that is not simply the value; or None and why not."""
    values = [v for v in (value if isinstance(value, list) else [value]) if v is not None and v != ""]
    if not values:
        return None, f"cannot compute: the package has no value for {field}"
    ends: list[date] = []
    exact = True
    for v in values:
        if isinstance(v, datetime):
            ends.append(v.astimezone(UTC).date() if v.tzinfo else v.date())
        elif isinstance(v, date):
            ends.append(v)
        else:
            text = str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) else ""
            found = date_range(text) if text else None
            if found is None:
                shown = str(v)[:40]
                return None, f"cannot compute: {field} is {shown!r}, not a date (YYYY, YYYY-MM, YYYY-MM-DD or A/B)"
            exact = exact and found[0] == found[1]
            ends.append(found[1])
    end = max(ends)
    if len(values) > 1:
        return end, f"{field} has {len(values)} values: the latest, {end.isoformat()}, is used"
    return end, "" if exact else f"{field} {str(values[0])!r} read as its last day, {end.isoformat()}"


def ingest_day(created_at: datetime) -> date:
    """The UTC day a package was ingested."""
    return (created_at.astimezone(UTC) if created_at.tzinfo else created_at.replace(tzinfo=UTC)).date()


def schedule_due(schedule: RetentionSchedule, created_at: datetime, metadata: Mapping[str, Any], today: date) -> Due:
    """When ``schedule`` falls due for a package ingested at ``created_at`` with descriptive
    ``metadata``, and whether it is due on ``today``."""
    if schedule.start == FROM_INGEST:
        start: date | None = ingest_day(created_at)
        note = ""
    else:
        start, note = _field_start(metadata.get(schedule.start), schedule.start)
    if start is None:
        return Due(schedule, None, None, False, note)
    try:
        due = add_period(start, schedule.keep)
    except OverflowError as exc:
        return Due(schedule, start, None, False, f"cannot compute: {exc}")
    return Due(schedule, start, due, due <= today, note)


def package_dues(profile: Profile, created_at: datetime, metadata: Mapping[str, Any], today: date) -> list[Due]:
    """Every schedule of ``profile`` for one package, in the profile's order ([] when it has none)."""
    return [schedule_due(s, created_at, metadata, today) for s in profile.retention]


def governing(dues: list[Due]) -> Due | None:
    """The schedule that falls due first (on a tie, a review before a disposal); None if none can be computed."""
    computed = [d for d in dues if d.due is not None]
    if not computed:
        return None
    return min(computed, key=lambda d: (d.due, d.action != "review"))


def needs_metadata(profile: Profile) -> bool:
    """Whether any schedule of ``profile`` starts from a metadata field (else the ingest time is enough)."""
    return any(s.start != FROM_INGEST for s in profile.retention)

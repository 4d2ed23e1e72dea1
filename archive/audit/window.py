"""A daily time window such as ``01:00-05:00`` (local time), in which scheduled audits may run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from archive.errors import ConfigError

_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class Window:
    """``start``-``end`` every day; ``end`` before ``start`` crosses midnight; ``None`` start: always open."""

    start: time | None = None
    end: time | None = None

    @property
    def always(self) -> bool:
        return self.start is None

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds until the window closes, or ``None`` when ``now`` is outside it (inf when always open)."""
        if self.start is None or self.end is None:
            return float("inf")
        opened = self.opened_at(now)
        if opened is None:
            return None
        length = _length(self.start, self.end)
        return max(0.0, (opened + length - now).total_seconds())

    def opened_at(self, now: datetime) -> datetime | None:
        """When the window containing ``now`` opened (``None`` outside it); identifies one occurrence."""
        if self.start is None or self.end is None:
            return datetime.min.replace(tzinfo=now.tzinfo)
        length = _length(self.start, self.end)
        for days_back in (0, 1):
            opened = datetime.combine(now.date() - timedelta(days=days_back), self.start, tzinfo=now.tzinfo)
            if opened <= now < opened + length:
                return opened
        return None

    def __str__(self) -> str:
        if self.start is None or self.end is None:
            return "any time"
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _length(start: time, end: time) -> timedelta:
    s = timedelta(hours=start.hour, minutes=start.minute)
    e = timedelta(hours=end.hour, minutes=end.minute)
    return e - s if e > s else e - s + timedelta(days=1)


def parse_window(text: str) -> Window:
    """``""`` (always) or ``HH:MM-HH:MM``; raises ConfigError otherwise."""
    if not text or not text.strip():
        return Window()
    m = _WINDOW.fullmatch(text)
    if not m:
        raise ConfigError(f"setting audit_window must look like 01:00-05:00, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise ConfigError(f"setting audit_window {text!r} is not a window of two different times of day")
    return Window(time(h1, m1), time(h2, m2))

"""HTTP conditional and range requests (RFC 9110 §13, §14) for one stored file.

* ``Range: bytes=a-b``, ``bytes=a-``, ``bytes=-n``: one range, answered 206. A range that
  names no byte of the file, or a ``bytes=`` value that does not parse, is answered 416
  with ``Content-Range: bytes */size``.
* Several ranges at once are ignored (the whole file, 200), as RFC 9110 allows: multipart
  answers help no client of an archive and cost a lot to produce. Other units are ignored.
* ``If-Range`` with an entity tag other than the file's: the Range is ignored.
* ``If-None-Match`` matching the file's ETag (or ``*``): 304 Not Modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.api.errors import RangeNotSatisfiable

_SPEC = re.compile(r"(\d*)-(\d*)")
MAX_HEADER = 1024


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # exclusive

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"

    def header(self) -> str:
        return f"bytes={self.start}-{self.end - 1}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a ``Range`` header asks for, None to send the whole file, or RangeNotSatisfiable."""
    if not header:
        return None
    unit, sep, spec = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if len(header) > MAX_HEADER:
        raise RangeNotSatisfiable(f"Range header is longer than {MAX_HEADER} characters", size)
    if "," in spec:
        return None
    m = _SPEC.fullmatch(spec.strip())
    if not m or not (m.group(1) or m.group(2)):
        raise RangeNotSatisfiable(
            f"Range {header.strip()[:80]!r} is not 'bytes=FIRST-LAST', 'bytes=FIRST-' or 'bytes=-SUFFIX'",
            size,
        )
    first, last = m.group(1), m.group(2)
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"Range {header.strip()[:80]!r} asks for no bytes of a {size}-byte file", size)
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    end = int(last) + 1 if last else size
    if last and end <= start:
        raise RangeNotSatisfiable(f"Range {header.strip()[:80]!r} ends before it starts", size)
    if start >= size:
        raise RangeNotSatisfiable(f"Range {header.strip()[:80]!r} starts beyond the end of a {size}-byte file", size)
    return ByteRange(start, min(end, size))


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` matches (weak comparison): answer 304."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or etag in tags


def range_allowed(if_range: str | None, etag: str) -> bool:
    """``If-Range`` (strong comparison against our ETag; dates are not validators here)."""
    if not if_range:
        return True
    value = if_range.strip()
    return not value.startswith("W/") and value == etag

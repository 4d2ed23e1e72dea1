"""Who may see what: the access matrix, in one place. Pure: no I/O, no clock, no HTTP.

Every route, search result and zip download asks :func:`decide` (or, to filter in SQL,
:func:`metadata_levels`, which is derived from the same table). ``docs/access.md`` shows the
same matrix for people; a test checks that the two agree.

::

    role \\ level    open    restricted   embargoed          confidential   legal-hold
    anonymous*      all     -            metadata, files    -              -
                                         from the date
    researcher      all     metadata     metadata, files    -              -
                                         from the date
    auditor         all     metadata     metadata, files    -              -
                                         from the date
    archivist       all     all          all                all            all
    admin           all     all          all                all            all

    * only when the setting api_anonymous is true; otherwise anonymous callers see nothing.

"-" means the package is hidden: it answers 404, exactly like a package that does not exist.
An unknown role or access level is treated as hidden (fail closed), except for archivists and
admins, who see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Mapping

from archive.model import (
    ACCESS_CONFIDENTIAL,
    ACCESS_EMBARGOED,
    ACCESS_LEGAL_HOLD,
    ACCESS_LEVELS,
    ACCESS_OPEN,
    ACCESS_RESTRICTED,
)

ANONYMOUS = "anonymous"
RESEARCHER = "researcher"
AUDITOR = "auditor"
ARCHIVIST = "archivist"
ADMIN = "admin"
#: every role, least privileged first
ROLES = (ANONYMOUS, RESEARCHER, AUDITOR, ARCHIVIST, ADMIN)
#: the roles a token may carry
TOKEN_ROLES = (RESEARCHER, ARCHIVIST, AUDITOR, ADMIN)


class Grant(Enum):
    """What one role gets from one access level."""

    NONE = "none"  # hidden: 404
    METADATA = "metadata"  # metadata, METS, events and file list; no file bytes
    EMBARGO = "embargo"  # metadata; file bytes from the embargo date on
    ALL = "all"  # metadata and file bytes


_PUBLIC = {
    ACCESS_OPEN: Grant.ALL,
    ACCESS_RESTRICTED: Grant.NONE,
    ACCESS_EMBARGOED: Grant.EMBARGO,
    ACCESS_CONFIDENTIAL: Grant.NONE,
    ACCESS_LEGAL_HOLD: Grant.NONE,
}
_READER = {**_PUBLIC, ACCESS_RESTRICTED: Grant.METADATA}
_EVERYTHING = dict.fromkeys(ACCESS_LEVELS, Grant.ALL)

#: role -> access level -> grant. The single source of the access rules.
MATRIX: Mapping[str, Mapping[str, Grant]] = {
    ANONYMOUS: _PUBLIC,
    RESEARCHER: _READER,
    AUDITOR: _READER,
    ARCHIVIST: _EVERYTHING,
    ADMIN: _EVERYTHING,
}

#: roles that see every package whatever its level (also levels a profile invents later)
SEE_ALL = frozenset({ARCHIVIST, ADMIN})
#: roles that may read audit results (GET /audits)
AUDIT_READERS = frozenset({AUDITOR, ARCHIVIST, ADMIN})
#: roles that may read usage statistics (GET /stats)
STATS_READERS = frozenset({ARCHIVIST, ADMIN})


@dataclass(frozen=True)
class Decision:
    """What a caller may see of one package."""

    metadata: bool
    files: bool
    reason: str = ""  # why files are withheld, for the caller ("" when they are not)
    files_from: date | None = None  # for an embargo: the day files become available

    @property
    def hidden(self) -> bool:
        return not self.metadata


HIDDEN = Decision(metadata=False, files=False, reason="hidden")


def grant(role: str, level: str, anonymous_allowed: bool = True) -> Grant:
    if role == ANONYMOUS and not anonymous_allowed:
        return Grant.NONE
    if role in SEE_ALL:
        return Grant.ALL
    return MATRIX.get(role, {}).get(level, Grant.NONE)


def decide(
    role: str, level: str, embargo_until: date | None, today: date, anonymous_allowed: bool = True
) -> Decision:
    """What ``role`` may see of a package at access ``level``, on ``today`` (a UTC date).

    An embargo lifts at the start of ``embargo_until``: from that day on files are served.
    An embargoed package without a date keeps its files withheld.
    """
    g = grant(role, level, anonymous_allowed)
    if g is Grant.NONE:
        return HIDDEN
    if g is Grant.ALL:
        return Decision(metadata=True, files=True)
    if g is Grant.METADATA:
        return Decision(
            metadata=True, files=False, reason=f"files of {level} packages are for archivists only"
        )
    if embargo_until is not None and today >= embargo_until:
        return Decision(metadata=True, files=True)
    when = f"until {embargo_until.isoformat()}" if embargo_until else "until a release date is set"
    return Decision(
        metadata=True, files=False, reason=f"files are embargoed {when}", files_from=embargo_until
    )


def metadata_levels(role: str, anonymous_allowed: bool = True) -> frozenset[str] | None:
    """Access levels whose metadata ``role`` may see; ``None`` means every level (no filter).

    Metadata visibility never depends on the date, so a search can filter on the level alone.
    """
    if role in SEE_ALL:
        return None
    return frozenset(
        level for level in ACCESS_LEVELS if grant(role, level, anonymous_allowed) is not Grant.NONE
    )


def may_read_audits(role: str) -> bool:
    return role in AUDIT_READERS


def may_read_stats(role: str) -> bool:
    return role in STATS_READERS

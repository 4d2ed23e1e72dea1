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

A profile may *narrow* the matrix for its own packages, never widen it: its
``access.metadata_visible_to`` names, per level, the roles that see metadata (and so file lists,
METS, events and search hits) at all. A role it leaves out gets "-" for that level, exactly as if
the matrix said so: 404 like an unknown id, and never listed or counted by a search. The bundled
``legal`` profile says ``restricted: [archivist, admin]``, so researchers and auditors see nothing
of a legal package by default. ``visible_to`` below is that mapping (level -> roles); ``None``
means the profile narrows nothing. A package whose profile the archive cannot load is hidden
from everyone but archivists and admins (:data:`HIDE_ALL`).

The levels are ordered from the loosest to the tightest (:data:`ORDER`): no role sees more of a
level than of any looser one, which is what lets a submission *tighten* its profile's access and
refuses it the other way (``archive/profiles/rules.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from itertools import pairwise

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

#: access levels from the loosest to the tightest. For every role, the grant of a level is never
#: more than the grant of a looser one (tests/test_access_policy.py checks it against MATRIX).
ORDER = (ACCESS_OPEN, ACCESS_EMBARGOED, ACCESS_RESTRICTED, ACCESS_CONFIDENTIAL, ACCESS_LEGAL_HOLD)
#: what a grant gives, least first
GRANT_ORDER = ("none", "metadata", "embargo", "all")

#: a profile's narrowing of the matrix: access level -> the roles that see metadata at that level
VisibleTo = Mapping[str, Collection[str]]
#: the narrowing of a package whose profile cannot be loaded: hidden from all but archivists and admins
HIDE_ALL: VisibleTo = dict.fromkeys(ACCESS_LEVELS, frozenset())
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


def grant(role: str, level: str, anonymous_allowed: bool = True, visible_to: VisibleTo | None = None) -> Grant:
    """What ``role`` gets of a package at ``level``; ``visible_to``: its profile's narrowing."""
    if role == ANONYMOUS and not anonymous_allowed:
        return Grant.NONE
    if role in SEE_ALL:
        return Grant.ALL
    if visible_to is not None and level in visible_to and role not in visible_to[level]:
        return Grant.NONE
    return MATRIX.get(role, {}).get(level, Grant.NONE)


def rank(level: str) -> int | None:
    """The position of ``level`` in :data:`ORDER` (0 is the loosest); ``None`` for an unknown level."""
    return ORDER.index(level) if level in ORDER else None


def sees_metadata(role: str, level: str, anonymous_allowed: bool = True, visible_to: VisibleTo | None = None) -> bool:
    return grant(role, level, anonymous_allowed, visible_to) is not Grant.NONE


def decide(
    role: str,
    level: str,
    embargo_until: date | None,
    today: date,
    anonymous_allowed: bool = True,
    visible_to: VisibleTo | None = None,
) -> Decision:
    """What ``role`` may see of a package at access ``level``, on ``today`` (a UTC date).

    ``visible_to`` is the package's profile's ``metadata_visible_to`` (``None``: no narrowing).
    An embargo lifts at the start of ``embargo_until``: from that day on files are served.
    An embargoed package without a date keeps its files withheld.
    """
    g = grant(role, level, anonymous_allowed, visible_to)
    if g is Grant.NONE:
        return HIDDEN
    if g is Grant.ALL:
        return Decision(metadata=True, files=True)
    if g is Grant.METADATA:
        return Decision(metadata=True, files=False, reason=f"files of {level} packages are for archivists only")
    if embargo_until is not None and today >= embargo_until:
        return Decision(metadata=True, files=True)
    when = f"until {embargo_until.isoformat()}" if embargo_until else "until a release date is set"
    return Decision(metadata=True, files=False, reason=f"files are embargoed {when}", files_from=embargo_until)


def metadata_levels(
    role: str, anonymous_allowed: bool = True, visible_to: VisibleTo | None = None
) -> frozenset[str] | None:
    """Access levels whose metadata ``role`` may see; ``None`` means every level (no filter).

    Metadata visibility never depends on the date, so a search can filter on the level alone.
    """
    if role in SEE_ALL:
        return None
    return frozenset(level for level in ACCESS_LEVELS if sees_metadata(role, level, anonymous_allowed, visible_to))


#: a search filter: groups of (profile ids, access levels) whose packages a role may see
Scope = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


def metadata_scope(role: str, profiles: Mapping[str, VisibleTo | None], anonymous_allowed: bool = True) -> Scope | None:
    """Which packages' metadata ``role`` may see, as a search filter; ``None``: every package.

    ``profiles`` maps every profile the archive knows to its narrowing. The answer is groups of
    ``(profile ids, access levels)``: a package is visible when its profile is in a group and its
    level among that group's levels. A package of a profile not in ``profiles`` is in no group,
    so it is hidden (fail closed), as :func:`decide` hides it with :data:`HIDE_ALL`.
    """
    if role in SEE_ALL:
        return None
    groups: dict[tuple[str, ...], list[str]] = {}
    for profile_id in sorted(profiles):
        levels = metadata_levels(role, anonymous_allowed, profiles[profile_id]) or frozenset()
        if levels:
            groups.setdefault(tuple(sorted(levels)), []).append(profile_id)
    return tuple((tuple(ids), levels) for levels, ids in sorted(groups.items()))


def check_narrowing(visible_to: VisibleTo) -> str:
    """Why ``visible_to`` is not a narrowing of the matrix, or "" when it is one.

    Every role named must be a role, and must see metadata at that level in the matrix (a profile
    narrows, it never widens); and no role may see a tighter level than one it cannot see, or a
    submission that tightens a package's level would show it to more people.
    """
    for level, roles in visible_to.items():
        if level not in ACCESS_LEVELS:
            return f"{level!r} is not an access level; use one of {', '.join(ACCESS_LEVELS)}"
        for role in roles:
            if role not in ROLES:
                return f"{level}: {role!r} is not a role; use {', '.join(ROLES)}"
            if not sees_metadata(role, level):
                return (
                    f"{level}: the access matrix never shows {role} the metadata of {level} packages; "
                    "a profile can narrow who sees metadata, not widen it (docs/access.md)"
                )
    for role in ROLES:
        for looser, tighter in pairwise(ORDER):
            if sees_metadata(role, tighter, True, visible_to) and not sees_metadata(role, looser, True, visible_to):
                return (
                    f"{role} would see {tighter} packages but not {looser} ones, which are looser; "
                    f"hide {tighter} from {role} too"
                )
    return ""


def may_read_audits(role: str) -> bool:
    return role in AUDIT_READERS


def may_read_stats(role: str) -> bool:
    return role in STATS_READERS

"""Decide a package's access from its profile and metadata: the default, the rules, and what a submitter may ask.

A submission may tighten its profile's access, never loosen it unless the profile allows it
(``access.submitter_may_loosen``), and never past a rule (a legal hold). See
docs/decisions/0007-access-is-the-archives-decision.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from archive.access import policy
from archive.errors import Finding, error, warning
from archive.model import ACCESS_EMBARGOED, ACCESS_OPEN, Access
from archive.profiles.model import Profile

#: access levels from least to most restrictive: the order of the access matrix
RESTRICTIVENESS = policy.ORDER

#: why a package has its access (AccessOutcome.basis)
BASIS_DEFAULT = "profile-default"  # the profile's access.default
BASIS_RULE = "profile-rule"  # the first of the profile's access.rules that matched (a legal hold, ...)
BASIS_TIGHTENED = "submitter-tightened"  # the submission asked for tighter access than the profile's
BASIS_LOOSENED = "submitter-loosened"  # looser, to a level the profile's submitter_may_loosen allows
BASIS_STORED = "already-stored"  # ingest found this submission stored already: the stored package's access
_NO_DATE = date.max.toordinal() + 1  # an embargo without an end is the tightest embargo


def access_key(level: str, embargo_until: date | None) -> tuple[int, int]:
    """How tight an access is, as a key: the larger the key, the tighter the access.

    Levels follow :data:`archive.access.policy.ORDER` (open < embargoed < restricted <
    confidential < legal-hold). Two embargoes compare by their end: the later one is tighter,
    and one without a date (files withheld until a date is set) is tighter than any date. The
    date does not matter at other levels. An unknown level counts as tighter than every other.
    """
    rank = policy.rank(level)
    if rank is None:
        return (len(RESTRICTIVENESS), 0)
    if level == ACCESS_EMBARGOED:
        return (rank, embargo_until.toordinal() if embargo_until else _NO_DATE)
    return (rank, 0)


def is_looser(level: str, embargo_until: date | None, than: str, than_embargo: date | None) -> bool:
    """Whether access ``level`` (until ``embargo_until``) shows more than ``than`` (until ``than_embargo``)."""
    return access_key(level, embargo_until) < access_key(than, than_embargo)


def describe_access(level: str, embargo_until: date | None) -> str:
    if level == ACCESS_EMBARGOED:
        return f"embargoed until {embargo_until.isoformat()}" if embargo_until else "embargoed without an end date"
    return level


@dataclass(frozen=True)
class AccessOutcome:
    """The access a package gets, and why: what ``archive validate`` and ``ingest`` print."""

    access: Access
    basis: str  # one of the BASIS_* values
    reason: str  # for people: which default, rule or submitted field decided
    findings: tuple[Finding, ...] = ()  # E430-E433 refusals, W430; empty when nothing is wrong

    def as_dict(self) -> dict[str, Any]:
        until = self.access.embargo_until
        return {
            "level": self.access.level,
            "embargo_until": until.isoformat() if until else None,
            "basis": self.basis,
            "reason": self.reason,
        }

    @classmethod
    def stored(cls, access: Access) -> AccessOutcome:
        """The access of a package already stored (ingest of the same submission again)."""
        return cls(access, BASIS_STORED, "the access the package already stored for this submission has")

    def line(self) -> str:
        """One line for people: ``restricted: the default of profile legal``."""
        return f"{describe_access(self.access.level, self.access.embargo_until)}: {self.reason}"


def _full_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None  # E408 says so (check_access)


def _rule_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def decide_access(profile: Profile, metadata: dict[str, Any], source: str = "metadata") -> AccessOutcome:
    """The package's access, why, and the findings of a submission that asks for looser access.

    The archive decides: the profile's ``access.default`` (with its ``embargo_until``), or the
    level of the first ``access.rules`` entry whose ``when`` matches. A submission's
    ``access_level`` / ``embargo_until`` may only **tighten** that (see :func:`access_key`).
    Looser is refused, and the profile's access kept: ``E431`` against a rule's level (a legal
    hold stays a legal hold), else ``E430`` (a looser level) or ``E432`` (an embargo that ends
    sooner), unless the level asked for is in the profile's ``submitter_may_loosen`` (never
    against a rule). ``E433``: a level the archive does not know. ``W430``: an ``embargo_until``
    on a restricted or tighter package, where it has no effect.
    """
    pa = profile.access
    statement = ""
    for key in ("rights_statement", "licence", "rights"):
        if metadata.get(key):
            statement = str(metadata[key])
            break
    level, embargo = pa.default, (pa.embargo_until if pa.default == ACCESS_EMBARGOED else None)
    basis, why = BASIS_DEFAULT, f"the default of profile {profile.id}"
    for i, rule in enumerate(pa.rules, 1):
        if all(metadata.get(k) == v for k, v in rule.when):
            level, embargo, basis = rule.level, None, BASIS_RULE
            when = " and ".join(f"{k} is {_rule_text(v)}" for k, v in rule.when)
            why = f"rule {i} of profile {profile.id} ({when})"
            break

    def outcome(lv: str, until: date | None, b: str, reason: str, *found: Finding) -> AccessOutcome:
        return AccessOutcome(Access(lv, until if lv == ACCESS_EMBARGOED else None, statement), b, reason, found)

    asked_level = metadata.get("access_level") or None
    asked_until = _full_date(metadata.get("embargo_until"))
    if asked_level is None and asked_until is None:
        return outcome(level, embargo, basis, why)
    if asked_level is not None and not isinstance(asked_level, str):
        asked_level = str(asked_level)
    field = "access_level" if asked_level else "embargo_until"
    notes: list[Finding] = []
    implied = ""
    if asked_level in (None, ACCESS_OPEN) and asked_until is not None:
        asked_level, field = ACCESS_EMBARGOED, "embargo_until"  # an embargo on an open package
        asked_text = f"embargo_until {asked_until.isoformat()}"
        implied = " (an embargo: files released on that date)"
    elif asked_level == ACCESS_EMBARGOED:
        asked_text = f"access_level embargoed until {asked_until.isoformat() if asked_until else '(no date)'}"
    else:
        asked_text = f"access_level {asked_level}"
        if asked_until is not None and asked_level in RESTRICTIVENESS:
            notes.append(
                warning(
                    "W430",
                    f"{source}: embargo_until",
                    f"embargo_until {asked_until.isoformat()} has no effect on a {asked_level} package: "
                    "its files are not released on that date (the date stays in the descriptive "
                    "metadata only)",
                )
            )
    where = f"{source}: {field}"
    current = describe_access(level, embargo)
    if asked_level not in RESTRICTIVENESS:
        return outcome(
            level,
            embargo,
            basis,
            why,
            error("E433", where, f"{asked_level!r} is not an access level; use one of {', '.join(RESTRICTIVENESS)}"),
            *notes,
        )
    asked_embargo = asked_until if asked_level == ACCESS_EMBARGOED else None
    asked_key, profile_key = access_key(asked_level, asked_embargo), access_key(level, embargo)
    if asked_key == profile_key:
        return outcome(level, embargo, basis, f"{why}; the submission asks for the same", *notes)
    if asked_key > profile_key:
        return outcome(
            asked_level,
            asked_embargo,
            BASIS_TIGHTENED,
            f"the submission's {asked_text} tightens {current}, {why}",
            *notes,
        )
    order = " < ".join(RESTRICTIVENESS)
    if basis == BASIS_RULE:
        return outcome(
            level,
            embargo,
            basis,
            why,
            error(
                "E431",
                where,
                f"{asked_text}{implied} would loosen {current}, which {why} imposes; a submission may "
                f"tighten the level a rule gives, never loosen it ({order})",
            ),
            *notes,
        )
    if asked_level in pa.submitter_may_loosen:
        return outcome(
            asked_level,
            asked_embargo,
            BASIS_LOOSENED,
            f"the submission's {asked_text} loosens {current}, {why}, which the profile allows "
            f"(submitter_may_loosen: {', '.join(pa.submitter_may_loosen)})",
            *notes,
        )
    allowed = (
        f"lets submitters loosen it to {', '.join(pa.submitter_may_loosen)} only"
        if pa.submitter_may_loosen
        else "does not let submitters loosen it (access.submitter_may_loosen)"
    )
    if asked_level == level == ACCESS_EMBARGOED:
        return outcome(
            level,
            embargo,
            basis,
            why,
            error(
                "E432",
                where,
                f"{asked_text}{implied} ends sooner than {current}, {why}; a submission may lengthen an "
                f"embargo, not shorten it, and profile {profile.id} {allowed}",
            ),
            *notes,
        )
    return outcome(
        level,
        embargo,
        basis,
        why,
        error(
            "E430",
            where,
            f"{asked_text}{implied} would loosen {current}, {why}; a submission may only tighten its "
            f"profile's access ({order}), and profile {profile.id} {allowed}",
        ),
        *notes,
    )


def resolve_access(profile: Profile, metadata: dict[str, Any]) -> Access:
    """The package's access (:func:`decide_access` without the reason): never looser than the
    profile's, unless the profile allows it."""
    return decide_access(profile, metadata).access


def check_access(metadata: dict[str, Any], source: str = "metadata", profile: Profile | None = None) -> list[Finding]:
    """Consistency of the access fields between themselves and, given the ``profile``, that
    they do not loosen the access the profile gives (:func:`decide_access`)."""
    out: list[Finding] = []
    level = metadata.get("access_level")
    until = metadata.get("embargo_until")
    if level == ACCESS_EMBARGOED and not until:
        out.append(error("E408", f"{source}: embargo_until", "access_level embargoed needs an embargo_until date"))
    if until is not None:
        try:
            date.fromisoformat(str(until))
        except ValueError:
            out.append(error("E408", f"{source}: embargo_until", f"expected a full date YYYY-MM-DD, found {until!r}"))
    if profile is not None:
        out.extend(decide_access(profile, metadata, source).findings)
    return out

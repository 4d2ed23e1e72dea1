"""The changes a package can have after ingest, each one new version made by :func:`make_version`:
corrected metadata, files added or withdrawn, a resubmission, an access decision, a legal hold."""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from archive.access.policy import ADMIN, ARCHIVIST
from archive.errors import AccessDenied, ChangeRefused, InvalidRequest, RejectedError, error
from archive.model import (
    ACCESS_EMBARGOED,
    ACCESS_LEVELS,
    EVENT_FORMAT_IDENTIFICATION,
    EVENT_MESSAGE_DIGEST,
    EVENT_METADATA_MODIFICATION,
    EVENT_MODIFICATION,
    EVENT_POLICY_ASSIGNMENT,
    LEGAL_HOLD_TAG,
    Access,
    Event,
    Package,
)
from archive.profiles.access_rules import check_access
from archive.profiles.rules import dublin_core, validate_metadata
from archive.services.context import ArchiveContext
from archive.services.ingest.prepare import Prepared, prepare
from archive.services.lifecycle.versions import Actor, Change, VersionResult, event, hold_value, make_version
from archive.submission.metadata import read_metadata_file
from archive.submission.scan import printable

#: roles that may make decisions about a package (access, holds, disposal)
DECIDERS = frozenset({ARCHIVIST, ADMIN})


def decider(actor: Actor, what: str) -> None:
    if actor.role not in DECIDERS:
        raise AccessDenied(f"{what} needs the archivist or admin role; {actor.name} acts as {actor.role}")


def reason_of(reason: str | None, what: str) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise InvalidRequest(f"{what} needs a reason (--reason TEXT): it is recorded with the decision")
    if len(text) > 2000:
        raise InvalidRequest(f"a reason is at most 2000 characters; this one has {len(text)}")
    return text


def _changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def read_amended_metadata(ctx: ArchiveContext, pkg: Package, metadata_file: Path) -> dict[str, Any]:
    """Corrected descriptive metadata, checked against the package's profile as an ingest checks it
    (every problem at once, as a :class:`RejectedError`)."""
    profile = ctx.profiles.get(pkg.profile_id)
    label = printable(str(metadata_file))
    raw, problems = read_metadata_file(Path(metadata_file), ctx.settings.max_metadata_bytes, label)
    found = list(problems)
    checked: dict[str, Any] = {}
    if raw is not None:
        checked, more = validate_metadata(profile, raw, label)
        found += more
        found += check_access(checked, label, profile)
    errors = [f for f in found if f.severity == "error"]
    if errors or raw is None:
        raise RejectedError(f"the amended metadata of package {pkg.id} was rejected", found or errors)
    return checked


def amend(ctx: ArchiveContext, package_id: str, metadata_file: Path, reason: str | None, actor: Actor) -> VersionResult:
    """Corrected descriptive metadata as a new version (the package's access is kept: access is
    changed by a decision, :func:`set_access`)."""
    why = " ".join((reason or "").split()) or "metadata corrected"

    def apply(pkg: Package, bag: Path, now: datetime) -> Change:
        metadata = read_amended_metadata(ctx, pkg, metadata_file)
        changed = _changed_fields(pkg.metadata, metadata)
        if not changed:
            raise RejectedError(
                f"the amended metadata of package {pkg.id} was rejected",
                [error("E460", printable(str(metadata_file)), "it is the metadata the package has: nothing to amend")],
            )
        pkg.metadata = metadata
        pkg.dublin_core = dublin_core(ctx.profiles.get(pkg.profile_id), metadata)
        detail = f"Descriptive metadata amended (fields: {', '.join(changed)[:1500]})"
        return Change(
            [event(EVENT_METADATA_MODIFICATION, actor, detail, why, [pkg.id], now)],
            summary=f"metadata amended: {', '.join(changed)}",
        )

    return make_version(ctx, package_id, "amend", why, actor, apply)


def _metadata_file(pkg: Package, folder: Path) -> Path:
    path = folder / "metadata.yaml"
    path.write_text(yaml.safe_dump(_plain(pkg.metadata), allow_unicode=True, sort_keys=True), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _prepare_files(ctx: ArchiveContext, pkg: Package, submission: Path, work: Path) -> Prepared:
    """Scan, validate, hash and identify the files of ``submission`` as an ingest does, against the
    package's profile (the package's metadata stands in where the submission has none)."""
    metadata = _metadata_file(pkg, work)
    return prepare(ctx, Path(submission), pkg.profile_id, metadata, work / "prepared", copy=True)


def _identification_events(p: Prepared, actor: Actor, now: datetime) -> list[Event]:
    paths = [f.path for f in p.files]
    out = [
        event(EVENT_MESSAGE_DIGEST, actor, f"{', '.join(p.profile.checksums)} computed while copying", "", paths, now)
    ]
    for f in p.files:
        fmt = f.format
        if fmt is None:
            continue
        note = (f"{fmt.puid} {fmt.name} {fmt.version}".strip() + f" (basis: {fmt.basis})") if fmt.puid else "no match"
        out.append(event(EVENT_FORMAT_IDENTIFICATION, actor, f"{fmt.tool} {fmt.tool_version}", note, [f.path], now))
    return out


def add_files(
    ctx: ArchiveContext, package_id: str, submission: Path, reason: str | None, actor: Actor
) -> VersionResult:
    """Files added as a new version: each checked, hashed and identified as at ingest; a path the
    package has already is refused (withdraw it first)."""
    why = " ".join((reason or "").split()) or "files added"

    def apply(pkg: Package, bag: Path, now: datetime) -> Change:
        with tempfile.TemporaryDirectory(dir=bag.parent, prefix="add-") as tmp:
            p = _prepare_files(ctx, pkg, submission, Path(tmp))
            have = {f.path for f in pkg.files}
            clash = sorted(f.path for f in p.files if f.path in have)
            if clash:
                raise RejectedError(
                    f"files for package {pkg.id} were rejected",
                    [
                        error("E461", printable(c), "the package has this file already: withdraw it first")
                        for c in clash
                    ],
                )
            assert p.copied_to is not None
            for f in p.files:
                target = bag / f.bag_path
                target.parent.mkdir(parents=True, exist_ok=True)
                (p.copied_to / f.bag_path).rename(target)
        pkg.files = sorted([*pkg.files, *p.files], key=lambda f: f.path)
        events = [
            event(
                EVENT_MODIFICATION, actor, f"{len(p.files)} file(s) added from {p.source_name!r}", why, [pkg.id], now
            ),
            *_identification_events(p, actor, now),
        ]
        return Change(events, {f.bag_path for f in p.files}, f"{len(p.files)} file(s) added")

    return make_version(ctx, package_id, "add", why, actor, apply)


def withdraw_files(
    ctx: ArchiveContext, package_id: str, paths: list[str], reason: str | None, actor: Actor
) -> VersionResult:
    """Files withdrawn from the current version (earlier versions keep them until a disposal)."""
    why = reason_of(reason, "withdrawing files")
    if not paths:
        raise InvalidRequest("name at least one file to withdraw (its path in the package, without data/)")

    def apply(pkg: Package, bag: Path, now: datetime) -> Change:
        wanted = {p.removeprefix("data/") for p in paths}
        have = {f.path for f in pkg.files}
        unknown = sorted(wanted - have)
        if unknown:
            raise RejectedError(
                f"withdrawing files of package {pkg.id} was refused",
                [error("E462", printable(u), "the package's current version has no such file") for u in unknown],
            )
        if wanted == have:
            raise RejectedError(
                f"withdrawing files of package {pkg.id} was refused",
                [error("E463", "", "a version keeps at least one file; to remove a whole package, dispose of it")],
            )
        pkg.files = [f for f in pkg.files if f.path not in wanted]
        detail = f"{len(wanted)} file(s) withdrawn from the current version: {', '.join(sorted(wanted))[:1500]}"
        return Change([event(EVENT_MODIFICATION, actor, detail, why, [pkg.id, *sorted(wanted)], now)], set(), detail)

    return make_version(ctx, package_id, "withdraw", why, actor, apply)


def set_access(
    ctx: ArchiveContext,
    package_id: str,
    level: str,
    reason: str | None,
    actor: Actor,
    embargo_until: date | None = None,
    statement: str | None = None,
) -> VersionResult:
    """An access decision: who, when and why, as a PREMIS policy assignment in a new version."""
    decider(actor, "an access decision")
    why = reason_of(reason, "an access decision")
    if level not in ACCESS_LEVELS:
        raise InvalidRequest(f"access level {level!r} is not one of {', '.join(ACCESS_LEVELS)}")
    if (level == ACCESS_EMBARGOED) != (embargo_until is not None):
        raise InvalidRequest("an embargoed level needs --embargo-until DATE, and only it takes one")

    def apply(pkg: Package, bag: Path, now: datetime) -> Change:
        old = pkg.access
        new = Access(level, embargo_until, old.statement if statement is None else statement)
        if new == old:
            raise ChangeRefused(f"package {pkg.id} has that access already ({level})")
        pkg.access = new
        until = f" until {embargo_until.isoformat()}" if embargo_until else ""
        detail = f"Access set to {level}{until} (was {old.level})"
        return Change([event(EVENT_POLICY_ASSIGNMENT, actor, detail, why, [pkg.id], now)], set(), detail)

    return make_version(ctx, package_id, "access", why, actor, apply)


def place_hold(ctx: ArchiveContext, package_id: str, reason: str | None, actor: Actor) -> VersionResult:
    """A legal hold: from now on nothing about the package may change and it may not be disposed of."""
    decider(actor, "a legal hold")
    why = reason_of(reason, "a legal hold")

    def apply(pkg: Package, bag: Path, now: datetime) -> Change:
        if pkg.held:
            raise ChangeRefused(f"package {pkg.id} is under a legal hold already: {pkg.bag_info[LEGAL_HOLD_TAG][0]}")
        pkg.bag_info = {**pkg.bag_info, LEGAL_HOLD_TAG: [hold_value(actor, why, now)]}
        detail = "Legal hold placed: no change and no disposal until it is released"
        return Change([event(EVENT_POLICY_ASSIGNMENT, actor, detail, why, [pkg.id], now)], set(), "legal hold placed")

    return make_version(ctx, package_id, "hold", why, actor, apply)


def release_hold(ctx: ArchiveContext, package_id: str, reason: str | None, actor: Actor) -> VersionResult:
    decider(actor, "releasing a legal hold")
    why = reason_of(reason, "releasing a legal hold")

    def apply(pkg: Package, bag: Path, now: datetime) -> Change:
        if not pkg.held:
            raise ChangeRefused(f"package {pkg.id} is not under a legal hold")
        was = pkg.bag_info[LEGAL_HOLD_TAG][0]
        pkg.bag_info = {k: v for k, v in pkg.bag_info.items() if k != LEGAL_HOLD_TAG}
        detail = f"Legal hold released (it was {was})"[:2000]
        return Change([event(EVENT_POLICY_ASSIGNMENT, actor, detail, why, [pkg.id], now)], set(), "legal hold released")

    return make_version(ctx, package_id, "release", why, actor, apply)


def resubmit(ctx: ArchiveContext, package_id: str, p: Prepared, actor: Actor) -> VersionResult:
    """A submission ingested again under the same key, with changed content or metadata: the new
    version holds exactly what it brings (files, metadata, what it kept beside its payload); files
    whose content is unchanged are carried, not stored again. The package's access stays what its
    decisions made it."""
    assert p.copied_to is not None
    source = p.copied_to

    def apply(pkg: Package, bag: Path, now: datetime) -> Change:
        old = {f.path: f for f in pkg.files}
        new = {f.path: f for f in p.files}
        changed = sorted(path for path in new if path in old and old[path].digests != new[path].digests)
        added = sorted(set(new) - set(old))
        removed = sorted(set(old) - set(new))
        staged = set()
        for path in [*changed, *added]:
            rel = new[path].bag_path
            (bag / rel).parent.mkdir(parents=True, exist_ok=True)
            (source / rel).rename(bag / rel)
            staged.add(rel)
        submitted = {}
        for f in p.submitted:
            (bag / f.bag_path).parent.mkdir(parents=True, exist_ok=True)
            (source / f.bag_path).rename(bag / f.bag_path)
            submitted[f.bag_path] = dict(f.digests)
        fields = _changed_fields(pkg.metadata, p.metadata)
        pkg.files = sorted(p.files, key=lambda f: f.path)
        pkg.metadata = p.metadata
        pkg.dublin_core = p.dublin_core
        pkg.submitted = list(p.submitted)
        summary = f"resubmitted: {len(changed)} file(s) changed, {len(added)} added, {len(removed)} removed" + (
            f"; metadata fields changed: {', '.join(fields)}" if fields else ""
        )
        fresh = [f for f in p.files if f.path in set(changed) | set(added)]
        events = [
            event(
                EVENT_MODIFICATION,
                actor,
                f"Submission {p.source_name!r} ingested again under its key",
                summary[:2000],
                [pkg.id],
                now,
            ),
        ]
        if fresh:
            events += _identification_events(Prepared(**{**p.__dict__, "files": fresh}), actor, now)
        if fields:
            detail = f"Descriptive metadata replaced by the resubmission's (fields: {', '.join(fields)[:1500]})"
            events.append(event(EVENT_METADATA_MODIFICATION, actor, detail, "", [pkg.id], now))
        return Change(events, staged, summary, submitted)

    return make_version(ctx, package_id, "resubmit", f"resubmission of {p.source_name}"[:500], actor, apply)

"""Retrieve: authorise a caller for a package, then find what may be served, and only that.

Every route, search and download passes through :func:`authorise`, which asks the one access
policy (:mod:`archive.access.policy`) with the package's profile's narrowing of it
(``access.metadata_visible_to``; a profile the archive cannot load hides its packages from all
but archivists and admins). A hidden package raises the same :class:`NotFound` as a package that
does not exist; a search filters with :func:`search_scope`, built from the same narrowings. A
file is served only if the catalog lists it; its location is built from the catalog's path,
never from the request, and the stored file must still be the one the catalog describes (see
:mod:`archive.services.retrieve.verified`).

Every read can name a version of the package (``version``; None is the head). A caller gets a
version only if the head's decision *and* the one the version's own access level gives allow it
(:func:`tightest`): an access tightened later covers the versions before it, and a version that
was tighter than the head stays as tight. Its files are the catalog's rows for that version,
served from where that version of the OCFL object stores them, and checked against those rows.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from archive.access import policy
from archive.catalog import retrieval
from archive.catalog.records import PackageInfo
from archive.errors import AccessDenied, ConfigError, FixityError, Gone, InvalidRequest, NotFound, ProfileError
from archive.ids import check_package_id
from archive.packaging.mets.parts import METS_NAME, PART_FOLDER, is_part_name
from archive.services.context import ArchiveContext
from archive.services.retrieve.usage import Caller, incident
from archive.services.retrieve.verified import Signature, VerifiedFiles, hash_whole, pick, signature
from archive.storage.local import package_relpath

MAX_PATH = 4096
METADATA, FILES = "metadata", "files"
#: a version number longer than this many digits is past any package's last version
_VERSION_DIGITS = 18

DEFAULT_MIME = "application/octet-stream"


@dataclass(frozen=True)
class Servable:
    """A stored file the caller may receive, checked against the catalog just now."""

    package: PackageInfo
    name: str  # as the caller names it: path under data/, or a tag file name
    bag_path: str  # path inside the bag
    location: Path  # absolute path in primary storage
    relpath: str  # path relative to the storage root (for X-Accel-Redirect)
    size: int
    digests: dict[str, str]
    mime: str
    signature: Signature
    trusted: bool  # verified with this same signature within the TTL


def today_utc() -> date:
    return datetime.now(UTC).date()


def profile_visibility(ctx: ArchiveContext, profile_id: str) -> policy.VisibleTo | None:
    """The narrowing of the access matrix that profile ``profile_id`` gives its packages now.

    ``None``: it narrows nothing. A profile that cannot be loaded (unknown, removed, broken)
    gives :data:`~archive.access.policy.HIDE_ALL`: its packages are hidden from all but
    archivists and admins until it can be read again (fail closed).
    """
    try:
        return ctx.profiles.get(profile_id).access.visible_to()
    except (ProfileError, ConfigError):
        return policy.HIDE_ALL


def search_scope(ctx: ArchiveContext, caller: Caller) -> policy.Scope | None:
    """The packages whose metadata ``caller`` may see, as a search filter (None: all of them)."""
    if caller.role in policy.SEE_ALL:
        return None
    known = {}
    for name in ctx.profiles.names():
        visible_to = profile_visibility(ctx, name)
        if visible_to is not policy.HIDE_ALL:
            known[name] = visible_to
    return policy.metadata_scope(caller.role, known, ctx.settings.api_anonymous)


def decide(
    ctx: ArchiveContext,
    caller: Caller,
    profile_id: str,
    level: str,
    embargo_until: date | None,
    today: date | None = None,
) -> policy.Decision:
    """What ``caller`` may see of a package of ``profile_id`` at ``level``: the one policy, with the
    profile's narrowing."""
    return policy.decide(
        caller.role,
        level,
        embargo_until,
        today or today_utc(),
        ctx.settings.api_anonymous,
        profile_visibility(ctx, profile_id),
    )


def gone_if_disposed(ctx: ArchiveContext, caller: Caller, package_id: str, today: date | None = None) -> None:
    """Raise Gone (410, with the tombstone's public part) if the package was disposed of and the
    caller could have seen its metadata; a disposed package it could not see stays unknown (404)."""
    tomb = ctx.catalog.tombstone(package_id)
    if tomb is None:
        return
    if decide(ctx, caller, tomb.profile_id, tomb.access_level, None, today).hidden:
        return
    when = f"{tomb.disposed_at:%Y-%m-%d}"
    raise Gone(f"package {package_id} was disposed of on {when}: {tomb.reason}", tomb.public())


def tightest(head: policy.Decision, version: policy.Decision) -> policy.Decision:
    """What a caller may see of a version: what both the head's decision and the version's own
    allow. Files withheld by either stay withheld; of two embargoes the later date counts, and an
    embargo with no date (or a level whose files are never served) wins over any date."""
    if head.hidden or version.hidden:
        return policy.HIDDEN
    if head.files and version.files:
        return head
    withheld = [d for d in (head, version) if not d.files]
    undated = [d for d in withheld if d.files_from is None]
    if undated:
        return undated[0]
    return max(withheld, key=lambda d: d.files_from or date.min)


def version_number(text: str | None) -> int | None:
    """``?version=N`` as a number: None when absent; InvalidRequest unless N is a positive decimal
    integer. A number too long to be any version is kept as one past every package's last."""
    if text is None:
        return None
    digits = text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise InvalidRequest(f"version must be a positive whole number (1 is the first version), not {text[:40]!r}")
    significant = digits.lstrip("0")
    if not significant:
        raise InvalidRequest("version must be a positive whole number: versions are numbered from 1")
    return int(significant) if len(significant) <= _VERSION_DIGITS else 10**_VERSION_DIGITS


def authorise(
    ctx: ArchiveContext,
    caller: Caller,
    package_id: str,
    need: str = METADATA,
    today: date | None = None,
    version: int | None = None,
) -> tuple[PackageInfo, policy.Decision]:
    """The package (as its head is, or as ``version`` was) and what ``caller`` may see of it.

    Raises NotFound if the package is hidden (exactly as for an unknown id), NotFound naming the
    version if it has no such version or the version's own access level hides it from the
    caller, AccessDenied if ``need`` is files and they are withheld by the head's decision or by
    the version's.
    """
    _, info, decision = authorise_version(ctx, caller, package_id, need, today, version)
    return info, decision


def authorise_version(
    ctx: ArchiveContext,
    caller: Caller,
    package_id: str,
    need: str = METADATA,
    today: date | None = None,
    version: int | None = None,
) -> tuple[PackageInfo, PackageInfo, policy.Decision]:
    """:func:`authorise`, also handing back the head: ``(head, the version asked for, decision)``."""
    check_package_id(package_id)
    # visibility is decided inside the query: a hidden package is read exactly as an unknown id is
    # (same statement, no row), so neither its answer nor its timing tells that it exists
    levels = policy.metadata_levels(caller.role, ctx.settings.api_anonymous)
    try:
        head = retrieval.package_info(ctx.catalog, package_id, levels=levels, visible=search_scope(ctx, caller))
    except NotFound:
        gone_if_disposed(ctx, caller, package_id, today)  # hidden and unknown ids both ask, alike
        raise
    today = today or today_utc()
    decision = decide(ctx, caller, head.profile_id, head.access_level, head.embargo_until, today)
    if decision.hidden:
        raise NotFound(f"no package {package_id}")  # the very message an unknown id gets
    info = head
    if version is not None:
        if version > head.version:
            raise NotFound(f"package {package_id} has no version {version}: its versions are 1 to {head.version}")
        info = retrieval.package_info(ctx.catalog, package_id, version=version)
        own = decide(ctx, caller, info.profile_id, info.access_level, info.embargo_until, today)
        decision = tightest(decision, own)
        if decision.hidden:
            raise NotFound(
                f"version {version} of package {package_id} is not available to the role {caller.role} "
                f"(its access level was {info.access_level})"
            )
    if need == FILES and not decision.files:
        at = "" if version is None else f" version {version}"
        raise AccessDenied(f"package {package_id}{at}: {decision.reason}")
    return head, info, decision


def check_path(path: str) -> str:
    """A payload path as the catalog spells it (NFC, '/'-separated), or InvalidRequest."""
    if len(path) > MAX_PATH:
        raise InvalidRequest(f"file path is {len(path)} characters long; at most {MAX_PATH} are accepted")
    if "\x00" in path:
        raise InvalidRequest("file path contains a NUL character")
    # a backslash is an ordinary character of a POSIX name (the scanner accepts it): only an exact
    # catalogued path is ever served, from the location the catalog records, so it is looked up as is
    segments = path.split("/")
    if any(seg in ("", ".", "..") for seg in segments):
        raise InvalidRequest("file path has an empty, '.' or '..' segment; name a file the package lists")
    return unicodedata.normalize("NFC", path)


def _stat_checked(
    ctx: ArchiveContext, caller: Caller, info: PackageInfo, bag_path: str, location: Path, size: int | None
) -> os.stat_result:
    """lstat the stored file; a missing, odd or wrongly sized file is an incident, never served."""
    try:
        st = os.lstat(location)
    except FileNotFoundError as exc:
        incident(ctx, caller, info.id, bag_path, "missing", f"{location} does not exist")
        raise FixityError(f"stored file {bag_path} of package {info.id} is missing; the incident was recorded") from exc
    except OSError as exc:
        incident(ctx, caller, info.id, bag_path, "unreadable", f"{location}: {exc.strerror}")
        raise FixityError(
            f"stored file {bag_path} of package {info.id} cannot be read; the incident was recorded"
        ) from exc
    if not stat.S_ISREG(st.st_mode):
        incident(ctx, caller, info.id, bag_path, "not-regular", f"{location} is not a regular file")
        raise FixityError(
            f"stored file {bag_path} of package {info.id} is not a regular file; the incident was recorded"
        )
    if size is not None and st.st_size != size:
        incident(ctx, caller, info.id, bag_path, "size-mismatch", f"catalog size {size}, stored size {st.st_size}")
        raise FixityError(
            f"stored file {bag_path} of package {info.id} has {st.st_size} bytes where the catalog "
            f"records {size}; the incident was recorded and the file is not served"
        )
    return st


def _servable(
    ctx: ArchiveContext,
    verified: VerifiedFiles,
    caller: Caller,
    info: PackageInfo,
    name: str,
    bag_path: str,
    size: int | None,
    digests: dict[str, str],
    mime: str,
) -> Servable:
    stored = ctx.storage.version(info.id, info.version).stored(bag_path)
    relpath = f"{package_relpath(info.id)}/{stored}"
    location = ctx.storage.root / relpath
    st = _stat_checked(ctx, caller, info, bag_path, location, size)
    sig = signature(st)
    return Servable(
        info,
        name,
        bag_path,
        location,
        relpath,
        st.st_size,
        digests,
        mime or DEFAULT_MIME,
        sig,
        verified.trusted(location, sig),
    )


def open_file(
    ctx: ArchiveContext,
    verified: VerifiedFiles,
    caller: Caller,
    package_id: str,
    path: str,
    version: int | None = None,
) -> Servable:
    """A payload file of the head (or of ``version``) the caller may download."""
    info, _ = authorise(ctx, caller, package_id, FILES, version=version)
    f = retrieval.stored_file(ctx.catalog, package_id, check_path(path), version)
    return _servable(ctx, verified, caller, info, f.path, f"data/{f.path}", f.size, f.digests, f.mime)


def open_mets(
    ctx: ArchiveContext,
    verified: VerifiedFiles,
    caller: Caller,
    package_id: str,
    version: int | None = None,
    part: str | None = None,
) -> Servable:
    """The METS document of the head (or of ``version``), or one of its parts (``files-<hex>.xml``)."""
    info, _ = authorise(ctx, caller, package_id, METADATA, version=version)
    if part is None:
        digests = dict(info.tag_digests.get(METS_NAME) or {"sha256": info.mets_sha256})
        return _servable(ctx, verified, caller, info, METS_NAME, METS_NAME, None, digests, "application/xml")
    name = f"{PART_FOLDER}/{part}"
    if not is_part_name(name) or name not in info.tag_digests:
        raise NotFound(f"package {package_id} has no METS part {part[:100]!r}")
    return _servable(ctx, verified, caller, info, part, name, None, dict(info.tag_digests[name]), "application/xml")


def package_entries(
    ctx: ArchiveContext, verified: VerifiedFiles, caller: Caller, package_id: str, version: int | None = None
) -> tuple[PackageInfo, list[Servable]]:
    """Every file of the bag the catalog knows (tag files, then payload by path), for a zip download
    of the head (or of ``version``: that version's complete bag).

    Tag files are checked now (a few small stats); payload files keep the catalog's sizes and
    are checked when the zip reaches them, so the download starts at once at any package size.
    """
    info, _ = authorise(ctx, caller, package_id, FILES, version=version)
    entries = [
        _servable(ctx, verified, caller, info, name, name, None, digests, "text/plain")
        for name, digests in sorted(info.tag_digests.items())
    ]
    after: str | None = None
    relbase = package_relpath(info.id)
    stored = ctx.storage.version(info.id, info.version)
    while True:
        page = retrieval.files_page(ctx.catalog, package_id, after, 5000, version)
        for f in page:
            relpath = f"{relbase}/{stored.stored('data/' + f.path)}"
            entries.append(
                Servable(
                    info,
                    f.path,
                    f"data/{f.path}",
                    ctx.storage.root / relpath,
                    relpath,
                    f.size,
                    f.digests,
                    f.mime or DEFAULT_MIME,
                    Signature(),
                    False,
                )
            )
        if len(page) < 5000:
            return info, entries
        after = page[-1].path


def check_entry(ctx: ArchiveContext, verified: VerifiedFiles, caller: Caller, entry: Servable) -> Servable:
    """A zip entry checked against storage just before it is sent (size, type; trusted or not)."""
    st = _stat_checked(ctx, caller, entry.package, entry.bag_path, entry.location, entry.size)
    sig = signature(st)
    return Servable(
        entry.package,
        entry.name,
        entry.bag_path,
        entry.location,
        entry.relpath,
        entry.size,
        entry.digests,
        entry.mime,
        sig,
        verified.trusted(entry.location, sig),
    )


def digest_mismatch(
    ctx: ArchiveContext,
    verified: VerifiedFiles,
    caller: Caller,
    entry: Servable,
    algorithm: str,
    expected: str,
    found: str,
) -> FixityError:
    """Record that ``entry``'s bytes do not match the catalog; the error to raise (or abort with)."""
    verified.forget(entry.location)
    number = incident(
        ctx,
        caller,
        entry.package.id,
        entry.bag_path,
        "digest-mismatch",
        f"{algorithm} expected {expected}, found {found}",
    )
    return FixityError(
        f"stored file {entry.bag_path} of package {entry.package.id} does not match the catalog's "
        f"{algorithm} digest; incident {number} was recorded and the file is not served"
    )


def verify_now(ctx: ArchiveContext, verified: VerifiedFiles, caller: Caller, entry: Servable) -> None:
    """Hash the whole stored file before serving any of it (blocking: call from a worker thread)."""
    algorithm, expected = pick(entry.digests)
    try:
        found, st = hash_whole(entry.location, algorithm)
    except OSError as exc:
        incident(ctx, caller, entry.package.id, entry.bag_path, "unreadable", f"{entry.location}: {exc.strerror}")
        raise FixityError(
            f"stored file {entry.bag_path} of package {entry.package.id} cannot be read; the incident was recorded"
        ) from exc
    if found != expected:
        raise digest_mismatch(ctx, verified, caller, entry, algorithm, expected, found)
    verified.mark(entry.location, signature(st))

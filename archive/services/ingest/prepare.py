"""The first half of an ingest: read a submission, check it against its profile, hash and
identify every file. Collects every finding before anything is accepted; writes only into the
work folder it is given (a staging copy) or nowhere at all (pre-flight validation). Findings
leave here with their paths and messages made printable: a submitted name can carry terminal
escapes or bytes that are not UTF-8, and findings are printed, logged and stored in PREMIS.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.batches import batched, ordered_map, small_alone
from archive.errors import ArchiveError, Finding, FindingList, SubmissionRejected, error
from archive.fixity import copy_and_hash
from archive.fixity.hashing import hash_stream
from archive.model import SUBMISSION_FOLDER, Access, FileRecord, SubmittedFile
from archive.packaging.bag.check import BagContents, BagReport, validate_bag
from archive.packaging.bag.paths import decode_path
from archive.profiles.access_rules import AccessOutcome, check_access, decide_access
from archive.profiles.model import Profile
from archive.profiles.rules import check_format, dublin_core, validate_metadata
from archive.services.context import ArchiveContext
from archive.services.progress import ByteMeter, Progress, no_progress
from archive.submission.extract import Limits, extract_archive, is_archive_file
from archive.submission.metadata import read_files_csv, read_metadata_file
from archive.submission.safeopen import UnsafeFile
from archive.submission.scan import FILES_CSV, METADATA_NAMES, Scan, ScannedFile, printable, scan_folder

#: files hashed per task of the hashing pool (small files: fewer hand-offs between threads)
HASH_BATCH = 16
#: ... and at most about this many bytes (a big file is a task of its own, so big files hash in parallel)
HASH_BATCH_BYTES = 1 << 20
#: a copied file of at least this many bytes starts going to the disk as soon as it is copied
SYNC_EARLY_BYTES = 16 << 20
#: progress is told after about this many files
PROGRESS_EVERY = 50


@dataclass
class Prepared:
    profile: Profile
    source_name: str
    metadata: dict[str, Any]
    dublin_core: dict[str, list[str]]
    #: the access decision with its reason (what validate and ingest print)
    access_outcome: AccessOutcome
    files: list[FileRecord]
    findings: FindingList
    is_bag: bool = False
    submitted_bag_info: dict[str, list[str]] = field(default_factory=dict)
    #: what the submission brought beside its payload, copied to ``<bag>/submission/``
    submitted: list[SubmittedFile] = field(default_factory=list)
    bag_algorithms: list[str] = field(default_factory=list)
    copied_to: Path | None = None

    @property
    def access(self) -> Access:
        return self.access_outcome.access

    @property
    def warnings(self) -> list[Finding]:
        return self.findings.warnings

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def _printable(found: FindingList) -> FindingList:
    return FindingList([Finding(f.code, f.severity, printable(f.path), printable(f.message)) for f in found.items])


def _rejected(submission: str, found: FindingList) -> SubmissionRejected:
    return SubmissionRejected(f"submission {printable(submission)} was rejected", _printable(found).items)


def _open_submission(ctx: ArchiveContext, path: Path, work: Path, found: FindingList) -> Path | None:
    """The folder to scan: the submission itself, or its archive unpacked into ``work``."""
    if not path.exists() and not path.is_symlink():
        found.error("E101", str(path), "submission does not exist")
        return None
    if path.is_symlink():
        found.error("E137", str(path), "submission is a symbolic link; give the real path")
        return None
    if path.is_dir():
        return path
    if is_archive_file(path):
        dest = work / "extracted"
        dest.mkdir(parents=True)
        limits = Limits(
            max_bytes=ctx.settings.max_expanded_bytes,
            max_files=ctx.settings.max_files,
            max_expansion_ratio=ctx.settings.max_expansion_ratio,
            max_depth=ctx.settings.max_depth,
            max_path_bytes=ctx.settings.max_path_bytes,
        )
        problems = extract_archive(path, dest, limits)
        found.extend(problems)
        if any(p.is_error for p in problems):
            return None
        children = list(dest.iterdir())
        if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
            return children[0]
        return dest
    found.error("E102", str(path), "a submission is a folder, a BagIt bag, a .zip, a .7z, a .tar, a .tar.gz or a .tgz")
    return None


def _read_metadata(
    ctx: ArchiveContext, scan: Scan, metadata_file: Path | None, profile: Profile, found: FindingList
) -> dict[str, Any]:
    limit = ctx.settings.max_metadata_bytes
    source = metadata_file or scan.metadata_file
    if source is None:
        if any(f.path in METADATA_NAMES for f in found.errors):
            return {}  # there is one, refused already (a link, a FIFO): no second finding
        found.error(
            "E400",
            "metadata.yaml",
            "no descriptive metadata: add metadata.yaml or metadata.json at the "
            "submission root, or pass --metadata FILE",
        )
        return {}
    label = str(metadata_file) if metadata_file else source.name
    raw, problems = read_metadata_file(source, limit, label)
    found.extend(problems)
    if raw is None:
        return {}
    checked, problems = validate_metadata(profile, raw, label)
    found.extend(problems)
    found.extend(check_access(checked, label, profile))  # E43x: a submission may only tighten access
    return checked


class _Changed(Exception):
    """The file changed while it was read (size, modification or change time moved)."""


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _read_once(
    f: ScannedFile, algorithms: list[str], target: Path | None, on_bytes: Callable[[int], None] | None = None
) -> tuple[int, dict[str, str]]:
    """Hash (and copy to ``target``) one submitted file, refusing it if it changes meanwhile.

    Opened through the one way in (:meth:`ScannedFile.open`: no link followed, never blocking,
    the very file that was listed). Its size, modification time, change time and inode are
    taken from the open descriptor before the first byte is read and again after the last: an
    overwrite in place, even one keeping the size and resetting the modification time, moves
    the change time, so a torn copy (half old, half new bytes) is never stored as the file.
    """
    with f.open() as src:
        before = os.fstat(src.fileno())
        if before.st_size != f.size:
            raise _Changed(f"changed since it was listed ({f.size} bytes listed, {before.st_size} now)")
        if target is None:
            size, digests = hash_stream(src, algorithms, on_bytes=on_bytes)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            size, digests = copy_and_hash(src, target, algorithms, fsync=False, on_bytes=on_bytes)
        after = os.fstat(src.fileno())
    if _stamp(after) != _stamp(before) or size != before.st_size:
        raise _Changed(
            f"changed while being read ({before.st_size} bytes when opened, {size} read, "
            f"{after.st_size} after; modification or change time moved)"
        )
    return size, digests


def _sync_quietly(path: Path) -> None:
    """Ask the disk to take ``path`` now; storing the package syncs everything anyway."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_finding(f: ScannedFile, exc: Exception) -> Finding:
    """The finding for a file that could not be read whole and unchanged."""
    if isinstance(exc, _Changed):
        return error(
            "E141",
            f.path,
            f"{exc}; the archive stores a file only as one whole version: submit it again once nothing writes to it",
        )
    if isinstance(exc, UnsafeFile):
        return exc.as_finding(label=f.path)
    if isinstance(exc, OSError):
        return error("E139", f.path, f"cannot read: {exc.strerror or exc}")
    return error("E139", f.path, f"cannot read: {getattr(exc, 'message', exc)}")


def _hash_files(
    files: list[ScannedFile],
    algorithms: list[str],
    dest: Path | None,
    workers: int,
    progress: Progress,
    found: FindingList,
) -> Iterator[tuple[ScannedFile, int, dict[str, str]]]:
    """Each file of ``files`` that could be read whole and unchanged, with its size and digests,
    in order, as the pool hashes (and with ``dest``, copies) them; the others are ``found``."""
    meter = ByteMeter(progress, "hashing", sum(f.size for f in files))

    syncer = ThreadPoolExecutor(1, thread_name_prefix="sync") if dest is not None else None

    def one(f: ScannedFile) -> tuple[ScannedFile, int, dict[str, str]] | None:
        target = None if dest is None else dest / f.path
        try:
            size, digests = _read_once(f, algorithms, target, meter.add)
        except (_Changed, OSError, ArchiveError) as exc:  # one unreadable file must not hide the others
            found.extend([_read_finding(f, exc)])
            return None
        if syncer is not None and target is not None and size >= SYNC_EARLY_BYTES:
            syncer.submit(_sync_quietly, target)  # while the next files are hashed, not all at commit
        return f, size, digests

    def each(batch: list[ScannedFile]) -> list[tuple[ScannedFile, int, dict[str, str]] | None]:
        return [one(f) for f in batch]

    some = small_alone(each, lambda f: f.size)

    done, total = 0, len(files)
    workers = max(1, workers)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # a few files per task and a few tasks ahead per thread: neither a future per file nor all at once
            for batch in ordered_map(
                pool, some, batched(files, HASH_BATCH, lambda f: f.size, HASH_BATCH_BYTES), 4 * workers
            ):
                done += len(batch)
                if done % PROGRESS_EVERY < len(batch) or done == total:
                    progress("hashing", done, total)
                yield from (item for item in batch if item is not None)
    finally:
        if syncer is not None:
            syncer.shutdown(wait=False)  # what it has not synced yet, the package's store syncs
    meter.finish()


def _beside_payload(scan: Scan) -> list[ScannedFile]:
    """What the submission holds outside its payload: a bag's tag files and tag folders (its
    metadata.yaml included), or a folder's metadata.yaml/.json and metadata/files.csv."""
    if scan.is_bag:
        return list(scan.tag_files)
    kept = []
    for source, rel in ((scan.metadata_file, None), (scan.files_csv, FILES_CSV)):
        if source is not None:
            rel = rel or source.name
            st = source.lstat()
            kept.append(
                ScannedFile(
                    path=rel, source=source, size=st.st_size, original_name=rel, identity=(st.st_dev, st.st_ino)
                )
            )
    return kept


def _keep_submitted(
    files: list[ScannedFile], algorithms: list[str], dest: Path | None, found: FindingList
) -> list[SubmittedFile]:
    """Read (and with ``dest``, copy) every file beside the payload, as carefully as the payload:
    nothing a submission brings is dropped without a word (docs/aip.md, ``submission/``)."""
    kept: list[SubmittedFile] = []
    for f in sorted(files, key=lambda f: f.path):
        try:
            size, digests = _read_once(f, algorithms, None if dest is None else dest / f.path)
        except (_Changed, OSError, ArchiveError) as exc:
            found.extend([_read_finding(f, exc)])
            continue
        kept.append(SubmittedFile(path=f.path, size=size, digests=digests))
    return kept


def _open_bag(report: BagReport, found: FindingList) -> BagContents:
    """The submitted bag's tags and manifest entries as ``validate_bag`` read them: once, through
    the one way in (bagit-python does not read the submitted bag a second time)."""
    return report.contents


def _bag_info(bag: Any) -> dict[str, list[str]]:
    return {k: (list(v) if isinstance(v, list) else [v]) for k, v in bag.info.items()}


def _check_against_bag(bag: Any, records: list[FileRecord], found: FindingList) -> list[str]:
    """Compare digests computed while copying with the submitted bag's manifests (no second read)."""
    ours = {f"data/{r.path}": r.digests for r in records}
    for raw_path, expected in bag.payload_entries().items():
        path = decode_path(raw_path.replace("\\", "/"))
        mine = ours.get(path) or ours.get(unicodedata.normalize("NFC", path))
        if mine is None:
            continue  # completeness was already judged by validate_bag
        for algo, value in expected.items():
            if algo in mine and mine[algo] != value.lower():
                found.error(
                    "E151", path, f"{algo} differs from the submitted manifest: expected {value}, read {mine[algo]}"
                )
    return list(bag.algorithms)


def prepare(
    ctx: ArchiveContext,
    submission: Path,
    profile_name: str,
    metadata_file: Path | None,
    work: Path,
    copy: bool,
    progress: Progress = no_progress,
) -> Prepared:
    """Scan, validate, hash and identify a submission; raise SubmissionRejected with every problem."""
    profile = ctx.profiles.get(profile_name)
    found = FindingList()
    submission = Path(submission)
    root = _open_submission(ctx, submission, work, found)
    if root is None:
        raise _rejected(str(submission), found)
    scan = scan_folder(
        root, ctx.settings.max_files, max_depth=ctx.settings.max_depth, max_path_bytes=ctx.settings.max_path_bytes
    )
    found.extend(scan.findings.items)
    metadata = _read_metadata(ctx, scan, metadata_file, profile, found)
    algorithms = list(profile.checksums)
    submitted_info: dict[str, list[str]] = {}
    submitted_bag = None
    if scan.is_bag:
        report = validate_bag(
            root,
            fast=True,
            max_tag_bytes=ctx.settings.max_metadata_bytes,
            max_depth=ctx.settings.max_depth,
            max_files=ctx.settings.max_files,
        )
        for f in report.findings:
            found.extend([Finding(f.code, f.severity, f"bag: {f.path}" if f.path else "bag", f.message)])
        if report.valid:
            submitted_bag = _open_bag(report, found)
            submitted_info = _bag_info(submitted_bag) if submitted_bag is not None else {}
            for algo in report.algorithms:
                if algo not in algorithms and algo in ("md5", "sha1", "sha256", "sha512"):
                    algorithms.append(algo)  # computed in the same pass, to verify the submitter's digests

    per_file: dict[str, dict[str, Any]] = {}
    if scan.files_csv is not None:
        payload_paths = {f.path for f in scan.files}
        per_file, problems = read_files_csv(scan.files_csv, ctx.settings.max_metadata_bytes, profile, payload_paths)
        del payload_paths
        found.extend(problems)
    if found.errors and any(f.code in ("E124", "E125") for f in found.errors):
        raise _rejected(submission.name, found)

    # Copy only when nothing is wrong yet; otherwise read in place, to still report everything at once.
    dest = work / "bag" / "data" if (copy and not found.errors) else None
    if dest is not None:
        dest.mkdir(parents=True)
    records: list[FileRecord] = []
    base = str(dest) if dest is not None else None
    listed = len(scan.files)

    def hashed() -> Iterator[tuple[str, str | None]]:
        """Each file's record kept as it is hashed, and where its bytes are read for identification:
        the identifier works on earlier files while later ones are hashed."""
        for sf, size, digests in _hash_files(scan.files, algorithms, dest, ctx.settings.workers, progress, found):
            records.append(
                FileRecord(
                    path=sf.path,
                    size=size,
                    digests=digests,
                    original_name=sf.original_name,
                    metadata=per_file.get(sf.path, {}),
                )
            )
            yield (os.path.join(base, sf.path) if base is not None else str(sf.source)), digests.get("sha256")
        scan.files.clear()  # the records hold what is still needed of each listed file

    progress("identifying", 0, listed)
    try:
        formats = ctx.identifier.identify_many(hashed(), lambda done, _: progress("identifying", done, listed), listed)
    finally:
        ctx.identifier.close()  # worker processes, if a big transfer started them: their memory back now
    progress("identifying", len(records), len(records))
    bag_algorithms: list[str] = []
    if submitted_bag is not None and not any(f.code.startswith("E3") or f.code == "E150" for f in found.errors):
        bag_algorithms = _check_against_bag(submitted_bag, records, found)
    for r, fmt in zip(records, formats, strict=False):
        r.format = fmt
        problem = check_format(profile, r.path, fmt)
        if problem:
            found.extend([problem])
    keep = list(profile.checksums)
    for r in records:  # profile digests only are kept; extra ones served verification
        if list(r.digests) != keep:
            r.digests = {a: r.digests[a] for a in keep}
    submitted = _keep_submitted(
        _beside_payload(scan),
        list(profile.checksums),
        dest.parent / SUBMISSION_FOLDER if dest is not None else None,
        found,
    )

    prepared = Prepared(
        profile=profile,
        source_name=submission.name,
        metadata=metadata,
        dublin_core=dublin_core(profile, metadata),
        access_outcome=decide_access(profile, metadata),
        files=records,
        findings=_printable(found),
        is_bag=scan.is_bag,
        submitted_bag_info=submitted_info,
        bag_algorithms=bag_algorithms,
        submitted=submitted,
        copied_to=dest.parent if dest is not None else None,
    )
    if found.errors:
        raise _rejected(submission.name, found)
    return prepared

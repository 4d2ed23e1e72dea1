"""bagit-python's own validation of a bag's payload, its messages made findings that name files, never content."""

from __future__ import annotations

import os
import re
from pathlib import Path

import bagit

from archive.errors import FindingList
from archive.fixity.hashing import SUPPORTED_ALGORITHMS, hash_stream
from archive.packaging.bag.codes import CODES
from archive.submission.safeopen import UnsafeFile, open_regular, printable

#: bagit-python message fragment -> code; first match wins
_BAGIT_MESSAGES = [
    ("unsafe", "E307"),
    ("multiple times", "E311"),
    ("invalid tag", "E315"),
    ("data directory|no manifest files|to contain", "E313"),
    ("fetch.txt", "E308"),
    ("payload-oxum", "E309"),
    ("bagit.txt|bag version|encoding", "E302"),
]
#: codes where bagit-python's first-failure message repeats what our own checks already listed
_PRECHECKED = frozenset({"E302", "E307", "E308", "E309", "E311", "E315"})
#: bagit-python messages that hold nothing read from a file (numbers and fixed words only)
_SAFE_MESSAGES = re.compile(
    r"Payload-Oxum validation failed\. Expected \d+ files and \d+ bytes but found \d+ "
    r"files and \d+ bytes|Expected data directory .* does not exist|No manifest "
    r"files found|Fast validation requires bag-info\.txt to include Payload-Oxum"
)


def run_bagit(root: Path, fast: bool, found: FindingList) -> None:
    """bagit-python's validation of the payload; where it stops at a first failure, finish the rest."""
    before = {f.code for f in found.errors}

    def add(exc: BaseException) -> None:
        if not isinstance(exc, bagit.BagError):  # bagit-python crashed on malformed input
            if before:
                return  # ... that our own checks already rejected
            found.error(
                "E303",
                "",
                f"cannot read the bag: {exc.strerror}"
                if isinstance(exc, OSError) and exc.strerror
                else f"bagit-python failed on this bag ({type(exc).__name__})",
            )
            return
        message = _relative(str(exc), root)
        code = next((c for pat, c in _BAGIT_MESSAGES if re.search(pat, message, re.IGNORECASE)), "E303")
        if not (code in _PRECHECKED and code in before):
            found.error(code, "", message if _SAFE_MESSAGES.fullmatch(message) else f"bagit-python: {CODES[code]}")

    try:
        bag = bagit.Bag(str(root))
    except (bagit.BagError, OSError, ValueError, LookupError, TypeError, RecursionError) as exc:
        add(exc)  # the bag cannot even be opened: nothing more to check with bagit-python
        return
    complete = False
    try:
        bag.validate(processes=1, completeness_only=fast)
        return
    except bagit.BagValidationError as exc:
        if not exc.details:
            add(exc)
        for detail in exc.details:
            complete |= isinstance(detail, (bagit.FileMissing, bagit.UnexpectedFile))
            _add_detail(detail, found, root)
        if exc.details and not complete:
            return  # checksum mismatches come last: bagit-python ran every check
    except (bagit.BagError, OSError, ValueError, LookupError, TypeError, RecursionError) as exc:
        add(exc)
    try:  # bagit-python stopped early (structure, fetch.txt, Payload-Oxum or completeness)
        if not complete:
            missing, extra = bag.compare_manifests_with_fs()
            for detail in [bagit.FileMissing(r) for r in sorted(missing)] + [
                bagit.UnexpectedFile(r) for r in sorted(extra)
            ]:
                _add_detail(detail, found, root)
        if not fast:
            _fixity(root, bag.payload_entries(), found)
    except (bagit.BagError, OSError, ValueError, RecursionError) as exc:
        add(exc)


def _relative(message: str, root: Path) -> str:
    return message.replace(f"{root}{os.sep}", "").replace(str(root), "<bag>")


def _add_detail(detail: bagit.ManifestErrorDetail, found: FindingList, root: Path) -> None:
    rel = Path(str(detail.path)).as_posix()
    if not rel.startswith("data/"):
        return  # a tag file: verified by _check_tag_manifests
    shown = printable(rel)
    if isinstance(detail, bagit.ChecksumMismatch):
        if re.fullmatch(r"[0-9a-f]+", str(detail.found)):
            found.error(
                "E304",
                shown,
                f"{detail.algorithm} checksum mismatch: manifest expects {detail.expected}, file has {detail.found}",
            )
        else:
            found.error(
                "E304",
                shown,
                f"cannot verify the {detail.algorithm} checksum: " + printable(_relative(str(detail.found), root)),
            )
    elif isinstance(detail, bagit.FileMissing):
        found.error("E305", shown, "listed in a manifest but missing from the bag")
    else:  # bagit.UnexpectedFile, the only other ManifestErrorDetail
        found.error("E306", shown, "in the payload but not listed in any manifest")


def _fixity(root: Path, entries: dict[str, dict[str, str]], found: FindingList) -> None:
    """Verify the checksums bagit-python skipped because it stopped at an earlier failure."""
    for rel, hashes in sorted(entries.items()):
        full = root / rel
        algorithms = [a for a in hashes if a in SUPPORTED_ALGORITHMS]
        if not algorithms or not full.is_file():
            continue  # a missing file was reported by the completeness check
        try:
            with open_regular(full, rel) as stream:
                digests = hash_stream(stream, algorithms)[1]
        except UnsafeFile as exc:
            digests = dict.fromkeys(algorithms, exc.reason)
        for alg in algorithms:
            if hashes[alg].lower() != digests[alg]:
                _add_detail(bagit.ChecksumMismatch(rel, alg, hashes[alg].lower(), digests[alg]), found, root)

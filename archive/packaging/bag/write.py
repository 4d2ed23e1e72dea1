"""Write a BagIt 1.0 bag's tag files from digests computed while the payload was copied.

The payload is already in ``<bag>/data/`` and every file's digests are known, so nothing is
hashed twice here: manifests are written from those digests, then the tag files are hashed
(they are small) for the tag manifests. bagit-python's full validation is the independent
check afterwards (see docs/decisions/0001-bag-writing.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from archive.errors import PackagingError
from archive.faults import fault_point, register
from archive.fixity import hash_file
from archive.model import FileRecord
from archive.packaging.bag.paths import decode_path, encode_path, manifest_path_problem  # noqa: F401 (re-exported)

register("bag.manifests-written")

BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
#: bag-info tags that describe one bag; a submitted bag's values are kept under "Submitted-…"
RESERVED_TAGS = ("Bagging-Date", "Payload-Oxum", "Bag-Size", "Bag-Count", "Bag-Group-Identifier")


def tag_lines(tags: dict[str, list[str]]) -> str:
    """bag-info.txt's text for ``tags``; PackagingError for a label no tag file can carry."""
    lines = []
    for label, values in tags.items():
        if not label or ":" in label or label != label.strip() or any(c in label for c in "\r\n"):
            raise PackagingError(f"bag-info label {label!r} is not valid")
        for value in values:
            value = str(value).replace("\r\n", "\n").replace("\r", "\n")
            first, *rest = value.split("\n")
            lines.append(f"{label}: {first}")
            lines.extend(f"  {r}" for r in rest)  # RFC 8493 §2.2.2: continuation lines are indented
    return "\n".join(lines) + "\n"


def merge_bag_info(ours: dict[str, list[str]], submitted: dict[str, list[str]]) -> dict[str, list[str]]:
    """Our tags first, then the submitter's (kept; reserved ones renamed Submitted-…)."""
    merged = {k: list(v) for k, v in ours.items()}
    for label, values in submitted.items():
        key = f"Submitted-{label}" if label in RESERVED_TAGS or label in ours else label
        merged.setdefault(key, []).extend(values)
    return merged


def _write(path: Path, text: str | Iterable[str]) -> None:
    """A new tag file from its text, or from its lines as they are made (a manifest of a million
    files is never one string)."""
    with open(path, "x", encoding="utf-8", newline="\n") as fh:
        if isinstance(text, str):
            fh.write(text)
        else:
            fh.writelines(text)


def write_tag_files(
    bag: Path,
    files: Iterable[FileRecord],
    algorithms: Iterable[str],
    bag_info: dict[str, list[str]],
    extra_tag_files: Iterable[str] = (),
    known: Mapping[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Write bagit.txt, bag-info.txt, payload manifests and tag manifests; return tag-file digests.

    ``extra_tag_files`` are tag files already written into the bag (e.g. ``mets.xml``); they
    are covered by the tag manifests. ``known`` gives digests already computed while such a
    file was copied (a submitted bag's tag files): they are not hashed again.
    """
    algorithms = list(algorithms)
    ordered = sorted(files, key=lambda f: f.path)
    try:
        _write(bag / "bagit.txt", BAGIT_TXT)
        _write(bag / "bag-info.txt", tag_lines(bag_info))
        for algo in algorithms:
            _write(bag / f"manifest-{algo}.txt", (f"{f.digests[algo]}  {encode_path(f.bag_path)}\n" for f in ordered))
        fault_point("bag.manifests-written")
        tag_names = ["bagit.txt", "bag-info.txt", *[f"manifest-{a}.txt" for a in algorithms], *extra_tag_files]
        tag_digests: dict[str, dict[str, str]] = {}
        for name in tag_names:
            given = (known or {}).get(name, {})
            tag_digests[name] = (
                {a: given[a] for a in algorithms}
                if all(a in given for a in algorithms)
                else hash_file(bag / name, algorithms)[1]
            )
        for algo in algorithms:
            lines = [f"{tag_digests[n][algo]}  {encode_path(n)}\n" for n in sorted(tag_names)]
            _write(bag / f"tagmanifest-{algo}.txt", "".join(lines))
        for algo in algorithms:
            name = f"tagmanifest-{algo}.txt"
            tag_digests[name] = hash_file(bag / name, algorithms)[1]
    except OSError as exc:
        raise PackagingError(f"cannot write the tag files of {bag}: {exc.strerror}") from exc
    return tag_digests


def payload_oxum(files: Iterable[FileRecord]) -> str:
    files = list(files)
    return f"{sum(f.size for f in files)}.{len(files)}"

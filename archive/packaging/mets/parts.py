"""How a package's METS is divided into documents: ``mets.xml`` and, for a big package, parts.

A package of at most :data:`PART_FILES` files is described by ``mets.xml`` alone. A bigger one
keeps in ``mets.xml`` what describes the package as a whole (descriptive metadata, the package
object, rights, bag-info, agents, the events about the package or about files of several parts)
and describes its files in parts under ``mets/``, one METS document per chunk of files, each
pointed to by an ``mptr`` of ``mets.xml``'s structMap (decision 0010).

Chunks are cut where the files' own paths say (content-defined: after a file whose path hashes
to 0 modulo the target size, and at four times the target at the latest), so adding or
withdrawing files changes only the chunks around them; a part's bytes depend only on its files
and their events, so a version that leaves them alone carries the part unchanged: an amendment
stores ``mets.xml``, not a description of every file again.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from archive.fixity.hashing import MultiHasher
from archive.packaging.mets.validate import assert_valid_streaming

__all__ = [
    "METS_NAME",
    "PART_FILES",
    "PART_FOLDER",
    "PART_TYPE",
    "MetsSet",
    "chunk_files",
    "is_part_name",
    "part_name",
    "store_mets",
]

METS_NAME = "mets.xml"
#: the tag folder holding the parts
PART_FOLDER = "mets"
#: the mets:mets TYPE of a part (the root's is "AIP")
PART_TYPE = "AIP part"
#: about how many files one part describes, and the most a package described by mets.xml alone has
PART_FILES = 1000
_PART_NAME = re.compile(rf"{PART_FOLDER}/files-[0-9a-f]{{16}}\.xml")


def chunk_files(paths: Sequence[str], target: int = PART_FILES) -> list[range]:
    """Consecutive chunks of ``paths`` (as index ranges) of about ``target`` files, at most 4x."""
    if target < 1:
        raise ValueError("target must be at least 1")
    chunks: list[range] = []
    start = 0
    for i, path in enumerate(paths):
        if zlib.crc32(path.encode("utf-8", "surrogatepass")) % target == 0 or i + 1 - start >= 4 * target:
            chunks.append(range(start, i + 1))
            start = i + 1
    if start < len(paths):
        chunks.append(range(start, len(paths)))
    return chunks


def part_name(first_path: str) -> str:
    """The bag path of the part whose first file is ``first_path``: stable while that file stays first."""
    digest = hashlib.sha256(first_path.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{PART_FOLDER}/files-{digest}.xml"


def is_part_name(name: str) -> bool:
    """Whether ``name`` is a bag path :func:`part_name` can give (what a root may point to)."""
    return _PART_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class MetsSet:
    """A package's METS as the documents stored in its bag: ``mets.xml`` and its parts (their
    bytes, or only their names once :func:`store_mets` has written them into a bag)."""

    root: bytes
    parts: tuple[tuple[str, bytes], ...] = ()
    stored: tuple[str, ...] = ()  # parts already written into a bag, kept by name only
    carried: tuple[str, ...] = ()  # parts not made again: the version before's, unchanged
    #: bag path -> digests of each document :func:`store_mets` wrote, computed from its bytes
    digests: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: Iterable[tuple[str, bytes]]) -> MetsSet:
        """Every document in memory, ``mets.xml`` first (as ``write.iter_mets`` gives them)."""
        (_, root), *rest = documents
        return cls(root, tuple(rest))

    def items(self) -> list[tuple[str, bytes]]:
        """(bag path, bytes) of every document held in memory, ``mets.xml`` first."""
        return [(METS_NAME, self.root), *self.parts]

    @property
    def names(self) -> list[str]:
        """The bag path of every document, ``mets.xml`` first."""
        return [METS_NAME, *(name for name, _ in self.parts), *self.stored]

    @property
    def all_names(self) -> list[str]:
        """Every document of the version, carried parts too."""
        return [*self.names, *self.carried]


def store_mets(
    documents: Iterable[tuple[str, bytes | None]], bag: Path | None, algorithms: Iterable[str] = ()
) -> MetsSet:
    """Validate each document as it comes and write it into ``bag`` (None: validate only), so
    one part at a time is in memory; returns ``mets.xml``'s bytes, every part's name (a part
    given as None is carried: neither validated again nor written) and, per document written,
    its ``algorithms`` digests from the bytes in hand (the tag manifests need not read it back).

    A document is validated and written on a thread of its own while the next one is made (lxml
    parses and validates without holding the interpreter), at most one at a time and in order.
    Raises PackagingError for the first invalid document, before anything after it is written."""
    algorithms = list(algorithms)
    root = b""
    names: list[str] = []
    carried: list[str] = []
    digests: dict[str, dict[str, str]] = {}

    def store(name: str, body: bytes) -> None:
        nonlocal root
        assert_valid_streaming(body, name)
        if bag is not None:
            target = bag / name
            target.parent.mkdir(exist_ok=True)
            with open(target, "xb") as fh:
                fh.write(body)
            if algorithms:
                hasher = MultiHasher(algorithms)
                hasher.update(body)
                digests[name] = hasher.hexdigests()
        if name == METS_NAME:
            root = body
        else:
            names.append(name)

    with ThreadPoolExecutor(1, thread_name_prefix="mets") as pool:
        pending: Future[None] | None = None
        for name, body in documents:
            if body is None:
                carried.append(name)
                continue
            if pending is not None:
                pending.result()  # the one before is stored (or its error raised) first
            pending = pool.submit(store, name, body)
        if pending is not None:
            pending.result()
    return MetsSet(root, (), tuple(names), tuple(carried), digests)

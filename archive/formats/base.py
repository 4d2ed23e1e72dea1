"""What every identification engine provides, and helpers shared by the engines."""

from __future__ import annotations

import os
from typing import Protocol

from archive.errors import FormatError
from archive.model import FormatInfo

ENGINE_FIDO = "fido"
ENGINE_SIEGFRIED = "siegfried"
ENGINES = (ENGINE_FIDO, ENGINE_SIEGFRIED)

BASIS_SIGNATURE = "signature"
BASIS_CONTAINER = "container"
BASIS_EXTENSION = "extension"
BASIS_NONE = "none"
#: what an identification rests on: the file's bytes (signature, container) or not (extension, none)
BASES = (BASIS_SIGNATURE, BASIS_CONTAINER, BASIS_EXTENSION, BASIS_NONE)
BY_CONTENT = frozenset({BASIS_SIGNATURE, BASIS_CONTAINER})

#: warning an engine adds when its PUID comes from the file name alone (basis "extension")
GUESSED = "guessed from the extension only"
#: warning an engine adds for a 0-byte file (no PUID, basis "none": there are no bytes to identify)
EMPTY_FILE = "empty file"

#: fallback Content-Type for content whose format (or its MIME type) is unknown
OCTET_STREAM = "application/octet-stream"

_ALSO = "also matched: "


class Engine(Protocol):
    """One loaded identification tool. ``identify`` raises FormatError when it cannot run."""

    name: str
    tool_version: str
    signature_version: str

    def identify(self, path: str) -> FormatInfo: ...


class BatchEngine(Engine, Protocol):
    """An engine that parallelises a batch itself; errors come back in place of results."""

    def identify_batch(self, paths: list[str], workers: int = 1) -> list[FormatInfo | FormatError]: ...


def extension_of(path: str) -> str:
    """Lower-case extension without the dot ('' if none)."""
    return os.path.splitext(os.path.basename(path))[1].lower().lstrip(".")


def is_pronom(puid: str) -> bool:
    return puid.startswith(("fmt/", "x-fmt/"))


def join_warnings(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def also_warning(others: list[str]) -> str:
    """The warning naming the other formats that matched (see :func:`also_matched`)."""
    return _ALSO + ", ".join(others) if others else ""


def warnings_of(info: FormatInfo) -> list[str]:
    """The parts of ``info.warning`` (engines join them with "; ")."""
    return [w for w in info.warning.split("; ") if w]


def by_content(info: FormatInfo) -> bool:
    """True when ``info`` names a PUID the file's bytes were matched to (signature or container),
    not a guess from its name. Only these count as identified for a profile's format policy."""
    return bool(info.puid) and info.basis in BY_CONTENT


def guessed(info: FormatInfo) -> bool:
    """True when ``info``'s PUID was guessed from the file's extension alone."""
    return bool(info.puid) and info.basis == BASIS_EXTENSION


def is_empty(info: FormatInfo) -> bool:
    """True when the engine found a 0-byte file (see :data:`EMPTY_FILE`)."""
    return EMPTY_FILE in warnings_of(info)


def describe(info: FormatInfo | None) -> str:
    """How a person reads an identification: ``fmt/18 Acrobat PDF 1.4 - Portable Document Format``,
    ``fmt/42 JPEG File Interchange Format (guessed from the extension only)``, ``unidentified (empty file)``."""
    if info is None:
        return "not identified"
    if not info.puid:
        return "unidentified (empty file)" if is_empty(info) else "unidentified"
    label = f"{info.puid} {info.name}".strip()
    return f"{label} ({GUESSED})" if guessed(info) else label


def also_matched(info: FormatInfo) -> list[str]:
    """The other PUIDs an engine matched besides ``info.puid`` (from ``info.warning``)."""
    for part in info.warning.split("; "):
        if part.startswith(_ALSO):
            return [p for p in part[len(_ALSO) :].split(", ") if p]
    return []

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


def also_matched(info: FormatInfo) -> list[str]:
    """The other PUIDs an engine matched besides ``info.puid`` (from ``info.warning``)."""
    for part in info.warning.split("; "):
        if part.startswith(_ALSO):
            return [p for p in part[len(_ALSO):].split(", ") if p]
    return []

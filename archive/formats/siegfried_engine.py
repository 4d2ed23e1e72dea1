"""siegfried through pygfried (optional: ``pip install 'archive-preservation[siegfried]'``)."""

from __future__ import annotations

import re
import threading
from typing import Any

from archive.errors import FormatError
from archive.formats.base import (
    BASIS_CONTAINER,
    BASIS_EXTENSION,
    BASIS_NONE,
    BASIS_SIGNATURE,
    EMPTY_FILE,
    ENGINE_SIEGFRIED,
    GUESSED,
    join_warnings,
)
from archive.model import FormatInfo

_EMPTY = "empty source"
#: siegfried's own warning for an extension-only match (replaced by ours, :data:`GUESSED`)
_EXTENSION_ONLY = "match on extension only"


def _load() -> Any:
    try:
        import pygfried
    except ImportError as exc:
        raise FormatError(
            "siegfried needs pygfried: pip install 'archive-preservation[siegfried]' "
            "(in a checkout: pip install -e '.[siegfried]')"
        ) from exc
    return pygfried


class SiegfriedEngine:
    """One pygfried Scanner (siegfried's embedded default.sig; pygfried is thread-safe)."""

    name = ENGINE_SIEGFRIED

    def __init__(self, signature: str | None = None) -> None:
        """``signature``: a siegfried signature file (made with ``roy``); None: the embedded default.sig."""
        pygfried = _load()
        try:
            self._scanner = pygfried.Scanner(signature=signature) if signature else pygfried.Scanner()
            header = self._scanner.identify_many([])  # the signature details, no files
        except Exception as exc:
            raise FormatError(f"cannot load siegfried signatures: {exc}") from exc
        self.tool_version: str = header.get("siegfried") or pygfried.version()
        self.signature_version = _signature_version(header)

    def identify(self, path: str) -> FormatInfo:
        try:
            result = self._scanner.identify(path, True)
        except OSError as exc:  # pygfried.GoError is an OSError
            raise FormatError(f"cannot read {path}: {exc}") from exc
        files = result.get("files") or []
        if not files:
            raise FormatError(f"siegfried reported nothing for {path}")
        return self._to_info(path, files[0])

    def identify_batch(self, paths: list[str], workers: int = 1) -> list[FormatInfo | FormatError]:
        """Identify many files with siegfried's own (Go) concurrency; errors are returned."""
        if not paths:
            return []
        try:
            result = self._scanner.identify_many(paths, workers=max(1, workers))
        except OSError as exc:
            raise FormatError(f"siegfried failed: {exc}") from exc
        files = result.get("files", [])
        if len(files) != len(paths):
            raise FormatError(f"siegfried answered for {len(files)} of {len(paths)} files")
        out: list[FormatInfo | FormatError] = []
        for path, entry in zip(paths, files, strict=False):
            try:
                out.append(self._to_info(path, entry))
            except FormatError as exc:
                out.append(exc)
        return out

    def _to_info(self, path: str, entry: dict[str, Any]) -> FormatInfo:
        errors = entry.get("errors") or ""
        match = next((m for m in entry.get("matches") or [] if m.get("ns") == "pronom"), None)
        if match is None and errors:  # siegfried could not read the file at all
            raise FormatError(f"cannot read {path}: {errors}")
        # an error beside a match is a damaged container or an empty file: keep it as a warning
        if errors == _EMPTY:  # siegfried may still name it after its extension: no bytes, no format
            return self._info(None, BASIS_NONE, EMPTY_FILE, {})
        match = match or {}
        if match.get("id") in (None, "", "UNKNOWN"):
            return self._info(None, BASIS_NONE, join_warnings(match.get("warning", ""), errors), {})
        basis = _basis(match.get("basis", ""))
        theirs = match.get("warning", "")
        if basis == BASIS_EXTENSION:
            theirs = join_warnings(GUESSED, "" if theirs == _EXTENSION_ONLY else theirs)
        return self._info(match["id"], basis, join_warnings(theirs, errors), match)

    def _info(self, puid: str | None, basis: str, warning: str, match: dict[str, Any]) -> FormatInfo:
        return FormatInfo(
            puid=puid,
            name=match.get("format", ""),
            version=match.get("version", ""),
            mime=match.get("mime", ""),
            basis=basis,
            tool=self.name,
            tool_version=self.tool_version,
            signature_version=self.signature_version,
            warning=warning,
        )


#: words of siegfried's basis text that say the file's bytes were matched (its byte, container,
#: XML, RIFF and text matchers); anything else ("extension match pdf", a declared MIME type) is a guess
_CONTENT_MATCHES = ("byte match", "xml match", "text match", "riff match")


def _basis(text: str) -> str:
    """Map siegfried's basis text ("extension match pdf; byte match at ...") to ours.

    Only a matcher that read the bytes makes a signature or container basis; a basis text naming
    none of them (an extension match alone, or nothing) is an extension guess, never a signature.
    """
    if "container" in text:
        return BASIS_CONTAINER
    if any(k in text for k in _CONTENT_MATCHES):
        return BASIS_SIGNATURE
    return BASIS_EXTENSION


def _signature_version(header: dict[str, Any]) -> str:
    """'PRONOM v125; container-signature-20260119.xml' from the scan header."""
    for ident in header.get("identifiers", []):
        if ident.get("name") == "pronom":
            details = str(ident.get("details", ""))
            files = [d.strip() for d in details.split(";") if d.strip()]
            found = re.search(r"DROID_SignatureFile_V(\d+)", details, re.IGNORECASE)
            containers = [f for f in files if "container" in f.lower()]
            if found:
                return "; ".join([f"PRONOM v{found.group(1)}", *containers])
            return details
    return str(header.get("signature", ""))


_engines: dict[str, SiegfriedEngine] = {}
_engine_lock = threading.Lock()


def get_engine(signature: str | None = None) -> SiegfriedEngine:
    """This process's shared SiegfriedEngine for ``signature`` (None: embedded), loaded on first use."""
    with _engine_lock:
        key = signature or ""
        if key not in _engines:
            _engines[key] = SiegfriedEngine(signature)
        return _engines[key]

"""opf-fido, run in-process: signatures load once per process, results come back as FormatInfo."""

from __future__ import annotations

import threading
from typing import Any

from archive.errors import FormatError
from archive.formats.base import (
    BASIS_CONTAINER,
    BASIS_EXTENSION,
    BASIS_NONE,
    BASIS_SIGNATURE,
    ENGINE_FIDO,
    also_warning,
    extension_of,
    is_pronom,
    join_warnings,
)
from archive.model import FormatInfo

_BASIS = {"signature": BASIS_SIGNATURE, "container": BASIS_CONTAINER, "extension": BASIS_EXTENSION}


class FidoEngine:
    """One loaded fido. Thread-safe (calls are serialised: fido keeps per-file state)."""

    name = ENGINE_FIDO

    def __init__(self, conf_dir: str | None = None) -> None:
        try:
            import fido
            from fido.versions import get_local_versions

            from archive.formats.fido_core import QuietFido

            conf = conf_dir or fido.CONFIG_DIR
            versions = get_local_versions(conf)
            files = [versions.pronom_signature, versions.fido_extension_signature]
            self._fido = QuietFido(self._capture, conf, files, versions.pronom_container_signature)
        except (Exception, SystemExit) as exc:  # fido sys.exit()s on a broken signature file
            detail = "a signature file does not parse" if isinstance(exc, SystemExit) else repr(exc)
            raise FormatError(f"cannot load fido signatures ({conf_dir or 'fido conf'}): {detail}") from exc
        self.tool_version: str = fido.__version__
        self.signature_version = (
            f"PRONOM v{versions.pronom_version}; {versions.pronom_container_signature}")
        self._lock = threading.Lock()
        self._reported: tuple[list[Any], str] | None = None

    def _capture(self, fullname: str, matches: list[Any], delta_t: float, matchtype: str = "") -> None:
        """fido's ``handle_matches`` callback: keep the answer instead of printing it."""
        self._reported = (matches, matchtype)

    def identify(self, path: str) -> FormatInfo:
        with self._lock:
            self._reported = None
            try:
                self._fido.identify_file(path)
            except OSError as exc:
                raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
            except Exception as exc:  # a fido bug must not pass for "unidentified"
                raise FormatError(f"fido failed on {path}: {exc!r}") from exc
            reported, size = self._reported, self._fido.current_filesize
            container_warning = self._fido.container_warning
        if reported is None:
            raise FormatError(f"fido reported nothing for {path}")
        matches, matchtype = reported
        empty = "empty file" if size == 0 else ""
        return self._to_info(path, matches, matchtype, join_warnings(empty, container_warning))

    def _to_info(self, path: str, matches: list[Any], matchtype: str, warning: str) -> FormatInfo:
        formats: dict[str, Any] = {}
        for fmt, _ in matches:  # fido may list a format once per matching signature
            formats.setdefault(self._fido.get_puid(fmt), fmt)
        if not formats:
            return self._info(None, BASIS_NONE, warning)
        ext = extension_of(path)
        # fido's survivors have no priority over each other: prefer the file's own extension,
        # then a PRONOM PUID over fido's private "fido-fmt/..." ones, else keep fido's order
        ranked = sorted(formats, key=lambda p: (ext not in _extensions(formats[p]), not is_pronom(p)))
        best = formats[ranked[0]]
        return self._info(ranked[0], _BASIS.get(matchtype, BASIS_SIGNATURE),
                          join_warnings(also_warning(ranked[1:]), warning), best)

    def _info(self, puid: str | None, basis: str, warning: str, fmt: Any = None) -> FormatInfo:
        return FormatInfo(
            puid=puid,
            name=_text(fmt, "name"),
            version=_text(fmt, "version"),
            mime=_text(fmt, "mime"),
            basis=basis,
            tool=self.name,
            tool_version=self.tool_version,
            signature_version=self.signature_version,
            warning=warning,
        )

    def mime_for(self, puid: str) -> str:
        """The first MIME type fido's signature data gives for ``puid`` ('' if none)."""
        return _text(self._fido.puid_format_map.get(puid), "mime")


def _text(fmt: Any, tag: str) -> str:
    return ((fmt.findtext(tag) if fmt is not None else None) or "").strip()


def _extensions(fmt: Any) -> set[str]:
    return {(e.text or "").lower() for e in fmt.findall("extension")}


_engine: FidoEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> FidoEngine:
    """This process's shared FidoEngine, loaded on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = FidoEngine()
        return _engine

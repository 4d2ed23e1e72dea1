"""opf-fido, run in-process: signatures load once per process, results come back as FormatInfo.

By default fido reads the signature set bundled in :mod:`archive.formats.signatures` (PRONOM
v116, container signatures of 2023-11-27; see its PROVENANCE.md and docs/decisions/0005), not
the older one inside the opf-fido wheel (:data:`WHEEL`).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from archive.errors import FormatError
from archive.formats.base import (
    BASIS_CONTAINER,
    BASIS_EXTENSION,
    BASIS_NONE,
    BASIS_SIGNATURE,
    EMPTY_FILE,
    ENGINE_FIDO,
    GUESSED,
    also_warning,
    extension_of,
    is_pronom,
    join_warnings,
)
from archive.model import FormatInfo

_BASIS = {"signature": BASIS_SIGNATURE, "container": BASIS_CONTAINER, "extension": BASIS_EXTENSION}

#: the signature folder the archive ships (the default)
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "signatures")
#: ``signatures`` value naming the set inside the installed opf-fido wheel (PRONOM v109 for 1.6.1)
WHEEL = "wheel"


def signature_dir(signatures: str | None) -> str:
    """The fido configuration folder for ``signatures``: None for the bundled set, ``"wheel"``
    for opf-fido's own, else a folder holding a fido ``versions.xml``."""
    if signatures is None:
        return BUNDLED
    if signatures == WHEEL:
        import fido

        return str(fido.CONFIG_DIR)
    return os.path.abspath(signatures)


class FidoEngine:
    """One loaded fido. Thread-safe (calls are serialised: fido keeps per-file state)."""

    name = ENGINE_FIDO

    def __init__(self, conf_dir: str | None = None) -> None:
        """``conf_dir``: a fido configuration folder (``versions.xml`` and the files it names);
        None loads the bundled set (see :func:`signature_dir`)."""
        conf = conf_dir or BUNDLED
        try:
            import fido
            from fido.versions import get_local_versions

            from archive.formats.fido_core import QuietFido

            if not os.path.isfile(os.path.join(conf, "versions.xml")):
                raise FileNotFoundError(f"no versions.xml in {conf}")
            versions = get_local_versions(conf)
            files = [versions.pronom_signature, versions.fido_extension_signature]
            self._fido = QuietFido(self._capture, conf, files, versions.pronom_container_signature)
        except (Exception, SystemExit) as exc:  # fido sys.exit()s on a broken signature file
            detail = "a signature file does not parse" if isinstance(exc, SystemExit) else repr(exc)
            raise FormatError(f"cannot load fido signatures ({conf}): {detail}") from exc
        self.conf_dir = conf
        self.tool_version: str = fido.__version__
        self.signature_version = f"PRONOM v{versions.pronom_version}; {versions.pronom_container_signature}"
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
        if size == 0:  # fido names an empty file after its extension: there are no bytes to identify
            return self._info(None, BASIS_NONE, EMPTY_FILE)
        return self._to_info(path, matches, matchtype, container_warning)

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
        basis = _BASIS.get(matchtype, BASIS_EXTENSION)  # a match type we do not know is never taken for a signature
        guess = GUESSED if basis == BASIS_EXTENSION else ""
        return self._info(ranked[0], basis, join_warnings(guess, also_warning(ranked[1:]), warning), best)

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


_engines: dict[str, FidoEngine] = {}
_engine_lock = threading.Lock()


def get_engine(signatures: str | None = None) -> FidoEngine:
    """This process's shared FidoEngine for ``signatures`` (see :func:`signature_dir`), loaded on first use."""
    conf = signature_dir(signatures)
    with _engine_lock:
        if conf not in _engines:
            _engines[conf] = FidoEngine(conf)
        return _engines[conf]

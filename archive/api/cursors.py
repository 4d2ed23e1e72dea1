"""Page cursors the API signs, so that it accepts only the cursors it handed out.

A cursor is ``<payload>.<tag>``, both base64url without padding: the payload is the JSON list of
what the next page starts after (a package's ``[created, id]``, an event's ``[time, id]``, a
file's catalog key), the tag the first 16 bytes of HMAC-SHA256 over the kind of page, the package
it pages (for files and events) and the payload, under a secret only the archive knows. Anything
else (a forged key, a cursor of another package or another kind of page, one of another archive,
a truncated, altered or empty one) is refused with 400 before the catalog is asked anything.

The secret is 32 random bytes in ``<home>/api-cursor.key`` (mode 0600), created on first use;
every API process of the archive shares it. Deleting the file invalidates the cursors handed
out until then (a client starts again from the first page), nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from archive.errors import InvalidRequest, StorageError

__all__ = ["SECRET_FILE", "Cursors", "load_or_create_secret"]

SECRET_FILE = "api-cursor.key"
SECRET_BYTES = 32
TAG_BYTES = 16
_B64 = re.compile(r"[A-Za-z0-9_-]+")
_REFUSED = "cursor is not one this API handed out; start again without it"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _read_secret(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 1024:
            raise StorageError(f"the API's cursor secret {path} is not a small regular file; remove it")
        if st.st_mode & 0o077:
            try:
                os.fchmod(fd, 0o600)  # a secret readable by others is no secret
            except OSError:
                pass
        data = os.read(fd, 1024)
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) < SECRET_BYTES:
        raise StorageError(f"the API's cursor secret {path} is damaged; remove it (a new one is made on first use)")
    return key


def load_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``; made (0600, complete before anyone can read it) when there is none.

    Several processes may race to make it: each writes its own temporary file and links it into
    place, which only one can do; the others read the winner's.
    """
    try:
        try:
            return _read_secret(path)
        except FileNotFoundError:
            pass
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (secrets.token_bytes(SECRET_BYTES).hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(tmp)
        return _read_secret(path)
    except OSError as exc:
        raise StorageError(f"cannot read or create the API's cursor secret {path}: {exc.strerror or exc}") from exc


class Cursors:
    """Issues and checks the cursors of one archive (its secret is read once, on first use)."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / SECRET_FILE
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _secret(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = load_or_create_secret(self.path)
        return self._key

    def _tag(self, kind: str, scope: str, payload: str) -> str:
        message = f"{kind}\n{scope}\n{payload}".encode()
        return _b64(hmac.new(self._secret(), message, hashlib.sha256).digest()[:TAG_BYTES])

    def issue(self, kind: str, scope: str, values: list[str]) -> str:
        """A cursor for a page of ``kind`` (of package ``scope``, or ``""``) starting after ``values``."""
        payload = _b64(json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        return f"{payload}.{self._tag(kind, scope, payload)}"

    def read(self, kind: str, scope: str, cursor: str, size: int) -> list[str]:
        """The ``size`` values of a cursor :meth:`issue` made for this ``kind`` and ``scope``, or
        InvalidRequest (400). Nothing of the cursor is believed before its tag checks."""
        payload, dot, tag = cursor.partition(".")
        if not dot or not _B64.fullmatch(payload) or not _B64.fullmatch(tag):
            raise InvalidRequest(_REFUSED)
        if not hmac.compare_digest(tag, self._tag(kind, scope, payload)):
            raise InvalidRequest(_REFUSED)
        try:
            values = json.loads(_unb64(payload).decode("utf-8"))
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:  # pragma: no cover - we signed it
            raise InvalidRequest(_REFUSED) from exc
        if not isinstance(values, list) or len(values) != size or not all(isinstance(v, str) for v in values):
            raise InvalidRequest(_REFUSED)  # pragma: no cover - a cursor of an older layout
        return values

    # -- the three kinds of page ---------------------------------------------------------------
    def packages_after(self, cursor: str | None) -> tuple[datetime, str] | None:
        """Where a page of ``GET /packages`` starts: ``(created_at, id)`` of the last package before it."""
        if cursor is None:
            return None
        created, package_id = self.read("packages", "", cursor, 2)
        return _instant(created), package_id

    def packages_next(self, after: tuple[datetime, str] | None) -> str | None:
        if after is None:
            return None
        created, package_id = after
        return self.issue("packages", "", [_utc(created).isoformat(), package_id])

    def events_after(self, package_id: str, cursor: str | None) -> tuple[datetime, str] | None:
        """Where a page of ``GET /packages/{id}/events`` starts: ``(time, id)`` of the last event before it."""
        if cursor is None:
            return None
        when, event_id = self.read("events", package_id, cursor, 2)
        return _instant(when), event_id

    def events_next(self, package_id: str, when: str, event_id: str) -> str:
        return self.issue("events", package_id, [when, event_id])

    def files_after(self, package_id: str, cursor: str | None, path_of: Callable[[int], str | None]) -> str | None:
        """Where a page of ``GET /packages/{id}/files`` starts: the path of the last file before it.

        The cursor carries the file's catalog key, not its path (a path may be 3 KB long, a cursor
        512 characters); ``path_of`` turns the key into the path, None if the catalog no longer
        has it (it was rebuilt since): then the cursor is refused too."""
        if cursor is None:
            return None
        (key,) = self.read("files", package_id, cursor, 1)
        path = path_of(int(key)) if key.isdigit() else None
        if path is None:
            raise InvalidRequest(
                "cursor names a file the catalog no longer knows by it (was the catalog rebuilt?); "
                "start again without it"
            )
        return path

    def files_next(self, package_id: str, key: int) -> str:
        return self.issue("files", package_id, [str(key)])


def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _instant(text: str) -> datetime:
    try:
        return _utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError) as exc:  # pragma: no cover - we signed it
        raise InvalidRequest(_REFUSED) from exc

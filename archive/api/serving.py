"""Send stored bytes: one file (whole, a Range, or handed to nginx), or a whole package as a zip.

Files are read with ``os.pread`` in large chunks (setting ``api_chunk_size``) on a worker
thread, where the digest or CRC is also computed (hashlib and zlib release the GIL), so the
event loop only passes buffers to the socket. Memory per download is one chunk.

Every download is recorded before its first byte and completed with the bytes actually sent
(``complete``, ``aborted`` when the client went away, ``failed`` on a fixity problem).
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from archive.api.ranges import ByteRange, none_match, parse_range, range_allowed
from archive.api.zipstream import ZipWriter, zip_size
from archive.errors import FixityError, StorageError
from archive.services.context import ArchiveContext
from archive.services.retrieve import packages as retrieve
from archive.services.retrieve.packages import Servable
from archive.services.retrieve.usage import Caller, finish_download, start_download
from archive.services.retrieve.verified import StreamCheck, VerifiedFiles, pick, signature

_RFC9530 = {"sha256": "sha-256", "sha512": "sha-512"}


class StreamAborted(RuntimeError):
    """Raised inside a response already under way: the server closes the connection short of its
    ``Content-Length``, so no client can take the truncated body for the whole."""


def etag(entry: Servable) -> str:
    return '"' + pick(entry.digests)[1] + '"'


def repr_digest(digests: dict[str, str]) -> str:
    """``Repr-Digest`` (RFC 9530): the catalog's sha-256 and sha-512 as structured-field byte sequences."""
    parts = [
        f"{label}=:{base64.b64encode(bytes.fromhex(digests[algo])).decode()}:"
        for algo, label in _RFC9530.items()
        if digests.get(algo)
    ]
    return ", ".join(parts)


def _disposition(name: str, attachment: bool) -> str:
    base = name.rsplit("/", 1)[-1]
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in base)
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(base, safe='')}"


def file_headers(entry: Servable) -> dict[str, str]:
    return {
        "ETag": etag(entry),
        "Repr-Digest": repr_digest(entry.digests),
        "Accept-Ranges": "bytes",
        "Content-Type": entry.mime,
        "Content-Disposition": _disposition(entry.name, False),
        "Last-Modified": entry.package.created_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Cache-Control": "private, no-transform",
        "X-Content-Type-Options": "nosniff",
        # stored HTML or SVG must not run scripts in the API's origin
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; media-src 'self'",
    }


def _open(entry: Servable) -> int:
    fd = os.open(entry.location, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    if signature(os.fstat(fd)) != entry.signature:
        os.close(fd)
        raise FixityError(f"stored file {entry.bag_path} of package {entry.package.id} changed while being opened")
    return fd


def _read(fd: int, size: int, offset: int, digest: Callable[[bytes], None] | None) -> bytes:
    data = os.pread(fd, size, offset)
    if digest is not None:
        digest(data)
    return data


async def _finish(ctx: ArchiveContext, entry_id: int, sent: int, outcome: str) -> None:
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(finish_download, ctx, entry_id, sent, outcome)


async def _settle(ctx: ArchiveContext, verified: VerifiedFiles, caller: Caller, entry: Any, check: Any) -> None:
    """After the last byte was read: record and raise a mismatch with the catalog, or remember
    the file as verified (for its stat signature)."""
    if not check.ok():
        raise await anyio.to_thread.run_sync(
            retrieve.digest_mismatch, ctx, verified, caller, entry, check.algorithm, check.expected, check.found()
        )
    verified.mark(entry.location, entry.signature)


async def _file_chunks(
    ctx: ArchiveContext,
    verified: VerifiedFiles,
    caller: Caller,
    entry: Servable,
    rng: ByteRange,
    check: StreamCheck | None,
    entry_id: int,
) -> AsyncIterator[bytes]:
    sent, outcome = 0, "aborted"
    chunk = ctx.settings.api_chunk_size
    fd = await anyio.to_thread.run_sync(_open, entry)
    try:
        pos = rng.start
        while pos < rng.end:
            data = await anyio.to_thread.run_sync(
                _read, fd, min(chunk, rng.end - pos), pos, check.update if check else None
            )
            if not data:
                raise FixityError(f"stored file {entry.bag_path} of package {entry.package.id} ended early")
            pos += len(data)
            if check is not None and pos == rng.end:  # hold the last chunk back until the digest is known
                await _settle(ctx, verified, caller, entry, check)
            yield data
            sent += len(data)
        outcome = "complete"
    except FixityError as exc:
        outcome = "failed"
        raise StreamAborted(exc.message) from exc
    finally:
        os.close(fd)
        await _finish(ctx, entry_id, sent, outcome)


def serve_file(
    request: Request,
    ctx: ArchiveContext,
    verified: VerifiedFiles,
    caller: Caller,
    entry: Servable,
    action: str,
) -> Response:
    """The response for GET or HEAD of one stored file (called from a worker thread)."""
    headers = file_headers(entry)
    tag = headers["ETag"]
    if none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control", "Last-Modified")})
    rng = parse_range(request.headers.get("range"), entry.size)
    if rng is not None and not range_allowed(request.headers.get("if-range"), tag):
        rng = None
    whole = ByteRange(0, entry.size)
    if request.method == "HEAD":
        return Response(status_code=200, headers={**headers, "Content-Length": str(entry.size)})
    part = rng or whole
    byte_range = rng.header() if rng else ""
    handed = _object_link(ctx, entry)
    if handed is not None:  # the object storage sends the bytes: authorised and recorded here first
        start_download(ctx, caller, entry.package, action, entry.name, byte_range, part.length, delegated=True)
        kept: dict[str, str] = {k: headers[k] for k in ("ETag", "Repr-Digest") if k in headers}
        return Response(status_code=307, headers={**kept, "Location": handed, "Cache-Control": "no-store"})
    accel = ctx.settings.api_accel_redirect
    small = entry.size <= ctx.settings.api_chunk_size
    if not entry.trusted and (accel or rng is not None or small):
        retrieve.verify_now(ctx, verified, caller, entry)
        entry = retrieve.check_entry(ctx, verified, caller, entry)
    if accel:
        start_download(ctx, caller, entry.package, action, entry.name, byte_range, part.length, delegated=True)
        headers["X-Accel-Redirect"] = accel + quote(entry.relpath)
        if rng is None:  # nginx says Accept-Ranges on a whole answer, not on a ranged one: docs/nginx.md
            del headers["Accept-Ranges"]
        return Response(status_code=200, headers=headers)
    entry_id = start_download(ctx, caller, entry.package, action, entry.name, byte_range, part.length)
    check = None if entry.trusted else StreamCheck(entry.digests)
    headers["Content-Length"] = str(part.length)
    status = 200
    if rng is not None:
        headers["Content-Range"] = rng.content_range(entry.size)
        status = 206
    media = headers.pop("Content-Type")
    return StreamingResponse(
        _file_chunks(ctx, verified, caller, entry, part, check, entry_id),
        status_code=status,
        headers=headers,
        media_type=media,
    )


def _object_link(ctx: ArchiveContext, entry: Servable) -> str | None:
    """A short-lived presigned link to ``entry`` in the object storage copy that setting
    ``api_object_redirect`` names, when that copy holds it with the catalog's size and SHA-256 (read
    by one ``HEAD``: the server's own checksum, or for an object uploaded in parts the SHA-256 its
    upload recorded); None: the API serves the file itself (the setting is empty, the copy lacks
    the file or differs from the catalog, or cannot be reached: then it is not asked again for a
    while, so downloads do not each wait out its timeouts)."""
    name = ctx.settings.api_object_redirect
    if not name:
        return None
    copy = next((c for c in ctx.object_replicas if c.name == name), None)
    sha256 = entry.digests.get("sha256")
    if copy is None or sha256 is None or copy.bucket.away():
        return None
    try:
        info = copy.bucket.info(entry.relpath)
        if info is None or info.size != entry.size or info.sha256 != sha256:
            return None
        seconds = ctx.settings.api_presign_seconds
        return copy.bucket.presign(entry.relpath, seconds, entry.name.rsplit("/", 1)[-1], entry.mime)
    except StorageError:
        copy.bucket.mark_away()
        return None


class _ZipDigest:
    """CRC-32 of one zip entry (always) and its catalog digest (while it is not trusted)."""

    def __init__(self, check: StreamCheck | None) -> None:
        self.crc = 0
        self.check = check

    def update(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        if self.check is not None:
            self.check.update(data)


async def _zip_chunks(
    ctx: ArchiveContext,
    verified: VerifiedFiles,
    caller: Caller,
    entries: list[Servable],
    writer: ZipWriter,
    entry_id: int,
) -> AsyncIterator[bytes]:
    sent, outcome = 0, "aborted"
    chunk = ctx.settings.api_chunk_size
    prefix = entries[0].package.id if entries else "package"
    try:
        for planned in entries:
            entry = await anyio.to_thread.run_sync(retrieve.check_entry, ctx, verified, caller, planned)
            check = None if entry.trusted else StreamCheck(entry.digests)
            digest = _ZipDigest(check)

            header = writer.begin(f"{prefix}/{entry.bag_path}", entry.size)
            yield header
            sent += len(header)
            fd = await anyio.to_thread.run_sync(_open, entry)
            try:
                pos = 0
                while pos < entry.size:
                    data = await anyio.to_thread.run_sync(_read, fd, min(chunk, entry.size - pos), pos, digest.update)
                    if not data:
                        raise FixityError(f"stored file {entry.bag_path} of package {entry.package.id} ended early")
                    pos += len(data)
                    if check is not None and pos == entry.size and not check.ok():
                        raise await anyio.to_thread.run_sync(
                            retrieve.digest_mismatch,
                            ctx,
                            verified,
                            caller,
                            entry,
                            check.algorithm,
                            check.expected,
                            check.found(),
                        )
                    yield data
                    sent += len(data)
            finally:
                os.close(fd)
            if check is not None:
                await _settle(ctx, verified, caller, entry, check)
            descriptor = writer.end(digest.crc)
            yield descriptor
            sent += len(descriptor)
        tail = writer.finish()
        yield tail
        sent += len(tail)
        outcome = "complete"
    except FixityError as exc:
        outcome = "failed"
        raise StreamAborted(exc.message) from exc
    finally:
        await _finish(ctx, entry_id, sent, outcome)


def serve_zip(
    ctx: ArchiveContext, verified: VerifiedFiles, caller: Caller, package_id: str, version: int | None = None
) -> Response:
    """The whole bag (of the head, or of ``version``) as a zip (``<id>/bagit.txt``, ``<id>/data/…``),
    streamed as it is read; a version's is named ``<id>-v<N>.zip``."""
    info, entries = retrieve.package_entries(ctx, verified, caller, package_id, version)
    size = zip_size(((f"{info.id}/{e.bag_path}", e.size) for e in entries), info.created_at)
    entry_id = start_download(ctx, caller, info, "package", "", "", size)
    writer = ZipWriter(info.created_at)
    name = info.id if version is None else f"{info.id}-v{version}"
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="{name}.zip"',
        "Cache-Control": "private, no-transform",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(
        _zip_chunks(ctx, verified, caller, entries, writer, entry_id),
        media_type="application/zip",
        headers=headers,
    )

"""An S3-compatible bucket (boto3): write-once uploads that carry their SHA-256, streamed reads.

Every upload names its SHA-256 (``x-amz-checksum-sha256``), so the server refuses bytes that
were damaged on the way, and is conditional: ``If-None-Match: *`` for an object that must be new
(an existing object is never replaced), ``If-Match: <etag>`` for the one object an OCFL root
replaces (its inventory). boto3's own checksum behaviour is set to ``when_required``: its
default since 1.36 adds CRC trailers that S3-compatible servers other than AWS refuse, and the
archive sends the checksum it wants itself. Files above :data:`MULTIPART_BYTES` go up in parts,
each with its own SHA-256; the whole file's SHA-256 and SHA-512 are kept as object metadata
either way (``x-amz-meta-sha256``, ``-sha512``), as APTrust does.

Credentials come from boto3's own chain (``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, the shared files, an instance role), never from the archive's settings.
Every failure is a :class:`~archive.errors.StorageError` naming the bucket.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from archive.errors import ConfigError, StorageError

#: files larger than this go up in parts (S3 takes at most 5 GiB in one request)
MULTIPART_BYTES = 1024 * 1024 * 1024
PART_BYTES = 64 * 1024 * 1024
#: how long a bucket that did not answer counts as unreachable before it is asked again
UNREACHABLE_SECONDS = 30.0
#: tries of one request (boto3's "standard" retries: a dropped connection, a busy server)
ATTEMPTS = 4


def b64_of_hex(hex_digest: str) -> str:
    """A hex digest as S3 writes checksums: base64 of the bytes."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def hex_of_b64(value: str) -> str:
    return base64.b64decode(value).hex()


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    sha256: str | None  # hex: the server's own checksum of a single-part upload, else what metadata says
    metadata: dict[str, str]
    modified: float = 0.0  # when it was written (seconds since the epoch)


@dataclass(frozen=True)
class Location:
    """Where an S3 storage root is: ``s3://bucket/prefix``."""

    bucket: str
    prefix: str  # "" or ends with "/"

    @classmethod
    def parse(cls, url: str) -> Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"an object storage root is written s3://bucket/prefix, got {url!r}")
        prefix = parts.path.strip("/")
        if prefix and any(p in ("", ".", "..") for p in prefix.split("/")):
            raise ValueError(f"the prefix of {url!r} has an empty, '.' or '..' segment")
        return cls(parts.netloc, f"{prefix}/" if prefix else "")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class ObjectExists(StorageError):
    """A write-once object is there already with other content, or another writer replaced it first."""

    code = "E502"


def client(endpoint_url: str, region: str, addressing_style: str) -> Any:
    """A boto3 S3 client for this server (imported here: boto3 is needed only with object storage)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ConfigError("object storage needs boto3: pip install 'archive-preservation[s3]'") from exc
    style = addressing_style if addressing_style != "auto" else ("path" if endpoint_url else "virtual")
    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": style},
        signature_version="s3v4",  # presigned links too (botocore's default for them is the retired SigV2)
        retries={"mode": "standard", "max_attempts": ATTEMPTS},
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=16,
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
    )


class Bucket:
    """The objects of one storage root: keys relative to its prefix."""

    def __init__(self, location: Location, s3: Any) -> None:
        self.location = location
        self.s3 = s3
        self._away_until = 0.0  # monotonic time until which the bucket counts as unreachable

    def __repr__(self) -> str:
        return f"Bucket({self.location})"

    def key(self, rel: str) -> str:
        return self.location.prefix + rel

    def _error(self, exc: BaseException, what: str, rel: str = "") -> StorageError:
        where = f"{self.location}{rel}"
        code = _code(exc)
        if code in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StorageError(f"object storage {self.location} refused to {what} {where}: {code}")
        return StorageError(f"object storage {self.location} cannot {what} {where}: {_words(exc)}")

    # -- the bucket --------------------------------------------------------
    def reachable(self) -> bool:
        """Whether the bucket answers; an answer of no is kept for :data:`UNREACHABLE_SECONDS`, so
        an audit of many packages during an outage does not wait out the retries for each one."""
        if time.monotonic() < self._away_until:
            return False
        try:
            self.s3.head_bucket(Bucket=self.location.bucket)
            return True
        except Exception:
            self.mark_away()
            return False

    def ensure_bucket(self) -> None:
        try:
            self.s3.head_bucket(Bucket=self.location.bucket)
            return
        except Exception as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._error(exc, "reach bucket") from exc
        try:
            self.s3.create_bucket(Bucket=self.location.bucket)
        except Exception as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._error(exc, "create bucket") from exc

    def away(self) -> bool:
        """Whether the bucket did not answer a moment ago (see :meth:`reachable`)."""
        return time.monotonic() < self._away_until

    def mark_away(self) -> None:
        self._away_until = time.monotonic() + UNREACHABLE_SECONDS

    # -- reading -----------------------------------------------------------
    def info(self, rel: str) -> ObjectInfo | None:
        """Size, ETag and SHA-256 of an object, or None when there is none."""
        try:
            h = self.s3.head_object(Bucket=self.location.bucket, Key=self.key(rel), ChecksumMode="ENABLED")
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, "read", rel) from exc
        meta = {k.lower(): v for k, v in (h.get("Metadata") or {}).items()}
        server = h.get("ChecksumSHA256")
        sha256 = hex_of_b64(server) if server and "-" not in server else meta.get("sha256")
        written = h.get("LastModified")
        modified = written.timestamp() if written is not None else 0.0
        return ObjectInfo(int(h["ContentLength"]), str(h.get("ETag", "")), sha256, meta, modified)

    def open(self, rel: str, first: int | None = None, last: int | None = None) -> BinaryIO:
        """The object's bytes as a stream (``first``-``last`` inclusive, when given); FileNotFoundError if none."""
        args: dict[str, Any] = {"Bucket": self.location.bucket, "Key": self.key(rel)}
        if first is not None:
            args["Range"] = f"bytes={first}-{'' if last is None else last}"
        try:
            body: BinaryIO = self.s3.get_object(**args)["Body"]
            return body
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(rel) from exc
            raise self._error(exc, "read", rel) from exc

    def read(self, rel: str) -> bytes | None:
        """A small object's bytes, or None when there is none."""
        try:
            with self.open(rel) as body:
                return body.read()
        except FileNotFoundError:
            return None
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "read", rel) from exc

    def read_tagged(self, rel: str) -> tuple[bytes, str] | None:
        """A small object's bytes and the ETag of exactly those bytes, or None when there is none."""
        try:
            answer = self.s3.get_object(Bucket=self.location.bucket, Key=self.key(rel))
            with answer["Body"] as body:
                return body.read(), str(answer.get("ETag", ""))
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, "read", rel) from exc

    def keys(self, under: str = "") -> Iterator[tuple[str, int]]:
        """Every key below ``under`` (relative to the prefix) with its size, in key order."""
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self.key(under)
            )
            cut = len(self.location.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][cut:], int(item["Size"])
        except Exception as exc:
            raise self._error(exc, "list", under) from exc

    def newest(self, under: str) -> float:
        """When the newest object below ``under`` was written (seconds since the epoch; 0: none)."""
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self.key(under)
            )
            times = [item["LastModified"].timestamp() for page in pages for item in page.get("Contents", [])]
        except Exception as exc:
            raise self._error(exc, "list", under) from exc
        return max(times, default=0.0)

    def folders(self, under: str = "") -> Iterator[str]:
        """The names of the 'folders' directly below ``under`` (which is "" or ends with '/')."""
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self.key(under), Delimiter="/"
            )
            cut = len(self.key(under))
            for page in pages:
                for item in page.get("CommonPrefixes", []):
                    yield item["Prefix"][cut:].rstrip("/")
        except Exception as exc:
            raise self._error(exc, "list", under) from exc

    def presign(self, rel: str, seconds: int, filename: str = "", content_type: str = "") -> str:
        """A link that reads the object for ``seconds`` without credentials (SigV4)."""
        params: dict[str, Any] = {"Bucket": self.location.bucket, "Key": self.key(rel)}
        if filename:
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{_quote(filename)}"
        if content_type:
            params["ResponseContentType"] = content_type
        try:
            url: str = self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
            return url
        except Exception as exc:
            raise self._error(exc, "sign a link to", rel) from exc

    # -- writing -----------------------------------------------------------
    def put_new(self, rel: str, source: Path | bytes, sha256: str, sha512: str = "") -> None:
        """Upload a new object, refused by the server unless its bytes have SHA-256 ``sha256`` (hex).

        An object already there with the same SHA-256 is kept (a retry after a lost answer); with
        another it raises :class:`ObjectExists`, and nothing is replaced.
        """
        size = len(source) if isinstance(source, bytes) else source.stat().st_size
        meta = {"sha256": sha256, **({"sha512": sha512} if sha512 else {})}
        try:
            if size > MULTIPART_BYTES and isinstance(source, Path):
                self._put_parts(rel, source, meta)
            elif isinstance(source, bytes):
                self._put(rel, source, sha256, meta, IfNoneMatch="*")
            else:
                with open(source, "rb") as body:
                    self._put(rel, body, sha256, meta, IfNoneMatch="*")
        except StorageError:
            raise
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                there = self.info(rel)
                if there is not None and there.sha256 == sha256 and there.size == size:
                    return
                raise ObjectExists(f"object storage {self.location} holds {rel} already, with other content") from exc
            raise self._error(exc, "write", rel) from exc

    def replace(self, rel: str, data: bytes, etag: str | None) -> str:
        """Write ``data`` over the object whose ETag is ``etag`` (None: there must be none); returns
        the new ETag. A writer that lost a race gets :class:`ObjectExists`."""
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            answer = self._put(rel, data, sha256, {"sha256": sha256}, **condition)
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise ObjectExists(f"object storage {self.location}: {rel} was changed by another writer") from exc
            raise self._error(exc, "write", rel) from exc
        return str(answer.get("ETag", ""))

    def _put(self, rel: str, body: Any, sha256: str, meta: dict[str, str], **condition: str) -> Any:
        return self.s3.put_object(
            Bucket=self.location.bucket,
            Key=self.key(rel),
            Body=body,
            ChecksumSHA256=b64_of_hex(sha256),
            Metadata=meta,
            **condition,
        )

    def _put_parts(self, rel: str, source: Path, meta: dict[str, str]) -> None:
        bucket, key = self.location.bucket, self.key(rel)
        upload = self.s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", Metadata=meta)
        upload_id = upload["UploadId"]
        try:
            parts = []
            with open(source, "rb") as src:
                number = 0
                while chunk := src.read(PART_BYTES):
                    number += 1
                    digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                    answer = self.s3.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk, ChecksumSHA256=digest
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": digest})
            self.s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
            )
        except BaseException:
            try:
                self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except Exception:  # pragma: no cover - the server expires abandoned uploads
                pass
            raise

    def copy(self, source: str, target: str) -> None:
        """A server-side copy of ``source`` to the new key ``target`` (the quarantine keeps evidence)."""
        bucket = self.location.bucket
        try:
            self.s3.copy_object(
                Bucket=bucket, Key=self.key(target), CopySource={"Bucket": bucket, "Key": self.key(source)}
            )
        except Exception as exc:
            raise self._error(exc, "copy", source) from exc

    def delete(self, rels: list[str]) -> None:
        """Remove these objects (those already gone are fine)."""
        for start in range(0, len(rels), 1000):
            batch = [{"Key": self.key(r)} for r in rels[start : start + 1000]]
            try:
                answer = self.s3.delete_objects(Bucket=self.location.bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise self._error(exc, "delete from", "") from exc
            errors = answer.get("Errors") or []
            if errors:
                raise StorageError(
                    f"object storage {self.location} did not delete {errors[0].get('Key')}: {errors[0].get('Code')}"
                )


def transfer_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is the client's or the connection's (botocore, urllib3): a read that broke
    off mid-body raises these, not an ``OSError``."""
    return type(exc).__module__.split(".")[0] in ("botocore", "urllib3", "boto3")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status:
            return str(status)
    return type(exc).__name__


def _words(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Message"):
        return f"{_code(exc)}: {response['Error']['Message']}"
    return str(exc) or type(exc).__name__


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")

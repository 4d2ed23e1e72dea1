"""API tokens: ``arc_<id>_<secret>``. Pure: making, parsing and checking; storage is the catalog's.

The id (12 hex digits) is stored in clear and used to find the token's row, so checking a
token is one primary-key lookup, never a scan. The secret (``secrets.token_urlsafe(32)``,
256 random bits) is never stored: only ``sha256(salt || secret)`` with a per-token random
salt, compared in constant time. A slow password hash (scrypt) would add milliseconds to
every request and buys nothing here: 256 random bits cannot be guessed, whatever the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "arc"
_TOKEN_RE = re.compile(r"arc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class NewToken:
    token_id: str
    secret: str
    salt: str  # hex
    digest: str  # hex sha256(salt || secret)

    @property
    def token(self) -> str:
        """The full token, shown to its owner once."""
        return f"{PREFIX}_{self.token_id}_{self.secret}"


def hash_secret(secret: str, salt_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + secret.encode("ascii")).hexdigest()


def new_token() -> NewToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return NewToken(token_id, secret, salt, hash_secret(secret, salt))


def parse(token: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a well-formed token, else ``None``."""
    m = _TOKEN_RE.fullmatch(token.strip())
    return (m.group(1), m.group(2)) if m else None


def check(secret: str, salt_hex: str, digest_hex: str) -> bool:
    """Whether ``secret`` matches the stored salted digest (constant-time comparison)."""
    return hmac.compare_digest(hash_secret(secret, salt_hex), digest_hex)

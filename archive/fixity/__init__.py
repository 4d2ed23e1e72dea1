"""Streaming multi-digest hashing: every algorithm computed in one read pass."""

from archive.fixity.hashing import (
    CHUNK_SIZE,
    SUPPORTED_ALGORITHMS,
    MultiHasher,
    copy_and_hash,
    hash_file,
)

__all__ = ["CHUNK_SIZE", "SUPPORTED_ALGORITHMS", "MultiHasher", "copy_and_hash", "hash_file"]

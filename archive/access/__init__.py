"""Access: the rules of who may see what (policy) and API tokens. Pure: no I/O here."""

from archive.access.policy import ROLES, TOKEN_ROLES, Decision, decide, metadata_levels

__all__ = ["ROLES", "TOKEN_ROLES", "Decision", "decide", "metadata_levels"]

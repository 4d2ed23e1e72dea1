"""A hash-chained, append-only ledger of every event the archive records (tamper evidence).

::

    ledger = Ledger(storage_root / "ledger", [replica_root / "ledger", ...])
    ledger.append([("event", {...}), ...], mirror=catalog_mirror)   # flock + fsync, chained
    report = verify(ledger.lines(), copies=..., mirror=..., witnessed=head_digest)

Format and procedures: docs/ledger.md.
"""

from archive.ledger.format import (
    GENESIS,
    KIND_AUDIT_RUN,
    KIND_DISPOSAL,
    KIND_EVENT,
    KIND_PACKAGE,
    KIND_VERSION,
    KIND_WITHDRAWN,
    LedgerEntry,
    LedgerFormatError,
    canonical,
    iso_utc,
    parse_line,
)
from archive.ledger.store import LEDGER_DIR, Ledger, Mirror, ledger_dir
from archive.ledger.token import package_token
from archive.ledger.verify import LedgerReport, Problem, verify

__all__ = [
    "GENESIS",
    "KIND_AUDIT_RUN",
    "KIND_DISPOSAL",
    "KIND_EVENT",
    "KIND_PACKAGE",
    "KIND_VERSION",
    "KIND_WITHDRAWN",
    "LEDGER_DIR",
    "Ledger",
    "LedgerEntry",
    "LedgerFormatError",
    "LedgerReport",
    "Mirror",
    "Problem",
    "canonical",
    "iso_utc",
    "ledger_dir",
    "package_token",
    "parse_line",
    "verify",
]

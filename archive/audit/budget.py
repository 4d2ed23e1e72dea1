"""The budget of one audit run: seconds, bytes, and a stop request (SIGTERM), checked between files."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

#: why a run stopped before checking everything it selected
STOP_SECONDS = "time budget reached"
STOP_BYTES = "byte budget reached"
STOP_SIGNAL = "stopped on request"


@dataclass
class Budget:
    """``max_seconds``/``max_bytes`` of 0 or None mean no limit. Bytes are charged when a file is started."""

    max_seconds: float | None = None
    max_bytes: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    charged: int = 0
    reason: str = ""

    def exhausted(self) -> bool:
        """True (and ``reason`` set) once the run must not start another file."""
        if self.reason:
            return True
        if self.stop.is_set():
            self.reason = STOP_SIGNAL
        elif self.max_seconds and time.monotonic() - self.started >= self.max_seconds:
            self.reason = STOP_SECONDS
        elif self.max_bytes and self.charged >= self.max_bytes:
            self.reason = STOP_BYTES
        return bool(self.reason)

    def charge(self, nbytes: int) -> None:
        self.charged += max(0, nbytes)

    @property
    def interrupted(self) -> bool:
        return self.reason == STOP_SIGNAL

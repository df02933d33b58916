"""The mock's clock: wall time plus an offset that tests move forward instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, as the mock sees them."""
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        """How far the clock has been moved ahead of wall time, in seconds."""
        return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds


def iso(timestamp: float) -> str:
    """An ISO 8601 UTC time with milliseconds, as JavaScript's Date.toISOString() writes it."""
    text = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")

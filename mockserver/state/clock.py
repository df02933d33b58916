"""The mock's clock: wall time plus an offset that tests move forward instead of sleeping.

A frozen clock does not follow wall time at all: it moves only when advanced, so that a test can
assert exact progress whatever the machine's speed. With a store, the offset outlives a restart: what
finished on the advanced clock stays finished.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from .store import Store

MAX_OFFSET_SECONDS = 100 * 365 * 86_400  # far enough for any expiry, near enough to stay a printable date
OFFSET = "clock_offset"  # its name in the store


class Clock:
    def __init__(self, frozen: bool = False, store: Store | None = None) -> None:
        self._frozen_at = time.time() if frozen else None
        self._store = store
        self._offset = store.value(OFFSET, 0.0) if store else 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, as the mock sees them."""
        return (self._frozen_at if self._frozen_at is not None else time.time()) + self.offset

    @property
    def offset(self) -> float:
        """How far the clock has been moved ahead, in seconds."""
        return self._offset

    def reset(self) -> None:
        with self._lock:
            self._set_offset(0.0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            room = MAX_OFFSET_SECONDS - self.offset
            if not 0 <= seconds <= room:
                raise ValueError(f"the clock moves forward by 0 to {room:.0f} more seconds (100 years in all)")
            self._move(seconds)

    def _move(self, seconds: float) -> None:
        self._set_offset(self._offset + seconds)

    def _set_offset(self, offset: float) -> None:
        self._offset = offset
        if self._store:
            self._store.set_value(OFFSET, offset)


def iso(timestamp: float) -> str:
    """An ISO 8601 UTC time with milliseconds, as JavaScript's Date.toISOString() writes it."""
    text = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")

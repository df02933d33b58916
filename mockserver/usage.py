"""How many requests each account sent lately, for the rate-limit figures services report."""

from __future__ import annotations

import threading
from collections import defaultdict, deque

from .clock import Clock

DAY = 86_400.0
MAX_REMEMBERED = 100_000  # per account; beyond this the counts saturate instead of growing memory


class RequestCounter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._times: defaultdict[str, deque[float]] = defaultdict(lambda: deque(maxlen=MAX_REMEMBERED))
        self._lock = threading.Lock()

    def hit(self, account: str) -> None:
        now = self._clock.now()
        with self._lock:
            times = self._times[account]
            times.append(now)
            while times and times[0] <= now - DAY:
                times.popleft()

    def count(self, account: str, seconds: float) -> int:
        since = self._clock.now() - seconds
        with self._lock:
            return sum(1 for t in self._times.get(account, ()) if t > since)

    def window_reset(self, account: str, seconds: float) -> float:
        """When the oldest request of the window leaves it (now + window if there is none)."""
        now = self._clock.now()
        with self._lock:
            inside = [t for t in self._times.get(account, ()) if t > now - seconds]
        return (inside[0] if inside else now) + seconds

    def clear(self) -> None:
        with self._lock:
            self._times.clear()

"""How many requests each account sent lately, for the rate-limit figures services report."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

from .clock import Clock

DAY = 86_400.0
MAX_REMEMBERED = 100_000  # per account; beyond this the counts saturate instead of growing memory


class RequestCounter:
    """Each account's request times, oldest first, so that a window's count is a binary search."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._times: defaultdict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def hit(self, account: str) -> None:
        now = self._clock.now()
        with self._lock:
            times = self._times[account]
            times.append(now)
            if len(times) > MAX_REMEMBERED or times[0] <= now - DAY:
                del times[: max(len(times) - MAX_REMEMBERED, bisect.bisect_right(times, now - DAY))]

    def count(self, account: str, seconds: float) -> int:
        since = self._clock.now() - seconds
        with self._lock:
            times = self._times.get(account, [])
            return len(times) - bisect.bisect_right(times, since)

    def window_reset(self, account: str, seconds: float) -> float:
        """When the oldest request of the window leaves it (now + window if there is none)."""
        now = self._clock.now()
        with self._lock:
            times = self._times.get(account, [])
            first = bisect.bisect_right(times, now - seconds)
            return (times[first] if first < len(times) else now) + seconds

    def clear(self) -> None:
        with self._lock:
            self._times.clear()

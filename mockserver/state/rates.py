"""How many requests each account sent lately, for the rate-limit figures services report."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable

from .clock import Clock

DAY = 86_400.0
MINUTE = 60.0  # the window whose figures a counted request's answer reports
MAX_REMEMBERED = 100_000  # per account; beyond this the counts saturate instead of growing memory


class RequestCounter:
    """Each account's request times, oldest first, so that a window's count is a binary search."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._times: defaultdict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def hit(self, account: str, seconds: float = MINUTE) -> Callable[[], tuple[int, float]]:
        """Count a request of the account. What it gives is its window of the last `seconds` (as window()
        gives it, this request in it), to be read as the answer leaves."""
        now = self._clock.now()
        with self._lock:
            times = self._times[account]
            times.append(now)
            if len(times) > MAX_REMEMBERED or times[0] <= now - DAY:
                del times[: max(len(times) - MAX_REMEMBERED, bisect.bisect_right(times, now - DAY))]
        figures = self.window(account, seconds)
        return lambda: figures

    def count(self, account: str, seconds: float) -> int:
        return self.window(account, seconds)[0]

    def window(self, account: str, seconds: float) -> tuple[int, float]:
        """The account's requests of the last `seconds`, and when the oldest of them leaves the window (now +
        the window if there is none)."""
        now = self._clock.now()
        with self._lock:
            times = self._times.get(account, [])
            first = bisect.bisect_right(times, now - seconds)
            return len(times) - first, (times[first] if first < len(times) else now) + seconds

    def clear(self) -> None:
        with self._lock:
            self._times.clear()

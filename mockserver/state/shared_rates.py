"""The rate figures in Redis, for servers that share one (state/shared.py): each account's request times a sorted
set of the era, so that the limits a service reports count the requests sent to every server."""

from __future__ import annotations

from collections.abc import Callable

from .clock import Clock
from .rates import DAY, MAX_REMEMBERED, MINUTE
from .shared import PREFIX, SharedState

# ARGV: prefix, account, the window's start: the account's request times, and the window's figures from them.
TIMES = """
local function window(times, start)
  local after = '(' .. start
  local first = redis.call('ZRANGEBYSCORE', times, after, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  return {redis.call('ZCOUNT', times, after, '+inf'), first[2] or false}
end
local era = redis.call('GET', ARGV[1] .. 'era') or '0'
local times = ARGV[1] .. era .. ':usage:' .. ARGV[2]
"""
# ARGV as TIMES'. {count, the oldest time in it (or nothing)}.
WINDOW = TIMES + "return window(times, ARGV[3])"
# ARGV as TIMES', then now, a day, the most times kept. The window, the request counted in it.
HIT = (
    TIMES
    + """
local now = tonumber(ARGV[4])
redis.call('ZADD', times, now, ARGV[4] .. ':' .. redis.call('INCR', ARGV[1] .. 'usage-id'))
redis.call('ZREMRANGEBYSCORE', times, '-inf', now - tonumber(ARGV[5]))
local over = redis.call('ZCARD', times) - tonumber(ARGV[6])
if over > 0 then redis.call('ZREMRANGEBYRANK', times, 0, over - 1) end
redis.call('EXPIRE', times, math.ceil(tonumber(ARGV[5])))
return window(times, ARGV[3])
"""
)


class SharedRequestCounter:
    """RequestCounter's interface (state/rates.py), over Redis."""

    def __init__(self, shared: SharedState, clock: Clock) -> None:
        self._clock = clock
        self._hit, self._window = shared.script(HIT), shared.script(WINDOW)

    def hit(self, account: str, seconds: float = MINUTE) -> Callable[[], tuple[int, float]]:
        """Count a request of the account, with this server's next round trip to Redis. What it gives is its window
        of the last `seconds`, this request in it, once that trip has been made."""
        now = self._clock.now()
        counted = self._hit.later(args=[PREFIX, account, repr(now - seconds), repr(now), DAY, MAX_REMEMBERED])
        return lambda: self._figures(now, seconds, counted.answer())

    def count(self, account: str, seconds: float) -> int:
        return self.window(account, seconds)[0]

    def window(self, account: str, seconds: float) -> tuple[int, float]:
        """The account's requests of the last `seconds` on every server, and when the oldest of them leaves the
        window (now + the window if there is none)."""
        now = self._clock.now()
        return self._figures(now, seconds, self._window(args=[PREFIX, account, repr(now - seconds)]))

    @staticmethod
    def _figures(now: float, seconds: float, window: list) -> tuple[int, float]:
        count, first = window
        return int(count), (float(first) if first is not None else now) + seconds

    def clear(self) -> None:
        """Nothing to do: the figures are the era's, and a reset begins a new one (SharedState.reset)."""

"""The rate figures in Redis, for servers that share one (state/shared.py): each account's request times a sorted
set of the era, so that the limits a service reports count the requests sent to every server."""

from __future__ import annotations

from .clock import Clock
from .rates import DAY, MAX_REMEMBERED
from .shared import PREFIX, SharedState

# ARGV: prefix, account, now, a day, the most times kept.
HIT = """
local era = redis.call('GET', ARGV[1] .. 'era') or '0'
local times = ARGV[1] .. era .. ':usage:' .. ARGV[2]
local now = tonumber(ARGV[3])
redis.call('ZADD', times, now, ARGV[3] .. ':' .. redis.call('INCR', ARGV[1] .. 'usage-id'))
redis.call('ZREMRANGEBYSCORE', times, '-inf', now - tonumber(ARGV[4]))
local over = redis.call('ZCARD', times) - tonumber(ARGV[5])
if over > 0 then redis.call('ZREMRANGEBYRANK', times, 0, over - 1) end
redis.call('EXPIRE', times, math.ceil(tonumber(ARGV[4])))
return 0
"""
# ARGV: prefix, account, the window's start. {count, the oldest time in it (or nothing)}.
WINDOW = """
local era = redis.call('GET', ARGV[1] .. 'era') or '0'
local times = ARGV[1] .. era .. ':usage:' .. ARGV[2]
local after = '(' .. ARGV[3]
local first = redis.call('ZRANGEBYSCORE', times, after, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {redis.call('ZCOUNT', times, after, '+inf'), first[2] or false}
"""


class SharedRequestCounter:
    """RequestCounter's interface (state/rates.py), over Redis."""

    def __init__(self, shared: SharedState, clock: Clock) -> None:
        self._clock = clock
        self._hit, self._window = shared.script(HIT), shared.script(WINDOW)

    def hit(self, account: str) -> None:
        self._hit(args=[PREFIX, account, repr(self._clock.now()), DAY, MAX_REMEMBERED])

    def count(self, account: str, seconds: float) -> int:
        return self.window(account, seconds)[0]

    def window(self, account: str, seconds: float) -> tuple[int, float]:
        """The account's requests of the last `seconds` on every server, and when the oldest of them leaves the
        window (now + the window if there is none)."""
        now = self._clock.now()
        count, first = self._window(args=[PREFIX, account, repr(now - seconds)])
        return int(count), (float(first) if first is not None else now) + seconds

    def clear(self) -> None:
        """Nothing to do: the figures are the era's, and a reset begins a new one (SharedState.reset)."""

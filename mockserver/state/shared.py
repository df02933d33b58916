"""State that several servers share, in Redis (`--state redis://HOST:PORT/DB`): the connection, the servers'
leases, the era every reset begins, and the clock.

Everything of a mock lives under one prefix, and what a reset forgets under the prefix and its era, so that a
reset is one atomic INCR: keys of an older era are nobody's, and are deleted after it. Each server holds a lease
(a key that expires unless renewed); the charges it took and has not settled are kept under its name, so that
when a server dies (kill -9) the others refund them once its lease is gone, as `--data-dir` does at a restart.
One Redis server is assumed, not a cluster: the scripts build their keys from the era they read.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import redis

from ..settings import SettingsError
from .clock import Clock

PREFIX = "imagegen-mock:"
LEASE_SECONDS = 6
RENEW_SECONDS = 2
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)  # Redis is gone: the requests it serves get a 503
CLOCK_READ_SECONDS = 0.001  # how long a server trusts the shared clock's offset it last read
SETTLED_CHARGE_SECONDS = 86_400  # how long a charge is kept after its answer, for a refund that comes later

# A dead server's charges that were never settled are refunded, once, and its name forgotten.
RECLAIM = """
local prefix, me, now = ARGV[1], ARGV[2], ARGV[3]
local era = redis.call('GET', prefix .. 'era') or '0'
local refunded = 0
for _, server in ipairs(redis.call('SMEMBERS', prefix .. 'servers')) do
  if server ~= me and redis.call('EXISTS', prefix .. 'alive:' .. server) == 0 then
    for _, id in ipairs(redis.call('SMEMBERS', prefix .. 'pending:' .. server)) do
      local charge = prefix .. 'charge:' .. id
      local fields = redis.call('HMGET', charge, 'api_key', 'amount', 'era', 'state')
      if fields[4] == 'pending' then
        redis.call('HSET', charge, 'state', 'refunded')
        redis.call('EXPIRE', charge, ARGV[4])
        local account = prefix .. fields[3] .. ':account:' .. fields[1]
        if fields[3] == era and redis.call('EXISTS', account) == 1 then
          redis.call('HINCRBY', account, 'balance', fields[2])
          redis.call('HINCRBY', account, 'refunded', fields[2])
          redis.call('HSET', account, 'updated_at', now)
          refunded = refunded + tonumber(fields[2])
        end
      end
    end
    redis.call('DEL', prefix .. 'pending:' .. server)
    redis.call('SREM', prefix .. 'servers', server)
  end
end
return refunded
"""
# ARGV: prefix, the hash's name in the era, then what to do: 'read'; 'set', field, value; 'delete', field.
ERA_HASH = """
local hash = ARGV[1] .. (redis.call('GET', ARGV[1] .. 'era') or '0') .. ':' .. ARGV[2]
if ARGV[3] == 'set' then return redis.call('HSET', hash, ARGV[4], ARGV[5]) end
if ARGV[3] == 'delete' then return redis.call('HDEL', hash, ARGV[4]) end
return redis.call('HGETALL', hash)
"""
# ARGV: prefix. What every call reads as it begins: how many faults are queued, the clock's offset, the latency hash.
CALL_START = """
local era = redis.call('GET', ARGV[1] .. 'era') or '0'
return {redis.call('LLEN', ARGV[1] .. 'faults'), redis.call('GET', ARGV[1] .. 'clock') or '0',
        redis.call('HGETALL', ARGV[1] .. era .. ':latency')}
"""


def unreachable(gone: Exception) -> str:
    """What a request is told while Redis is gone."""
    return f"imagegen-mock's shared state (Redis) cannot be reached ({gone}); try again once it is back"


class SharedState:
    """The connection to Redis, this server's lease on it, and the scripts the shared pieces run."""

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
        try:
            self.redis.ping()
        except (*UNAVAILABLE, redis.ResponseError) as error:
            raise SettingsError(f"state: Redis at {url} cannot be reached: {error}") from None
        self.server = uuid.uuid4().hex
        self.binary = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)  # for file contents
        # Counts every server ever started on this Redis: each draws its identifiers from its own sequence, so
        # that two on the same --seed never mint the same job id or file name (the first draws the seed's own).
        self.number = int(self.redis.incr(self.key("servers-started")))
        self._reclaim, self._call_start = self.script(RECLAIM), self.script(CALL_START)
        self._stopped = threading.Event()
        self.renew()
        self._renewing = threading.Thread(target=self._keep_lease, name="imagegen-mock lease", daemon=True)
        self._renewing.start()

    def script(self, source: str) -> Callable[..., Any]:
        return self.redis.register_script(source)

    def key(self, name: str) -> str:
        return PREFIX + name

    def signing_key(self, new: bytes) -> bytes:
        """The private key (PEM) every server signs webhooks with: `new`, unless another server's came first."""
        self.binary.set(self.key("signing-key"), new, nx=True)
        return self.binary.get(self.key("signing-key")) or new

    def call_start(self) -> tuple[int, float, list[str]]:
        """How many faults are queued, the clock's offset and the latency hash (flat), in one round trip."""
        queued, offset, latency = self._call_start(args=[PREFIX])
        return int(queued), float(offset), latency

    def era(self) -> str:
        return self.redis.get(self.key("era")) or "0"

    def era_key(self, era: str, name: str) -> str:
        """The key of something a reset forgets, in `era`."""
        return f"{PREFIX}{era}:{name}"

    def renew(self) -> int:
        """Hold this server's lease, and refund what servers that lost theirs had not settled."""
        self.redis.set(self.key(f"alive:{self.server}"), "1", ex=LEASE_SECONDS)
        self.redis.sadd(self.key("servers"), self.server)
        return self._refund_the_dead(sparing=self.server)

    def _refund_the_dead(self, sparing: str) -> int:
        return int(self._reclaim(args=[PREFIX, sparing, time.time(), SETTLED_CHARGE_SECONDS]))

    def reset(self) -> None:
        """Begin a new era, which forgets everything the last one held; then delete what it held."""
        old = self.era()
        self.redis.incr(self.key("era"))
        for stale in self.redis.scan_iter(match=self.era_key(old, "*"), count=1000):
            self.redis.delete(stale)

    def close(self) -> None:
        """Give up the lease, refunding the charges this server has not settled (requests it never answered)."""
        self._stopped.set()
        self._renewing.join()
        with contextlib.suppress(*UNAVAILABLE):
            self.redis.delete(self.key(f"alive:{self.server}"))
            self._refund_the_dead(sparing="")
        self.redis.close()
        self.binary.close()

    def _keep_lease(self) -> None:
        while not self._stopped.wait(RENEW_SECONDS):
            try:
                self.renew()
            except UNAVAILABLE:  # Redis is gone for now: the lease is renewed when it is back
                continue


class SharedClock(Clock):
    """The mock's clock with its offset in Redis: moved on one server, it has moved on all."""

    def __init__(self, shared: SharedState, frozen: bool = False) -> None:
        super().__init__(frozen)
        self._redis = shared.redis
        self._key = shared.key("clock")
        self._read_at = -math.inf

    @property
    def offset(self) -> float:
        """The shared offset, read at most once a CLOCK_READ_SECONDS (a request reads the clock several times);
        while Redis is gone, the last one read: time goes on, for the journal too."""
        if time.monotonic() - self._read_at > CLOCK_READ_SECONDS:
            with contextlib.suppress(*UNAVAILABLE):
                self._offset = float(self._redis.get(self._key) or 0)
                self._read_at = time.monotonic()
        return self._offset

    def prime(self, offset: float) -> None:
        """Take `offset` as just read from Redis."""
        self._offset, self._read_at = offset, time.monotonic()

    def _move(self, seconds: float) -> None:
        self._offset = self._redis.incrbyfloat(self._key, seconds)  # two servers moving it at once both count
        self._read_at = time.monotonic()

    def _set_offset(self, offset: float) -> None:
        self._redis.set(self._key, offset)
        self._offset, self._read_at = offset, time.monotonic()


class SharedHash(MutableMapping[str, str]):
    """A small dict of strings that every server sees (a hash of the era, so a reset forgets it), read whole at most
    once a CLOCK_READ_SECONDS, as the clock is: what a server writes, it reads at once; the others a moment later."""

    def __init__(self, shared: SharedState, name: str) -> None:
        self._script = shared.script(ERA_HASH)
        self._name = name
        self._read_at = -math.inf
        self._read: dict[str, str] = {}

    def prime(self, flat: list[str]) -> None:
        """Take the fields and values `flat` lists as just read from Redis."""
        self._read, self._read_at = dict(zip(flat[::2], flat[1::2], strict=True)), time.monotonic()

    def _fields(self) -> dict[str, str]:
        if time.monotonic() - self._read_at > CLOCK_READ_SECONDS:
            self.prime(self._script(args=[PREFIX, self._name, "read"]))
        return self._read

    def __getitem__(self, field: str) -> str:
        return self._fields()[field]

    def __setitem__(self, field: str, value: object) -> None:
        self._script(args=[PREFIX, self._name, "set", field, str(value)])
        self._read_at = -math.inf

    def __delitem__(self, field: str) -> None:
        if not self._script(args=[PREFIX, self._name, "delete", field]):
            raise KeyError(field)
        self._read_at = -math.inf

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._fields()))

    def __len__(self) -> int:
        return len(self._fields())

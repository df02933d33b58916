"""State that several servers share, in Redis (`--state redis://HOST:PORT/DB`): the connection, the servers'
leases, the era every reset begins, and the clock.

Everything of a mock lives under one prefix, and what a reset forgets under the prefix and its era, so that a
reset is one atomic INCR: keys of an older era are nobody's, and are deleted after it. Each server holds a lease
(a key that expires unless renewed); the charges it took and has not settled are kept under its name, so that
when a server dies (kill -9) the others refund them once its lease is gone, as `--data-dir` does at a restart.
One Redis server is assumed, not a cluster: the scripts build their keys from the era they read.

Each round trip to Redis costs a request more than the script it runs, so a call makes as few as it can: its first
reads what the call reads next (the clock, the latency, the accounts of its keys), and a script whose answer can
wait (the rate count, the settlement) goes with the server's next trip (Script.later): a paid request makes four.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import hiredis
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..settings import SettingsError
from .clock import Clock

PREFIX = "imagegen-mock:"
LEASE_SECONDS = 6
RENEW_SECONDS = 2
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)  # Redis is gone: the requests it serves get a 503
TIMEOUT_SECONDS = 2
CLOCK_READ_SECONDS = 0.001  # how long a server trusts the shared clock's offset it last read
CALL_READ_SECONDS = 0.05  # how long it trusts what a call read as it began (the control API reads afresh)
# How long Redis remembers a step whose answer may have been lost (a charge, a take of faults or jobs, a job given
# up): for the give-back that follows it, or against the step itself arriving late.
RECORD_SECONDS = 86_400

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


def in_era(*lua: str) -> str:
    """A script of the pieces of `lua`, whose first argument is the prefix: `base` in it is the prefix of what the
    current era holds."""
    return "".join(("local base = ARGV[1] .. (redis.call('GET', ARGV[1] .. 'era') or '0') .. ':'\n", *lua))


# ARGV: prefix, the hash's name in the era, then what to do: 'read'; 'set', field, value; 'delete', field.
ERA_HASH = in_era("""
local hash = base .. ARGV[2]
if ARGV[3] == 'set' then return redis.call('HSET', hash, ARGV[4], ARGV[5]) end
if ARGV[3] == 'delete' then return redis.call('HDEL', hash, ARGV[4]) end
return redis.call('HGETALL', hash)
""")  # fmt: skip
# ARGV: prefix, then API keys. What every call reads as it begins: how many faults are queued, the clock's offset,
# the latency hash, the accounts of the keys it gives (each a hash as shared_ledger.py keeps it; empty if none), and
# the era.
CALL_START = """
local era = redis.call('GET', ARGV[1] .. 'era') or '0'
local accounts = {}
for i = 2, #ARGV do accounts[i - 1] = redis.call('HGETALL', ARGV[1] .. era .. ':account:' .. ARGV[i]) end
return {redis.call('LLEN', ARGV[1] .. 'faults'), redis.call('GET', ARGV[1] .. 'clock') or '0',
        redis.call('HGETALL', ARGV[1] .. era .. ':latency'), accounts, era}
"""


def connect(url: str, **options: Any) -> redis.Redis:
    """A client of Redis that never sends a command again by itself: a script Redis ran whose answer was late would
    run twice, a charge taken twice, a fault popped twice. (redis-py's `Redis()` retries ten times by default in 8.x;
    its `from_url` does not today; this says so rather than rely on it.) A trip that fails fails its request, a
    503, and what the trip may have done is undone by its caller (SharedLedger.charge)."""
    timeouts = {"socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS}
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **timeouts, **options)


def unreachable(gone: Exception) -> str:
    """What a request is told while Redis is gone."""
    return f"imagegen-mock's shared state (Redis) cannot be reached ({gone}); try again once it is back"


class SharedState:
    """The connection to Redis, this server's lease on it, and the scripts the shared pieces run."""

    def __init__(self, url: str) -> None:
        self.redis = connect(url, decode_responses=True)
        try:
            self.redis.ping()
        except (*UNAVAILABLE, redis.ResponseError) as error:
            raise SettingsError(f"state: Redis at {url} cannot be reached: {error}") from None
        self.server = uuid.uuid4().hex
        self.binary = connect(url)  # for file contents
        self.trips, self.binary_trips = Trips(self.redis), Trips(self.binary)
        # Counts every server ever started on this Redis: each draws its identifiers from its own sequence, so
        # that two on the same --seed never mint the same job id or file name (the first draws the seed's own).
        self.number = int(self.redis.incr(self.key("servers-started")))
        self._steps = itertools.count(1)
        self._queued: list[Later] = []  # to go with this server's next round trip
        self._queue_lock = threading.RLock()
        self._era_read, self._era_fresh_until = "0", -math.inf
        self._reclaim, self._call_start = self.script(RECLAIM), self.script(CALL_START)
        self._nothing = self.redis.register_script("return 0")
        self._stopped = threading.Event()
        self.renew()
        self._renewing = threading.Thread(target=self._keep_lease, name="imagegen-mock lease", daemon=True)
        self._renewing.start()

    def script(self, source: str) -> Script:
        return Script(self, source)

    def run(self, script: redis.commands.core.Script, args: list[object]) -> Any:
        """Run `script`, in the same round trip as the scripts queued for the next (before it, in order): once it
        has its answer, so has every script this server queued before it."""
        with self._queue_lock:  # held for a trip that takes queued scripts, so that they have their answers once free
            queued, self._queued = self._queued, []
            if queued:
                return self._run_after(queued, script, args)
        return self.trips.one(script, args)

    def _run_after(self, queued: list[Later], script: redis.commands.core.Script, args: list[object]) -> Any:
        try:
            answers = self.trips.run([*((later.script, later.args) for later in queued), (script, args)])
        except Exception as error:  # a write that must be made waits for Redis to be back; the others fail
            kept = [later for later in queued if later.kept and isinstance(error, UNAVAILABLE)]
            self._queued[:0] = kept
            for later in queued:
                if later not in kept:
                    later.answered(error)
            raise
        for later, answer in zip(queued, answers, strict=False):
            later.answered(answer)
        return answers[-1]

    def step_id(self) -> str:
        """An id no other step of any server on this Redis has (a charge, a take): after this server's number."""
        return f"{self.number}.{next(self._steps)}"

    def queue(self, later: Later) -> None:
        with self._queue_lock:
            self._queued.append(later)

    def flush(self) -> None:
        """Send the queued scripts now, if no round trip has taken them yet."""
        with self._queue_lock:
            if self._queued:
                self.run(self._nothing, [])

    def key(self, name: str) -> str:
        return PREFIX + name

    def signing_key(self, new: bytes) -> bytes:
        """The private key (PEM) every server signs webhooks with: `new`, unless another server's came first."""
        self.binary.set(self.key("signing-key"), new, nx=True)
        return self.binary.get(self.key("signing-key")) or new

    def call_start(self, api_keys: list[str]) -> tuple[int, float, list[str], list[list[str]]]:
        """How many faults are queued, the clock's offset, the latency hash and the keys' accounts (flat hashes), in
        one round trip."""
        queued, offset, latency, accounts, era = self._call_start(args=[PREFIX, *api_keys])
        self._era_read, self._era_fresh_until = era, time.monotonic() + CALL_READ_SECONDS
        return int(queued), float(offset), latency, accounts

    def era(self) -> str:
        return self.redis.get(self.key("era")) or "0"

    def recent_era(self) -> str:
        """The era as a call read it as it began, if one began a moment ago (CALL_READ_SECONDS), else as it is."""
        return self._era_read if time.monotonic() <= self._era_fresh_until else self.era()

    def era_key(self, era: str, name: str) -> str:
        """The key of something a reset forgets, in `era`."""
        return f"{PREFIX}{era}:{name}"

    def renew(self) -> int:
        """Hold this server's lease, and refund what servers that lost theirs had not settled."""
        self.redis.set(self.key(f"alive:{self.server}"), "1", ex=LEASE_SECONDS)
        self.redis.sadd(self.key("servers"), self.server)
        return self._refund_the_dead(sparing=self.server)

    def _refund_the_dead(self, sparing: str) -> int:
        return int(self._reclaim(args=[PREFIX, sparing, time.time(), RECORD_SECONDS]))

    def reset(self) -> None:
        """Begin a new era, which forgets everything the last one held; then delete what it held."""
        self.flush()  # what was queued belongs to the era ending
        self._era_fresh_until = -math.inf
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


class Trips:
    """Round trips to Redis, each thread's on a connection of its own from `client`'s pool: redis-py's client and its
    pipelines cost ~40 µs of CPU a trip more than the connection beneath them (measured on this project's 2-core
    machine: ~90 against ~52), and a paid request makes four. The commands are packed by hiredis alone: redis-py
    encodes each argument in Python first (~7 µs a trip of a dozen arguments), to the same bytes."""

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._own = threading.local()

    def run(self, runs: list[tuple[redis.commands.core.Script, list[object]]]) -> list[Any]:
        """The scripts' answers, run in one round trip. A script Redis lacks (it restarted) is loaded and run again."""
        connection = self._connection()
        connection.send_packed_command(
            [b"".join(hiredis.pack_command(("EVALSHA", script.sha, 0, *args)) for script, args in runs)]
        )
        answers = [answer_of(connection) for _ in runs]
        for i, answer in enumerate(answers):
            if isinstance(answer, redis.exceptions.NoScriptError):
                script, args = runs[i]
                answers[i] = answer = script(args=args)
            if isinstance(answer, Exception):
                raise answer
        return answers

    def one(self, script: redis.commands.core.Script, args: list[object]) -> Any:
        return self.run([(script, args)])[0]

    def _connection(self) -> redis.connection.AbstractConnection:
        connection = getattr(self._own, "connection", None)
        if connection is None:
            connection = self._own.connection = self._pool.get_connection()  # closed with the pool
        try:
            closed = connection.can_read()  # an idle connection has something to read once Redis closed it
        except UNAVAILABLE:
            closed = True
        if closed:
            connection.disconnect()  # connected again as the trip is sent
        return connection


def answer_of(connection: redis.connection.AbstractConnection) -> Any:
    """The next answer on `connection`; a script's error as its answer, for the answers after it to be read."""
    try:
        return connection.read_response()
    except redis.ResponseError as error:
        return error


class Script:
    """A Lua script of the shared state. Run, it takes along the scripts queued for this server's next round trip to
    Redis; run later, it is queued for that trip (for an answer nobody waits for, or that is wanted later)."""

    def __init__(self, shared: SharedState, source: str) -> None:
        self._shared = shared
        self._script = shared.redis.register_script(source)

    def __call__(self, args: list[object]) -> Any:
        return self._shared.run(self._script, args)

    def later(self, args: list[object], kept: bool = False, then: Callable[[Any], None] | None = None) -> Later:
        """Queue the script for the next round trip; `kept`, for the one after if Redis is gone (else it fails).
        `then` is given its answer, once it has one."""
        later = Later(self._shared, self._script, args, kept, then)
        self._shared.queue(later)
        return later


class Later:
    """A script queued for a server's next round trip to Redis."""

    def __init__(
        self, shared: SharedState, script: redis.commands.core.Script, args: list[object], kept: bool,
        then: Callable[[Any], None] | None,
    ) -> None:  # fmt: skip
        self._shared = shared
        self.script, self.args, self.kept, self._then = script, args, kept, then
        self._answered, self._answer = False, None

    def answered(self, answer: Any) -> None:
        """Its answer; an exception if its round trip failed."""
        self._answered, self._answer = True, answer
        if self._then is not None and not isinstance(answer, Exception):
            self._then(answer)

    def answer(self) -> Any:
        """Its answer: at once if it has gone to Redis, else once it has been sent."""
        if not self._answered:
            self._shared.flush()
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer


class SharedClock(Clock):
    """The mock's clock with its offset in Redis: moved on one server, it has moved on all."""

    def __init__(self, shared: SharedState, frozen: bool = False) -> None:
        super().__init__(frozen)
        self._redis = shared.redis
        self._key = shared.key("clock")
        self._fresh_until = -math.inf

    @property
    def offset(self) -> float:
        """The shared offset, read at most once a CLOCK_READ_SECONDS (a request reads the clock several times);
        while Redis is gone, the last one read: time goes on, for the journal too."""
        if time.monotonic() > self._fresh_until:
            with contextlib.suppress(*UNAVAILABLE):
                self._offset = float(self._redis.get(self._key) or 0)
                self._fresh_until = time.monotonic() + CLOCK_READ_SECONDS
        return self._offset

    def prime(self, offset: float) -> None:
        """Take `offset` as a call read it from Redis as it began."""
        self._offset, self._fresh_until = offset, time.monotonic() + CALL_READ_SECONDS

    def forget(self) -> None:
        """Read the offset afresh when it is next asked for."""
        self._fresh_until = -math.inf

    def _move(self, seconds: float) -> None:
        self._offset = self._redis.incrbyfloat(self._key, seconds)  # two servers moving it at once both count
        self._fresh_until = time.monotonic() + CLOCK_READ_SECONDS

    def _set_offset(self, offset: float) -> None:
        self._redis.set(self._key, offset)
        self._offset, self._fresh_until = offset, time.monotonic() + CLOCK_READ_SECONDS


class SharedHash(MutableMapping[str, str]):
    """A small dict of strings that every server sees (a hash of the era, so a reset forgets it), trusted as long as
    the clock is: what a server writes, it reads at once; the others a moment later."""

    def __init__(self, shared: SharedState, name: str) -> None:
        self._script = shared.script(ERA_HASH)
        self._name = name
        self._fresh_until = -math.inf
        self._read: dict[str, str] = {}

    def prime(self, flat: list[str], seconds: float = CALL_READ_SECONDS) -> None:
        """Take the fields and values `flat` lists as a call read them from Redis as it began."""
        self._read = dict(zip(flat[::2], flat[1::2], strict=True))
        self._fresh_until = time.monotonic() + seconds

    def forget(self) -> None:
        """Read the hash afresh when it is next asked for."""
        self._fresh_until = -math.inf

    def _fields(self) -> dict[str, str]:
        if time.monotonic() > self._fresh_until:
            self.prime(self._script(args=[PREFIX, self._name, "read"]), CLOCK_READ_SECONDS)
        return self._read

    def __getitem__(self, field: str) -> str:
        return self._fields()[field]

    def __setitem__(self, field: str, value: object) -> None:
        self._script(args=[PREFIX, self._name, "set", field, str(value)])
        self.forget()

    def __delitem__(self, field: str) -> None:
        if not self._script(args=[PREFIX, self._name, "delete", field]):
            raise KeyError(field)
        self.forget()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._fields()))

    def __len__(self) -> int:
        return len(self._fields())

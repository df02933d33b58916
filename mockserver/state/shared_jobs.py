"""Jobs in Redis, for servers that share one (state/shared.py): a job started through one server is read and
finished through any. Each job is a hash of the era with the fields a store's row has (state/jobs.py), and the
jobs still running a sorted set by the time they are due; one script takes the due ones off it, so that each
job's finishing step runs once, on the server that took it. A reset forgets them with the era.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .clock import Clock
from .ids import Ids
from .jobs import SAVED, Job, JobsReset, restored, run_finisher, saved
from .ledger import Charge
from .shared import PREFIX, RECORD_SECONDS, UNAVAILABLE, Script, SharedState, in_era

# ARGV: prefix, the era the job must start in ('' for the current one), its uuid, api key and due time, then its
# fields and values. Its id, or -1 if the mock was reset since that era began or the job was given up (FORGET).
START = """
local prefix, era = ARGV[1], redis.call('GET', ARGV[1] .. 'era') or '0'
if ARGV[2] ~= '' and ARGV[2] ~= era then return -1 end
local base, uuid = prefix .. era .. ':', ARGV[3]
if redis.call('EXISTS', base .. 'forgotten:' .. uuid) == 1 then return -1 end
local id = redis.call('INCR', base .. 'job-id')
redis.call('HSET', base .. 'job:' .. uuid, 'id', id, unpack(ARGV, 6))
redis.call('ZADD', base .. 'jobs', id, uuid)
redis.call('ZADD', base .. 'jobs-of:' .. ARGV[4], id, uuid)
redis.call('ZADD', base .. 'due', ARGV[5], uuid)
return id
"""
# ARGV: prefix, uuid, seconds it is remembered as given up. A job whose start's answer was lost is forgotten, and
# its start refused should it come late, so that no job its client never heard of runs and sends its webhook.
FORGET = in_era("""
local uuid = ARGV[2]
local job = base .. 'job:' .. uuid
local api_key = redis.call('HGET', job, 'api_key')
redis.call('DEL', job)
redis.call('ZREM', base .. 'jobs', uuid)
redis.call('ZREM', base .. 'due', uuid)
if api_key then redis.call('ZREM', base .. 'jobs-of:' .. api_key, uuid) end
redis.call('SET', base .. 'forgotten:' .. uuid, 1, 'EX', ARGV[3])
""")  # fmt: skip
# ARGV: prefix, now, how many finished jobs are kept, the take's id, seconds its jobs are kept under it. The fields
# of each job it took (finished at its due time); their uuids kept under the take's id, for a server whose answer
# was lost to take them again (RETAKE).
TAKE_DUE = """
local prefix = ARGV[1]
local base = prefix .. (redis.call('GET', prefix .. 'era') or '0') .. ':'
local due = redis.call('ZRANGEBYSCORE', base .. 'due', '-inf', ARGV[2], 'WITHSCORES')
local taken, take = {}, base .. 'taken:' .. ARGV[4]
for i = 1, #due, 2 do
  local job = base .. 'job:' .. due[i]
  redis.call('ZREM', base .. 'due', due[i])
  redis.call('HSET', job, 'finished_at', due[i + 1])
  redis.call('RPUSH', base .. 'finished', due[i])
  redis.call('RPUSH', take, due[i])
  table.insert(taken, redis.call('HGETALL', job))
end
if #taken > 0 then redis.call('EXPIRE', take, ARGV[5]) end
while redis.call('LLEN', base .. 'finished') > tonumber(ARGV[3]) do
  local uuid = redis.call('LPOP', base .. 'finished')
  local api_key = redis.call('HGET', base .. 'job:' .. uuid, 'api_key')
  redis.call('DEL', base .. 'job:' .. uuid)
  redis.call('ZREM', base .. 'jobs', uuid)
  if api_key then redis.call('ZREM', base .. 'jobs-of:' .. api_key, uuid) end
end
return taken
"""
# ARGV: prefix, the take's id. The fields of each job that take took.
RETAKE = in_era("""
local taken = {}
for _, uuid in ipairs(redis.call('LRANGE', base .. 'taken:' .. ARGV[2], 0, -1)) do
  local job = redis.call('HGETALL', base .. 'job:' .. uuid)
  if #job > 0 then table.insert(taken, job) end
end
return taken
""")  # fmt: skip
# ARGV: prefix, the take's id: its jobs' finishing steps have run.
FINISHED = in_era("return redis.call('DEL', base .. 'taken:' .. ARGV[2])")
# ARGV: prefix. The due time of the job due first, or nothing.
NEXT_DUE = in_era("""
local first = redis.call('ZRANGE', base .. 'due', 0, 0, 'WITHSCORES')
return first[2]
""")  # fmt: skip
# ARGV: prefix, the sorted set of the era to read ('jobs', or 'jobs-of:' and a key). Each job's fields, newest first.
NEWEST_FIRST = in_era("""
local found = {}
for _, uuid in ipairs(redis.call('ZREVRANGE', base .. ARGV[2], 0, -1)) do
  table.insert(found, redis.call('HGETALL', base .. 'job:' .. uuid))
end
return found
""")  # fmt: skip
GET = in_era("return redis.call('HGETALL', base .. 'job:' .. ARGV[2])")


class SharedJobs:
    """Jobs' interface (state/jobs.py), over Redis."""

    def __init__(self, shared: SharedState, clock: Clock, ids: Ids, max_finished: int) -> None:
        self._shared = shared
        self._clock = clock
        self._ids = ids
        self._max_finished = max_finished
        self._finishers: dict[str, Callable[[Job], None]] = {}
        self._data_types: dict[str, Callable[..., Any]] = {}
        self._start, self._take_due, self._forget = shared.script(START), shared.script(TAKE_DUE), shared.script(FORGET)
        self._retake, self._finished = shared.script(RETAKE), shared.script(FINISHED)
        self._lost_takes: list[str] = []  # takes whose answer never came: Redis may have marked their jobs finished
        self._lost_lock = threading.Lock()
        self._next_due, self._newest_first, self._get = (
            shared.script(NEXT_DUE), shared.script(NEWEST_FIRST), shared.script(GET)
        )  # fmt: skip

    @property
    def era(self) -> str:
        """The mock's era (each reset begins one) as a call read it as it began, a moment ago: a job started in it is
        refused once a reset has come since."""
        return self._shared.recent_era()

    def serve(self, profile: str, finish: Callable[[Job], None], data_type: Callable[..., Any] = dict) -> None:
        self._finishers.setdefault(profile, finish)
        self._data_types.setdefault(profile, data_type)

    def start(
        self,
        profile: str,
        api_key: str,
        duration: float,
        data: Any,
        charge: Charge | None = None,
        failure: tuple[str, str] | None = None,
        era: str | None = None,
    ) -> Job:
        job = Job(0, self._ids.uuid(), profile, api_key, self._clock.now(), duration, failure, data, charge)
        fields = [value for name, field in zip(SAVED, saved(job), strict=True) if name != "id"
                  for value in (name, "" if field is None else field)]  # fmt: skip
        started = self._start.later(args=[PREFIX, era or "", job.uuid, api_key, job.due_at, *fields])
        try:
            self.settle()  # in the same round trip
            job.id = int(started.answer())
        except UNAVAILABLE:  # Redis may have started it, and the answer been lost
            self._forget.later(args=[PREFIX, job.uuid, RECORD_SECONDS], kept=True)
            raise
        if job.id == -1:
            raise JobsReset
        return job

    def get(self, uuid: str) -> Job | None:
        self.settle()
        return self._job(self._get(args=[PREFIX, uuid]))

    def recent(self) -> list[Job]:
        return self._jobs(self._newest_first(args=[PREFIX, "jobs"]))

    def of_account(self, api_key: str) -> list[Job]:
        self.settle()
        return self._jobs(self._newest_first(args=[PREFIX, f"jobs-of:{api_key}"]))

    def statuses(self) -> list[tuple[str, str]]:
        self.settle()
        return [(job.profile, job.status) for job in reversed(self.recent())]

    def settle(self) -> None:
        """Finish every job whose time is up, on whichever server asks first: its finishing step (a failure's refund,
        the webhook) runs once, even where Redis took the job and its answer was lost, if this server lives on."""
        self._finish_lost_takes()
        take = self._shared.step_id()
        now = self._clock.now()
        self._finish(take, self._taken(take, self._take_due, [PREFIX, now, self._max_finished, take, RECORD_SECONDS]))

    def _finish_lost_takes(self) -> None:
        with self._lost_lock:
            lost, self._lost_takes = self._lost_takes, []
        for i, take in enumerate(lost):
            try:
                jobs = self._taken(take, self._retake, [PREFIX, take])
            except UNAVAILABLE:
                with self._lost_lock:
                    self._lost_takes.extend(lost[i + 1 :])
                raise
            self._finish(take, jobs)

    def _taken(self, take: str, script: Script, args: list[object]) -> list[Job]:
        """The jobs `script` takes; the take's id kept, to take them again, if its answer may have been lost."""
        try:
            return self._jobs(script(args=args))
        except UNAVAILABLE:
            with self._lost_lock:
                self._lost_takes.append(take)
            raise

    def _finish(self, take: str, jobs: list[Job]) -> None:
        for job in jobs:
            run_finisher(job, self._finishers)
        if jobs:
            self._finished.later(args=[PREFIX, take])

    def seconds_to_next(self) -> float | None:
        due = self._next_due(args=[PREFIX])
        return None if due is None else float(due) - self._clock.now()

    def clear(self) -> None:
        """Nothing to do: a reset begins a new era (SharedLedger.reset), and the jobs of the old one are gone."""

    def _jobs(self, found: list[list[str]]) -> list[Job]:
        return [job for fields in found if (job := self._job(fields))]

    def _job(self, flat: list[str]) -> Job | None:
        if not flat:
            return None
        fields: dict[str, Any] = {name: value or None for name, value in zip(flat[::2], flat[1::2], strict=True)}
        for name, kind in (("id", int), ("amount", int), ("created_at", float),
                           ("duration", float), ("finished_at", float)):  # fmt: skip
            fields[name] = kind(fields[name]) if fields.get(name) is not None else None
        job = restored(fields, self._data_types.get(fields["profile"], dict))
        if job.charge:  # refunded by its id, whatever the era it is given here
            job.charge = Charge(job.api_key, job.charge.amount, job.charge.era, pending_id=fields["charge_id"])
        return job

"""Queued faults in Redis, for servers that share one (state/shared.py): one list, taken from by one script, so
that a fault queued through any server fails exactly the requests it was queued for, across all. A reset empties
it as it does the in-memory queue. Whether any fault is queued, which every call asks first, is read in the round
trip that begins a call (State.call_start). A fault taken in a trip whose answer was lost goes back, so that it
still fails one request."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

from .faults import FaultOptions, Forced, QueuedFault
from .shared import PREFIX, RECORD_SECONDS, UNAVAILABLE, SharedState, in_era

# ARGV: prefix, profile, endpoint, the fault names that apply (JSON), the request's keys (JSON), the take's id, the
# seconds it is remembered. The fault taken; kept under the take's id for GIVE_BACK, and nothing if given back
# before it came.
TAKE = in_era("""
local queue, record = ARGV[1] .. 'faults', base .. 'fault-take:' .. ARGV[6]
if redis.call('EXISTS', record) == 1 then return nil end
local applicable, keys = {}, {}
for _, name in ipairs(cjson.decode(ARGV[4])) do applicable[name] = true end
for _, key in ipairs(cjson.decode(ARGV[5])) do keys[key] = true end
for index, entry in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  local fault = cjson.decode(entry)
  local path_fits = fault.path == cjson.null or fault.path == ARGV[3]
  local key_fits = fault.key == cjson.null or keys[fault.key]
  if fault.profile == ARGV[2] and applicable[fault.fault] and path_fits and key_fits then
    if fault.remaining > 1 then
      fault.remaining = fault.remaining - 1
      redis.call('LSET', queue, index - 1, cjson.encode(fault))
    else
      redis.call('LSET', queue, index - 1, 'taken')
      redis.call('LREM', queue, 1, 'taken')
    end
    redis.call('SET', record, entry, 'EX', ARGV[7])
    return entry
  end
end
return nil
""")  # fmt: skip
# ARGV: prefix, the take's id, the seconds it is remembered. The fault a take whose answer was lost took goes back
# where it was (one more use if it is still queued), so that it fails a request after all; a take that has not come
# yet takes nothing when it does. 1 if a fault went back.
GIVE_BACK = in_era("""
local queue, record = ARGV[1] .. 'faults', base .. 'fault-take:' .. ARGV[2]
local entry = redis.call('GET', record)
redis.call('SET', record, 'given back', 'EX', ARGV[3])
if not entry or entry == 'given back' then return 0 end
local fault = cjson.decode(entry)
for index, queued in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  local other = cjson.decode(queued)
  if other.id == fault.id then
    other.remaining = other.remaining + 1
    redis.call('LSET', queue, index - 1, cjson.encode(other))
    return 1
  end
  if other.id > fault.id then
    fault.remaining = 1
    redis.call('LINSERT', queue, 'BEFORE', queued, cjson.encode(fault))
    return 1
  end
end
fault.remaining = 1
redis.call('RPUSH', queue, cjson.encode(fault))
return 1
""")  # fmt: skip
# ARGV: prefix, the take's id: its answer came.
TAKEN = in_era("return redis.call('DEL', base .. 'fault-take:' .. ARGV[2])")
# ARGV: prefix, the profile whose faults go ('' for every profile's).
CLEAR = """
local queue = ARGV[1] .. 'faults'
if ARGV[2] == '' then return redis.call('DEL', queue) end
for _, entry in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  if cjson.decode(entry).profile == ARGV[2] then redis.call('LREM', queue, 1, entry) end
end
return 0
"""


class SharedFaultQueue:
    """FaultQueue's interface (state/faults.py), over Redis."""

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._take, self._taken, self._give_back = shared.script(TAKE), shared.script(TAKEN), shared.script(GIVE_BACK)
        self._clear = shared.script(CLEAR)

    def add(self, profile: str, forced: Forced, times: int, path: str | None, key: str | None = None) -> QueuedFault:
        queued = QueuedFault(self._shared.redis.incr(self._shared.key("fault-id")), profile, forced, times, path, key)
        self._shared.redis.rpush(self._queue(), json.dumps(queued.as_json()))
        return queued

    def take(
        self, profile: str, endpoint: str, applicable: Collection[str], keys: Callable[[], Collection[str]]
    ) -> Forced | None:
        """Use up one queued fault that fits this request, oldest first, whichever server queued it. If Redis cannot be
        reached, what it may have taken is given back once it can."""
        take = self._shared.step_id()
        fits = [PREFIX, profile, endpoint, json.dumps(sorted(applicable)), json.dumps(list(keys()))]
        try:
            entry = self._take(args=[*fits, take, RECORD_SECONDS])
        except UNAVAILABLE:
            self._give_back.later(args=[PREFIX, take, RECORD_SECONDS], kept=True)
            raise
        if entry is None:
            return None
        self._taken.later(args=[PREFIX, take])
        return queued(json.loads(entry)).forced

    def pending(self) -> list[QueuedFault]:
        return [queued(json.loads(entry)) for entry in self._shared.redis.lrange(self._queue(), 0, -1)]

    def clear(self, profile: str | None = None) -> None:
        self._clear(args=[PREFIX, profile or ""])

    def _queue(self) -> str:
        return self._shared.key("faults")


def queued(fields: dict) -> QueuedFault:
    """A queued fault from its JSON (QueuedFault.as_json)."""
    options = {name: value for name, value in fields.items() if name in FaultOptions.__dataclass_fields__}
    forced = Forced(fields["fault"], FaultOptions.read(options))
    return QueuedFault(fields["id"], fields["profile"], forced, fields["remaining"], fields["path"], fields["key"])

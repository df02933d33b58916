"""Queued faults in Redis, for servers that share one (state/shared.py): one list, taken from by one script, so
that a fault queued through any server fails exactly the requests it was queued for, across all. A reset empties
it as it does the in-memory queue. Whether any fault is queued, which every call asks first, is read in the round
trip that begins a call (State.call_start)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

from .faults import FaultOptions, Forced, QueuedFault
from .shared import PREFIX, SharedState

# ARGV: prefix, profile, endpoint, the fault names that apply (JSON), the request's keys (JSON). The fault taken.
TAKE = """
local queue = ARGV[1] .. 'faults'
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
    return entry
  end
end
return nil
"""
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
        self._take, self._clear = shared.script(TAKE), shared.script(CLEAR)

    def add(self, profile: str, forced: Forced, times: int, path: str | None, key: str | None = None) -> QueuedFault:
        queued = QueuedFault(self._shared.redis.incr(self._shared.key("fault-id")), profile, forced, times, path, key)
        self._shared.redis.rpush(self._queue(), json.dumps(queued.as_json()))
        return queued

    def take(
        self, profile: str, endpoint: str, applicable: Collection[str], keys: Callable[[], Collection[str]]
    ) -> Forced | None:
        """Use up one queued fault that fits this request, oldest first, whichever server queued it."""
        entry = self._take(args=[PREFIX, profile, endpoint, json.dumps(sorted(applicable)), json.dumps(list(keys()))])
        return None if entry is None else queued(json.loads(entry)).forced

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

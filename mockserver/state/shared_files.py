"""Generated files in Redis, for servers that share one (state/shared.py), so that an image URL works from any of
them: each content once, under its digest, and each file a hash naming it. Both expire in Redis when the file does
on the mock's clock as it reads now (a file that never expires is kept until newer ones push it out, as in memory:
--files-max-count counts across the servers). A reset forgets them with the era.
"""

from __future__ import annotations

import hashlib
import math

from .files import StoredFile
from .ledger import Charge
from .shared import PREFIX, SharedState, in_era

# ARGV: prefix, name, digest, media type, created at, expires at ('' for never), seconds to keep it (0 for ever), the
# most files kept, and the content, left out where Redis may have it already. 0 if the content is needed, else 1.
PUT = """
local prefix = ARGV[1]
local base = prefix .. (redis.call('GET', prefix .. 'era') or '0') .. ':'
local name, digest, seconds, given = ARGV[2], ARGV[3], tonumber(ARGV[7]), ARGV[9]
if not given and redis.call('EXISTS', base .. 'content:' .. digest) == 0 then return 0 end
local function forget(file_name)  -- a file, and its content once no file names it (but the one being put)
  local file = base .. 'file:' .. file_name
  local old = redis.call('HGET', file, 'digest')
  redis.call('DEL', file)
  if old then
    redis.call('SREM', base .. 'named:' .. old, file_name)
    if old ~= digest and redis.call('SCARD', base .. 'named:' .. old) == 0 then
      redis.call('DEL', base .. 'content:' .. old, base .. 'named:' .. old)
    end
  end
end
local function keep(key, left)  -- for as long as its longest-lived file; for ever if one is (left: its TTL before)
  if seconds == 0 then redis.call('PERSIST', key) elseif left == -2 or (left >= 0 and left < seconds) then
    redis.call('EXPIRE', key, seconds) end
end
forget(name)
local content, named = base .. 'content:' .. digest, base .. 'named:' .. digest
local content_left, named_left = redis.call('TTL', content), redis.call('TTL', named)
if given then redis.call('SET', content, given, 'KEEPTTL') end
keep(content, content_left)
redis.call('SADD', named, name)
keep(named, named_left)
local file = base .. 'file:' .. name
redis.call('HSET', file, 'digest', digest, 'media_type', ARGV[4], 'created_at', ARGV[5], 'expires_at', ARGV[6])
if seconds > 0 then redis.call('EXPIRE', file, seconds) end
local files = base .. 'files'
redis.call('ZADD', files, redis.call('INCR', base .. 'file-number'), name)
local over = redis.call('ZCARD', files) - tonumber(ARGV[8])
if over > 0 then
  for _, oldest in ipairs(redis.call('ZRANGE', files, 0, over - 1)) do forget(oldest) end
  redis.call('ZREMRANGEBYRANK', files, 0, over - 1)
end
return 1
"""
# ARGV: prefix, name. {media type, created at, expires at, content}, or nothing.
GET = in_era("""
local file = redis.call('HMGET', base .. 'file:' .. ARGV[2], 'media_type', 'created_at', 'expires_at', 'digest')
if not file[1] then return nil end
local content = redis.call('GET', base .. 'content:' .. file[4])
if not content then return nil end
return {file[1], file[2], file[3], content}
""")  # fmt: skip


class SharedFileStore:
    """FileStore's interface (state/files.py), over Redis."""

    def __init__(self, shared: SharedState, max_count: int) -> None:
        self._shared = shared
        self._max_count = max_count
        self._put = shared.binary.register_script(PUT)
        self._get = shared.binary.register_script(GET)

    def put(self, file: StoredFile, charge: Charge | None = None) -> None:
        """Keep the file for every server. (`charge` is for a store's restart; a dead server's files stay.)"""
        self.put_all([file])

    def put_all(self, files: list[StoredFile], charge: Charge | None = None) -> None:
        """Keep the files, in one round trip if Redis has their contents (a cached image is a new file of a content
        already there), else one more to send those it lacks."""
        described = [self._described(file) for file in files]
        kept = self._shared.binary_trips.run([(self._put, args) for args in described])
        for file, args, found in zip(files, described, kept, strict=True):
            if not found:
                self._shared.binary_trips.one(self._put, [*args, file.content])

    def _described(self, file: StoredFile) -> list[object]:
        digest = hashlib.sha256(file.content).hexdigest()
        seconds = 0 if file.expires_at is None else max(1, math.ceil(file.expires_at - file.created_at))
        expires = "" if file.expires_at is None else repr(file.expires_at)
        return [PREFIX, file.name, digest, file.media_type, repr(file.created_at), expires, seconds, self._max_count]

    def get(self, name: str, now: float) -> StoredFile | None:
        found = self._shared.binary_trips.one(self._get, [PREFIX, name])
        if found is None:
            return None
        media_type, created_at, expires_at, content = found
        file = StoredFile(name, content, media_type.decode(), float(created_at),
                          float(expires_at) if expires_at else None)  # fmt: skip
        return file if file.alive(now) else None

    def clear(self) -> None:
        """Nothing to do: a reset begins a new era (SharedLedger.reset), and the files of the old one are gone."""

"""The Gemini API's uploaded files in Redis, for servers that share one (state/shared.py), so that a resumable upload
may start on one server and finish on another, and a generation on any name the file: each session a hash and the
bytes received so far, each file a hash and its content. The sessions are bounded by count, the files by
--files-max-count across the servers, and a file expires in Redis when it does on the mock's clock as it reads now.
A reset forgets them with the era.
"""

from __future__ import annotations

import json
import math

from .shared import PREFIX, SharedState, in_era
from .uploads import MAX_SESSIONS, Session, UploadedFile

# Forget the oldest entries of a sorted set of ids past `most`, and the keys each id names (`kinds` of it).
TRIM = """
local function trim(ids, most, kinds)
  local over = redis.call('ZCARD', ids) - most
  if over <= 0 then return end
  for _, oldest in ipairs(redis.call('ZRANGE', ids, 0, over - 1)) do
    for _, kind in ipairs(kinds) do redis.call('DEL', base .. kind .. oldest) end
  end
  redis.call('ZREMRANGEBYRANK', ids, 0, over - 1)
end
"""
# ARGV: prefix, upload id, API key, metadata (JSON), size, the most sessions kept.
BEGIN = in_era(TRIM, """
redis.call('HSET', base .. 'upload:' .. ARGV[2], 'api_key', ARGV[3], 'metadata', ARGV[4], 'size', ARGV[5])
redis.call('ZADD', base .. 'uploads', redis.call('INCR', base .. 'upload-number'), ARGV[2])
trim(base .. 'uploads', tonumber(ARGV[6]), {'upload:', 'upload-bytes:'})
""")  # fmt: skip
# ARGV: prefix, upload id. {API key, metadata, size, bytes received}, or nothing.
SESSION = in_era(
    """
local session = redis.call('HMGET', base .. 'upload:' .. ARGV[2], 'api_key', 'metadata', 'size')
if not session[1] then return nil end
return {session[1], session[2], session[3], redis.call('STRLEN', base .. 'upload-bytes:' .. ARGV[2])}
"""
)
# ARGV: prefix, upload id, offset, chunk. 1 if appended, 0 if the session is gone or has other bytes at the offset.
APPEND = in_era(
    """
local bytes = base .. 'upload-bytes:' .. ARGV[2]
if redis.call('EXISTS', base .. 'upload:' .. ARGV[2]) == 0 then return 0 end
if redis.call('STRLEN', bytes) ~= tonumber(ARGV[3]) then return 0 end
redis.call('APPEND', bytes, ARGV[4])
return 1
"""
)
# ARGV: prefix, upload id. {the bytes received}, the session ended; or nothing if it was not under way.
FINISH = in_era(
    """
local session, bytes = base .. 'upload:' .. ARGV[2], base .. 'upload-bytes:' .. ARGV[2]
if redis.call('EXISTS', session) == 0 then return nil end
local content = redis.call('GET', bytes) or ''
redis.call('DEL', session, bytes)
redis.call('ZREM', base .. 'uploads', ARGV[2])
return {content}
"""
)
FIELDS = ("api_key", "mime_type", "display_name", "size", "sha256", "created_at", "expires_at")
FIELD_NAMES = "local fields = {" + ", ".join(f"'{field}'" for field in FIELDS) + "}\n"
# ARGV: prefix, file id, its FIELDS, seconds to keep it, the most files kept, content.
KEEP = in_era(TRIM, """
local file = base .. 'uploaded:' .. ARGV[2]
redis.call('HSET', file, 'api_key', ARGV[3], 'mime_type', ARGV[4], 'display_name', ARGV[5], 'size', ARGV[6],
           'sha256', ARGV[7], 'created_at', ARGV[8], 'expires_at', ARGV[9])
redis.call('SET', base .. 'uploaded-bytes:' .. ARGV[2], ARGV[12])
redis.call('EXPIRE', file, ARGV[10])
redis.call('EXPIRE', base .. 'uploaded-bytes:' .. ARGV[2], ARGV[10])
redis.call('ZADD', base .. 'uploaded', redis.call('INCR', base .. 'uploaded-number'), ARGV[2])
trim(base .. 'uploaded', tonumber(ARGV[11]), {'uploaded:', 'uploaded-bytes:'})
""")  # fmt: skip
# ARGV: prefix, API key. The FIELDS of each of the key's files, newest first, each after its id (those Redis let
# expire are forgotten).
LISTED = in_era(
    FIELD_NAMES,
    """
local files, found = base .. 'uploaded', {}
for _, id in ipairs(redis.call('ZREVRANGE', files, 0, -1)) do
  local file = redis.call('HMGET', base .. 'uploaded:' .. id, unpack(fields))
  if not file[1] then redis.call('ZREM', files, id)
  elseif file[1] == ARGV[2] then found[#found + 1] = {id, unpack(file)} end
end
return found
""",
)
# ARGV: prefix, file id. Its FIELDS (nil each if there is none).
FILE = in_era(FIELD_NAMES, "return redis.call('HMGET', base .. 'uploaded:' .. ARGV[2], unpack(fields))")
# ARGV: prefix, file id. Its content, or nothing.
CONTENT = in_era("return redis.call('GET', base .. 'uploaded-bytes:' .. ARGV[2])")
# ARGV: prefix, file id.
DELETE = in_era(
    """
redis.call('DEL', base .. 'uploaded:' .. ARGV[2], base .. 'uploaded-bytes:' .. ARGV[2])
redis.call('ZREM', base .. 'uploaded', ARGV[2])
"""
)


class SharedUploads:
    """Uploads' interface (state/uploads.py), over Redis."""

    def __init__(self, shared: SharedState, max_count: int) -> None:
        self._max_count = max_count
        register = shared.binary.register_script  # the bytes go as they are
        self._begin, self._session, self._append = register(BEGIN), register(SESSION), register(APPEND)
        self._finish, self._keep, self._listed = register(FINISH), register(KEEP), register(LISTED)
        self._file, self._content, self._delete = register(FILE), register(CONTENT), register(DELETE)

    def begin(self, upload_id: str, session: Session) -> None:
        self._begin(args=[PREFIX, upload_id, session.api_key, json.dumps(session.metadata), session.size,
                          MAX_SESSIONS])  # fmt: skip

    def session(self, upload_id: str) -> Session | None:
        found = self._session(args=[PREFIX, upload_id])
        if found is None:
            return None
        api_key, metadata, size, received = found
        return Session(api_key.decode(), json.loads(metadata), int(size), int(received))

    def append(self, upload_id: str, offset: int, chunk: bytes) -> bool:
        return bool(self._append(args=[PREFIX, upload_id, offset, chunk]))

    def finish(self, upload_id: str) -> bytes | None:
        found = self._finish(args=[PREFIX, upload_id])
        return None if found is None else found[0]

    def keep(self, file: UploadedFile, content: bytes) -> bool:
        seconds = max(1, math.ceil(file.expires_at - file.created_at))
        fields = [file.api_key, file.mime_type, file.display_name or "", file.size, file.sha256,
                  repr(file.created_at), repr(file.expires_at)]  # fmt: skip
        self._keep(args=[PREFIX, file.id, *fields, seconds, self._max_count, content])
        return True  # Redis' memory bounds their bytes

    def of(self, api_key: str, file_id: str, now: float) -> UploadedFile | None:
        found = self._file(args=[PREFIX, file_id])
        if found[0] is None:
            return None
        file = uploaded(file_id, found)
        return file if file.api_key == api_key and now < file.expires_at else None

    def content(self, file_id: str) -> bytes | None:
        return self._content(args=[PREFIX, file_id])

    def listed(self, api_key: str, now: float) -> list[UploadedFile]:
        files = [uploaded(found[0].decode(), found[1:]) for found in self._listed(args=[PREFIX, api_key])]
        return [file for file in files if now < file.expires_at]

    def delete(self, file_id: str) -> None:
        self._delete(args=[PREFIX, file_id])

    def clear(self) -> None:
        """Nothing to do: a reset begins a new era (SharedLedger.reset), and the uploads of the old one are gone."""


def uploaded(file_id: str, fields: list[bytes]) -> UploadedFile:
    """The file of that id, from its FIELDS as Redis keeps them."""
    api_key, mime_type, display_name, size, sha256, created_at, expires_at = (field.decode() for field in fields)
    return UploadedFile(api_key, file_id, mime_type, display_name or None, int(size), sha256, float(created_at),
                        float(expires_at))  # fmt: skip

"""The gallery in Redis, for servers that share one (state/shared.py), so that `/_mock/images` lists what every
server handed out and any of them serves each image: each entry its spec as JSON (an edit's images in base64), in a
list newest first, within the gallery's count and about its byte budget. An entry goes with the server's next round
trip (Script.later), as the journal's entry that follows it. A reset forgets them with the era.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..images.spec import ImageSpec
from .clock import Clock
from .gallery import Shown
from .shared import PREFIX, SharedState, in_era

# ARGV: prefix, the entry (JSON), the most entries kept, the most bytes. 0 if the entry alone is over the bytes.
ADD = in_era("""
local gallery, entry, most, budget = base .. 'gallery', ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if #entry > budget then return 0 end
local id = redis.call('INCR', base .. 'shown-number')
redis.call('SET', base .. 'shown:' .. id, entry)
redis.call('LPUSH', gallery, id)
local bytes = redis.call('INCRBY', base .. 'gallery-bytes', #entry)
while redis.call('LLEN', gallery) > most or bytes > budget do
  local oldest = base .. 'shown:' .. redis.call('RPOP', gallery)
  bytes = redis.call('DECRBY', base .. 'gallery-bytes', redis.call('STRLEN', oldest))
  redis.call('DEL', oldest)
end
return id
""")  # fmt: skip
# ARGV: prefix. Each entry newest first, after its id.
RECENT = in_era("""
local found = {}
for _, id in ipairs(redis.call('LRANGE', base .. 'gallery', 0, -1)) do
  found[#found + 1] = {id, redis.call('GET', base .. 'shown:' .. id)}
end
return found
""")  # fmt: skip
# ARGV: prefix, id. Its entry, or nothing.
GET = in_era("return redis.call('GET', base .. 'shown:' .. ARGV[2])")


class SharedGallery:
    """Gallery's interface (state/gallery.py), over Redis."""

    def __init__(self, shared: SharedState, clock: Clock, max_count: int, max_bytes: int) -> None:
        self._clock = clock
        self._max_count, self._max_bytes = max_count, max_bytes
        self._add, self._recent, self._get = shared.script(ADD), shared.script(RECENT), shared.script(GET)

    def add(self, spec: ImageSpec, content: bytes) -> None:
        entry = {"time": self._clock.now(), "size": len(content), "spec": spec_as_json(spec)}
        self._add.later([PREFIX, json.dumps(entry), self._max_count, self._max_bytes])

    def get(self, image_id: int) -> Shown | None:
        entry = self._get([PREFIX, image_id])
        return None if entry is None else shown(image_id, entry)

    def recent(self, profile: str | None = None) -> list[Shown]:
        """Newest first."""
        every = (shown(int(image_id), entry) for image_id, entry in self._recent([PREFIX]) if entry is not None)
        return [s for s in every if profile in (None, s.spec.profile)]

    def clear(self) -> None:
        """Nothing to do: a reset begins a new era (SharedLedger.reset), and the gallery of the old one is gone."""


def shown(image_id: int, entry: str) -> Shown:
    fields = json.loads(entry)
    return Shown(image_id, fields["time"], spec_of_json(fields["spec"]), fields["size"])


def spec_as_json(spec: ImageSpec) -> dict[str, Any]:
    encoded = {name: base64.b64encode(value).decode() for name in ("base", "mask") if (value := getattr(spec, name))}
    fields = {name: getattr(spec, name) for name in ImageSpec.__dataclass_fields__}  # asdict's deep copy: 14 µs
    return fields | encoded


def spec_of_json(fields: dict[str, Any]) -> ImageSpec:
    decoded = {name: base64.b64decode(value) for name in ("base", "mask") if (value := fields[name])}
    return ImageSpec(**fields | decoded | {"tint": tuple(fields["tint"]) if fields["tint"] else None})

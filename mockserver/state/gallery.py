"""The images the mock handed out lately: for the dashboard, and for tests that ask what a client got.

It keeps each image's spec, not its bytes: the drawing is deterministic, so an image asked for is drawn again from
its spec (the renderer's cache has it, unless it has been pushed out), by whichever server is asked.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

from ..images.spec import ImageSpec
from .bounded import BoundedMap
from .clock import Clock, iso


@dataclass(frozen=True)
class Shown:
    id: int
    time: float
    spec: ImageSpec
    size: int  # the bytes handed out

    def as_json(self) -> dict[str, Any]:
        s = self.spec
        return {
            "id": self.id, "time": iso(self.time), "profile": s.profile, "model": s.model, "prompt": s.prompt,
            "width": s.width, "height": s.height, "format": s.format, "bytes": self.size,
            "url": f"/_mock/images/{self.id}", "thumbnail": f"/_mock/images/{self.id}?thumbnail=true",
        }  # fmt: skip


class Gallery:
    def __init__(self, clock: Clock, max_count: int, max_bytes: int) -> None:
        self._clock = clock
        self._shown: BoundedMap[int, Shown] = BoundedMap(max_count, max_bytes, lambda s: s.spec.footprint)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: ImageSpec, content: bytes) -> None:
        with self._lock:
            shown = Shown(next(self._ids), self._clock.now(), spec, len(content))
        self._shown.put(shown.id, shown)

    def get(self, image_id: int) -> Shown | None:
        return self._shown.get(image_id)

    def recent(self, profile: str | None = None) -> list[Shown]:
        """Newest first."""
        return [s for s in reversed(self._shown.values()) if profile in (None, s.spec.profile)]

    def clear(self) -> None:
        self._shown.clear()

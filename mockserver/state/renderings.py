"""The images drawn lately, kept so that identical requests cost almost nothing: the drawing and encoding
are done by the renderer's workers, off the event loop."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from operator import itemgetter
from typing import Any

from ..images.drawing import drawn, shrink
from ..images.spec import ImageSpec
from ..images.workers import Workers
from .bounded import BoundedMap
from .gallery import Gallery
from .metrics import Metrics
from .shared_gallery import SharedGallery


class Renderer:
    """Renders specs, keeping recent results so identical requests cost almost nothing; the drawing and
    encoding are done by its `workers`. What it keeps counts against its budget keys and all: a key holds its
    spec, and with it the prompt and an edit's input images."""

    def __init__(
        self,
        cache_bytes: int,
        gallery: Gallery | SharedGallery | None = None,
        workers: int = 1,
        metrics: Metrics | None = None,
    ) -> None:
        self._cache: BoundedMap[object, tuple[Any, int]] = BoundedMap(1_000_000, cache_bytes, itemgetter(1), lru=True)
        self.gallery = gallery
        self.workers = Workers(workers)
        self._metrics = metrics or Metrics()

    async def render(self, spec: ImageSpec, shown: bool = True) -> bytes:
        """The spec's bytes; `shown` ones (not a stand-in for a client's input) go to the gallery too."""
        content = await self._kept(spec, spec, lambda: self._drawn(spec))
        if shown and self.gallery is not None:
            self.gallery.add(spec, content)
        return content

    async def _drawn(self, spec: ImageSpec) -> bytes:
        with self._metrics.render.time():
            return await self.workers.run(drawn, spec)

    async def base64(self, spec: ImageSpec) -> str:
        """The spec's bytes in base64, as JSON answers carry them (kept too, as they cost more than the lookup)."""
        content = await self.render(spec)

        async def encoded() -> str:
            return base64.b64encode(content).decode()

        return await self._kept(("base64", spec), spec, encoded)

    async def base64_all(self, specs: list[ImageSpec]) -> list[str]:
        """Several images of one answer, drawn side by side, then taken in order from the cache."""
        if len(specs) > 1:
            await asyncio.gather(*(self.render(spec, shown=False) for spec in specs))
        return [await self.base64(spec) for spec in specs]

    async def thumbnail(self, spec: ImageSpec, side: int) -> bytes:
        """The rendered image shrunk to fit `side` x `side`, as JPEG."""

        async def shrunk() -> bytes:
            return await self.workers.run(shrink, await self.render(spec, shown=False), side)

        return await self._kept((spec, side), spec, shrunk)

    async def _kept(self, key: object, spec: ImageSpec, make: Callable[[], Awaitable[Any]]) -> Any:
        """What `make` makes for `key`, from the cache if it is there (counted with the spec the key holds)."""
        entry = self._cache.get(key)
        if entry is None:
            value = await make()
            entry = (value, len(value) + spec.footprint)
            self._cache.put(key, entry)
        return entry[0]

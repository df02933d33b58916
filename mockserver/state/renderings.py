"""The images drawn lately, kept so that identical requests cost almost nothing: the drawing and encoding
are done by the renderer's workers, off the event loop."""

from __future__ import annotations

import asyncio
import base64

from ..images.drawing import drawn, shrink
from ..images.spec import ImageSpec
from ..images.workers import Workers
from .bounded import BoundedMap
from .gallery import Gallery


class Renderer:
    """Renders specs, keeping recent results so identical requests cost almost nothing; the drawing and
    encoding are done by its `workers`."""

    def __init__(self, cache_bytes: int, gallery: Gallery | None = None, workers: int = 1) -> None:
        self._cache: BoundedMap[object, bytes | str] = BoundedMap(1_000_000, cache_bytes, len, lru=True)
        self.gallery = gallery
        self.workers = Workers(workers)

    async def render(self, spec: ImageSpec, shown: bool = True) -> bytes:
        """The spec's bytes; `shown` ones (not a stand-in for a client's input) go to the gallery too."""
        cached = self._cache.get(spec)
        if cached is None:
            cached = await self.workers.run(drawn, spec)
            self._cache.put(spec, cached)
        if shown and self.gallery is not None:
            self.gallery.add(spec, cached)
        return cached

    async def base64(self, spec: ImageSpec) -> str:
        """The spec's bytes in base64, as JSON answers carry them (kept too, as they cost more than the lookup)."""
        content = await self.render(spec)
        key = ("base64", spec)
        cached = self._cache.get(key)
        if cached is None:
            cached = base64.b64encode(content).decode()
            self._cache.put(key, cached)
        return cached

    async def base64_all(self, specs: list[ImageSpec]) -> list[str]:
        """Several images of one answer, drawn side by side, then taken in order from the cache."""
        if len(specs) > 1:
            await asyncio.gather(*(self.render(spec, shown=False) for spec in specs))
        return [await self.base64(spec) for spec in specs]

    async def thumbnail(self, spec: ImageSpec, side: int) -> bytes:
        """The rendered image shrunk to fit `side` x `side`, as JPEG."""
        key = (spec, side)
        cached = self._cache.get(key)
        if cached is None:
            cached = await self.workers.run(shrink, await self.render(spec, shown=False), side)
            self._cache.put(key, cached)
        return cached

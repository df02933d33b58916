"""What an image is to be: its prompt, pixel size and format, and what it starts from, for an edit."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class ImageSpec:
    prompt: str
    width: int
    height: int
    model: str
    profile: str
    seed: int = 0
    format: str = "png"
    tint: tuple[int, int, int] | None = None  # a colour from the client's reference image, on top
    base: bytes | None = None  # an image to edit: the result is drawn from it instead of a gradient
    mask: bytes | None = None  # of an edit: only where its alpha is 0 does the result differ from `base`
    transparent: bool = False  # a real alpha channel: the corners, outside the subject, are see-through
    quality: int | None = None  # of JPEG and WebP, 0-100; None for the encoder's default

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def footprint(self) -> int:
        """The bytes it holds, roughly: its prompt and an edit's images (for the caches that keep specs)."""
        return sys.getsizeof(self.prompt) + len(self.base or b"") + len(self.mask or b"")


def variants(spec: ImageSpec, count: int) -> list[ImageSpec]:
    """`count` distinct images for one request: the second and later say which of them they are."""
    return [spec] + [replace(spec, prompt=f"{spec.prompt} ({i} of {count})") for i in range(2, count + 1)]

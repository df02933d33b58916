"""What the kit checks of an image a server returns: that it decodes, its format, and its shape.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from fractions import Fraction

from PIL import Image, UnidentifiedImageError

from .failures import WrongImage


def decode(content: bytes, where: str) -> Image.Image:
    try:
        picture = Image.open(io.BytesIO(content))
        picture.load()
    except (UnidentifiedImageError, OSError) as problem:
        raise WrongImage(f"{where} is not an image: {problem}") from None
    return picture


def nearest_ratio(width: int, height: int, ratios: Iterable[str]) -> str:
    """Of the documented ratios ('16:9', ...), the one closest to the picture's shape."""
    shape = Fraction(width, height)
    return min(ratios, key=lambda ratio: abs(Fraction(*map(int, ratio.split(":"))) - shape))


def assert_shaped_like(picture: Image.Image, ratio: str, ratios: Iterable[str], where: str) -> None:
    width, height = picture.size
    nearest = nearest_ratio(width, height, ratios)
    WrongImage.unless(
        nearest == ratio,
        f"{where}: asked for {ratio}, got {width}x{height}, which is {nearest}",
        expected=ratio,
        got=nearest,
    )

"""A spec's picture, drawn and encoded: the same spec gives the same bytes, every time, on every machine
with the same Pillow.

Each picture says what it is (prompt excerpt, pixel size, model, profile) on a background derived
from the prompt and the seed, so a person debugging a client can tell images apart at a glance.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
import unicodedata
from functools import cache

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from .spec import ImageSpec

PROMPT_LINES = 4
DEFAULT_QUALITY = 90  # of JPEG and WebP
WEBP_METHOD = 0  # libwebp's fastest
PNG_COMPRESSION = 1  # zlib's fastest: the pictures are flat, so it still compresses them well
EDIT_STRENGTH = 0.2  # how much of the prompt's own picture an edit lays over the image it starts from


def palette(spec: ImageSpec) -> list[tuple[int, int, int]]:
    digest = hashlib.sha256(f"{spec.seed}\0{spec.prompt}".encode("utf-8", "surrogatepass")).digest()
    colours = [tuple(digest[i : i + 3]) for i in range(0, 15, 3)]
    return [spec.tint, *colours[1:]] if spec.tint else colours  # type: ignore[list-item]


def draw(spec: ImageSpec) -> Image.Image:
    """The picture: a palette image (fast to draw and to encode) unless it edits a base, which needs colour."""
    if spec.base is None:
        image = generated(spec)
    else:
        original = fitted(spec.base, spec.width, spec.height)
        image = Image.blend(original, generated(spec).convert("RGB"), EDIT_STRENGTH)
    caption(image, spec)
    if spec.transparent:
        image = cut_out(image)
    if spec.base is not None and spec.mask is not None:
        image = Image.composite(image, original.convert(image.mode), editable_region(spec.mask, image.size))
    return image


# A generated picture is a palette image: GRADIENT_STEPS colours from top to bottom, then the shapes' colours,
# then white; and the same again darkened, for the caption band.
GRADIENT_STEPS = 100
SHAPES = 3
WHITE = GRADIENT_STEPS + SHAPES
DARKENED = WHITE + 1  # index of the darkened copy of colour 0
BAND_DARKNESS = 0.4  # the caption band keeps this much of the picture's light


def generated(spec: ImageSpec) -> Image.Image:
    top, bottom, *shapes = palette(spec)
    steps = [tuple(a + (b - a) * i // (GRADIENT_STEPS - 1) for a, b in zip(top, bottom, strict=True))
             for i in range(GRADIENT_STEPS)]  # fmt: skip
    colours = [*steps, *shapes, (255, 255, 255)]
    darkened = [tuple(int(c * BAND_DARKNESS) for c in colour) for colour in colours]
    w, h = spec.width, spec.height
    strip = Image.new("P", (1, h))
    strip.putdata([y * (GRADIENT_STEPS - 1) // max(1, h - 1) for y in range(h)])
    image = strip.resize((w, h), Image.Resampling.NEAREST)
    image.putpalette([channel for colour in colours + darkened for channel in colour])
    pen = ImageDraw.Draw(image)
    for i, colour in enumerate(shapes):
        cx, cy = (colour[0] * w) // 255, (colour[1] * h) // 255
        radius = max(2, min(w, h) // (4 + i * 2))
        pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=GRADIENT_STEPS + i,
                    width=max(1, radius // 8))  # fmt: skip
    return image


def fitted(content: bytes, width: int, height: int, resample: int = Image.Resampling.BICUBIC) -> Image.Image:
    """An image scaled to cover width x height and cropped to it around its centre."""
    with Image.open(io.BytesIO(content)) as original:
        mode = "RGBA" if resample == Image.Resampling.NEAREST else "RGB"
        return ImageOps.fit(original.convert(mode), (width, height), resample)


def editable_region(mask: bytes, size: tuple[int, int]) -> Image.Image:
    """Where an edit may change the picture: the mask's fully transparent pixels (white in the result)."""
    alpha = fitted(mask, *size, resample=Image.Resampling.NEAREST).getchannel("A")
    return alpha.point(lambda value: 255 if value == 0 else 0)


def cut_out(image: Image.Image) -> Image.Image:
    """The picture with a see-through background: only the subject (an inscribed ellipse) and the caption
    band stay opaque."""
    alpha = Image.new("L", image.size, 0)
    pen = ImageDraw.Draw(alpha)
    pen.ellipse((0, 0, image.width - 1, image.height - 1), fill=255)
    band_top = image.height - caption_height(image.width, image.height)
    pen.rectangle((0, band_top, image.width, image.height), fill=255)
    cut = image.convert("RGBA")
    cut.putalpha(alpha)
    return cut


def caption(image: Image.Image, spec: ImageSpec) -> None:
    """Write the prompt excerpt and the facts of the image on a dark band at the bottom."""
    size = font_size(spec.width, spec.height)
    font = font_of(size)
    margin = size // 2
    per_line = max(8, int((spec.width - 2 * margin) / (size * 0.55)))
    lines = textwrap.wrap(printable(spec.prompt), per_line, max_lines=PROMPT_LINES, placeholder=" …") or ["(no prompt)"]
    lines += [f"{spec.width}x{spec.height}  {spec.format.upper()}  {spec.model}", f"{spec.profile}  seed {spec.seed}"]
    band_height = caption_height(spec.width, spec.height, len(lines))
    box = (0, spec.height - band_height, spec.width, spec.height)
    image.paste(image.crop(box).point(darkening(image.mode)), box)
    pen = ImageDraw.Draw(image)
    y = box[1] + margin
    white = WHITE if image.mode == "P" else (255, 255, 255)
    for line in lines:
        pen.text((margin, y), line, fill=white, font=font)
        y += size + margin // 2


def darkening(mode: str) -> list[int]:
    """The lookup table that darkens the caption band: palette indices to their darkened copies, or levels."""
    if mode == "P":
        return [index + DARKENED if index < DARKENED else index for index in range(256)]
    return [int(level * BAND_DARKNESS) for level in range(256)] * len(mode)


def caption_height(width: int, height: int, lines: int = PROMPT_LINES + 2) -> int:
    margin = font_size(width, height) // 2
    return min(height, lines * (2 * margin + margin // 2) + 2 * margin)


def font_size(width: int, height: int) -> int:
    return 2 * (max(8, min(width, height) // 24) // 2)  # even, so that margins split it exactly


@cache
def font_of(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def printable(text: str) -> str:
    """The text without control characters, which fonts cannot draw."""
    return "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)


def drawn(spec: ImageSpec) -> bytes:
    """The spec's picture, encoded: all of it off the event loop, as Pillow lets other threads run meanwhile."""
    return encode(draw(spec), spec.format, spec.quality)


def shrink(content: bytes, side: int) -> bytes:
    image = Image.open(io.BytesIO(content))
    image.draft("RGB", (side, side))  # a JPEG decodes straight to a fraction of its size: ~half the time
    image.thumbnail((side, side))
    return encode(image, "jpeg")


def blurred(content: bytes, fmt: str, radius: float) -> bytes:
    """The picture, blurred: a streamed generation's partial image, rougher the earlier it comes."""
    with Image.open(io.BytesIO(content)) as image:
        full = image.convert("RGBA" if image.has_transparency_data else "RGB")  # a PNG may hold a palette
        return encode(full.filter(ImageFilter.GaussianBlur(radius)), fmt)


def encode(image: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", compress_level=PNG_COMPRESSION)
    elif fmt == "jpeg":
        image.convert("RGB").save(out, "JPEG", quality=max(1, DEFAULT_QUALITY if quality is None else quality))
    else:
        image = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
        image.save(out, "WEBP", quality=DEFAULT_QUALITY if quality is None else quality, method=WEBP_METHOD)
    return out.getvalue()

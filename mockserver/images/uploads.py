"""Images that clients send: checked against the size and pixel limits, decoded, summarised.

Pillow opens a file lazily, so the pixel count is checked from the header before anything is
decoded: a decompression bomb is refused without ever being expanded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool

from ..settings import Settings

# MPO is a JPEG with extra pictures appended (phone cameras write them); Pillow names it apart.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
ACCEPTED = "PNG, JPEG, WEBP, GIF"


class UploadError(ValueError):
    """Why an upload is not a usable image, said as the end of a sentence starting 'The file ...'."""


@dataclass(frozen=True)
class Upload:
    content: bytes
    media_type: str
    width: int
    height: int
    mean_colour: tuple[int, int, int]


def read_image(content: bytes, max_bytes: int, max_pixels: int) -> Upload:
    if len(content) > max_bytes:
        raise UploadError(too_large(max_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
    except Image.DecompressionBombError:
        raise UploadError(f"has more pixels than the limit of {max_pixels}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UploadError(f"is not an image ({ACCEPTED} are accepted)") from None
    if image.format not in FORMATS:
        raise UploadError(f"is {image.format}, not one of {ACCEPTED}")
    width, height = image.size
    if width * height > max_pixels:
        raise UploadError(f"is {width}x{height} pixels; the limit is {max_pixels} pixels")
    try:
        image.draft("RGB", (64, 64))  # JPEG decodes at a fraction of its size: enough for a colour
        mean = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UploadError("is truncated or corrupt") from None
    return Upload(content, FORMATS[image.format], width, height, mean)  # type: ignore[arg-type]


async def read_upload(content: bytes, settings: Settings) -> Upload:
    """read_image within the settings' limits, off the event loop."""
    return await run_in_threadpool(read_image, content, settings.upload_max_bytes, settings.upload_max_pixels)


def too_large(max_bytes: int) -> str:
    return f"is larger than the limit of {max_bytes} bytes"

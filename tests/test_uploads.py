"""Uploaded images: accepted formats, limits checked before decoding, a summary of the colours."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mockserver.images.uploads import UploadError, read_image

MIB = 1024 * 1024


def encoded(fmt: str, colour=(10, 200, 30), size=(20, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"),
                                                 ("GIF", "image/gif")])  # fmt: skip
def test_accepted_formats_are_read_with_their_size_and_colour(fmt, media_type):
    upload = read_image(encoded(fmt), MIB, 10_000)

    assert (upload.media_type, upload.width, upload.height) == (media_type, 20, 10)
    assert all(abs(a - b) < 12 for a, b in zip(upload.mean_colour, (10, 200, 30), strict=True))


def test_the_byte_limit_is_checked_first():
    with pytest.raises(UploadError, match="is larger than the limit of 10 bytes"):
        read_image(encoded("PNG"), 10, 10_000)


def test_the_pixel_limit_is_checked_from_the_header():
    with pytest.raises(UploadError, match="20x10 pixels; the limit is 199 pixels"):
        read_image(encoded("PNG"), MIB, 199)

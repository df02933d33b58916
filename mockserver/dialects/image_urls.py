"""OpenAI's references to an input image (``image_url``, in edits, chat messages and the Responses API): a base64
data URL, whose bytes are the image, or an https URL, which the mock never fetches: a placeholder drawn from the URL
stands in for it."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from ..images.spec import ImageSpec
from ..pipeline.endpoint import Call

PLACEHOLDER_SIDE = 1024  # the side of the placeholder of an https URL
DATA_URL = re.compile(r"data:image/[a-zA-Z0-9.+-]+;base64,([A-Za-z0-9+/=\s]+)")


def supported_url(reference: str) -> bool:
    if DATA_URL.fullmatch(reference):
        return True
    parts = urlsplit(reference)
    return parts.scheme == "https" and bool(parts.hostname)


async def referenced_bytes(call: Call, reference: str) -> bytes:
    """The bytes an image_url names: a data URL's (ValueError if they do not decode), or for an https URL (never
    fetched) a placeholder drawn from the URL. OpenAI's format, so its edits on every service."""
    data_url = DATA_URL.fullmatch(reference)
    if data_url is None:
        spec = ImageSpec(f"placeholder for {reference}", PLACEHOLDER_SIDE, PLACEHOLDER_SIDE, "image_url",
                         call.profile.name, call.state.settings.seed)  # fmt: skip
        return await call.state.renderer.render(spec, shown=False)
    try:
        return base64.b64decode(re.sub(r"\s", "", data_url[1]), validate=True)
    except binascii.Error as problem:
        raise ValueError(str(problem)) from None

"""The documented rules one exchange must keep, whoever sent it: what the validation proxy checks of each
request and answer, beyond the contract's shapes.

A rule takes the request's JSON body (None for another body) and the answer's JSON, and returns what
is wrong as failures of the kinds the kit raises (failures.py); an empty list when nothing is.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from typing import Any

from PIL import Image, UnidentifiedImageError

from .failures import Failure, WrongCharge, WrongImage, WrongJob, WrongUsage

Rule = Callable[[Any, Any, int], list[Failure]]
MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
VYDRA_PRICE = 5  # seed 001
GEMINIGEN_STATUSES = {1, 2, 3}  # seed 000: processing, completed, failed


def image_format(data: Any) -> str | None:
    """The format of a base64 image (PNG, JPEG, ...), or None when it is not one."""
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as picture:
            picture.verify()
            return picture.format
    except (binascii.Error, ValueError, TypeError, UnidentifiedImageError, OSError, SyntaxError):
        return None


def openai_images(request: Any, answer: Any, status: int) -> list[str]:
    if status != 200 or not isinstance(answer, dict):
        return []
    problems = []
    data = answer.get("data", [])
    asked = request.get("n", 1) if isinstance(request, dict) else None
    if isinstance(asked, int) and data and len(data) != asked:
        problems.append(WrongImage(f"asked for n={asked} images, got {len(data)}", expected=asked, got=len(data)))
    for i, item in enumerate(data):
        if image_format(item.get("b64_json")) is None:
            problems.append(WrongImage(f"data[{i}].b64_json is not a base64 image"))
    return problems


def gemini(request: Any, answer: Any, status: int) -> list[str]:
    if status != 200:
        return []
    problems = []
    for chunk in answer if isinstance(answer, list) else [answer]:
        if not isinstance(chunk, dict):
            continue
        for candidate in chunk.get("candidates", []):
            for part in candidate.get("content", {}).get("parts", []):
                blob = part.get("inlineData")
                if blob is None:
                    continue
                found = image_format(blob.get("data"))
                if MIME_TYPES.get(found or "") != blob.get("mimeType"):
                    said = blob.get("mimeType")
                    problems.append(WrongImage(f"an inlineData part says {said} but holds {found or 'no image'}"))
        usage = chunk.get("usageMetadata", {})
        if "totalTokenCount" in usage and "candidatesTokenCount" in usage:
            parts = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount")
            total = sum(usage.get(name, 0) for name in parts)
            if usage["totalTokenCount"] != total:
                message = f"usageMetadata.totalTokenCount {usage['totalTokenCount']} is not the sum {total}"
                problems.append(WrongUsage(message, expected=total, got=usage["totalTokenCount"]))
    return problems


def vydra(request: Any, answer: Any, status: int) -> list[str]:
    charged = answer.get("creditsCharged", VYDRA_PRICE) if status == 200 and isinstance(answer, dict) else VYDRA_PRICE
    if charged == VYDRA_PRICE:
        return []
    message = f"creditsCharged is {charged}, the seed's price is {VYDRA_PRICE}"
    return [WrongCharge(message, expected=VYDRA_PRICE, got=charged)]


def geminigen(request: Any, answer: Any, status: int) -> list[str]:
    records = answer.get("result", [answer]) if isinstance(answer, dict) else []
    problems = []
    for record in records:
        if not isinstance(record, dict) or "status" not in record:
            continue
        if record["status"] not in GEMINIGEN_STATUSES:
            problems.append(WrongJob(f"status {record['status']} is none of 1, 2, 3"))
        percentage = record.get("status_percentage")
        if isinstance(percentage, int) and not 0 <= percentage <= 100:
            problems.append(WrongJob(f"status_percentage {percentage} is outside 0-100"))
        if record["status"] == 2 and percentage != 100:
            problems.append(WrongJob(f"a completed job shows status_percentage {percentage}"))
    return problems


# The rules of each wire format (a contract's x-dialect).
RULES: dict[str, list[Rule]] = {
    "openai_images": [openai_images],
    "vydra": [vydra],
    "geminigen": [geminigen],
    "gemini": [gemini],
}

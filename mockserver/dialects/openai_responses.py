"""The Responses API's image_generation tool (openai/openai-openapi: ImageGenTool, ImageGenToolCall and the
response.image_generation_call.* events), only as far as image generation needs it.

``POST /v1/responses`` with ``tools: [{"type": "image_generation", ...}]`` draws one image from the input's text
(its first input_image, if any, is the image edited) with the tool's model, size, quality, background and
output format, charged as a generation of that model; the answer's output is one ``image_generation_call`` with
the base64 ``result``. With ``stream: true`` the answer is the Responses API's events, the tool's
``partial_images`` partial images among them. A request without the tool is answered with a short message: the
mock draws, it does not chat.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from ..images.uploads import Upload
from ..pipeline.endpoint import Call
from ..wire.jsonio import JSONResponse
from .image_urls import referenced_bytes, supported_url
from .models import estimated_tokens
from .openai_edits import sized_to_the_input, upload_of
from .openai_generation import (
    Generation,
    described,
    generation_of,
    image_specs,
    invalid,
    json_body,
    json_type,
    no_quota,
    opened,
    partial_images,
    rate_limited,
    typed,
)

RESPONSES = "/v1/responses"
FAULTS = ("overloaded", "rate-limit", "insufficient-credits")
TOOL_FIELDS = ("model", "quality", "size", "background", "output_format", "output_compression", "moderation")
NO_TOOL = "The mock draws images through the image_generation tool only; it has no other answers to give."


async def create(call: Call) -> Response:
    opening = await opened(call)
    body = json_body(call)
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise invalid(call, "Missing required parameter: 'model'.", "model", "missing_required_parameter")
    typed(call, body, "stream", bool)
    tools = typed(call, body, "tools", list) or []
    for index, given in enumerate(tools):
        if not isinstance(given, dict):
            message = f"Invalid type for 'tools[{index}]': expected an object, but got {json_type(given)} instead."
            raise invalid(call, message, f"tools[{index}]", "invalid_type")
    tool = next((t for t in tools if isinstance(t, dict) and t.get("type") == "image_generation"), None)
    text, images = await read_input(call, body.get("input"))
    if tool is None:
        return JSONResponse(response_of(call, body, [message_item(call)], "completed", text, 0))
    fields = {"prompt": text, "model": "gpt-image-1", **{name: tool[name] for name in TOOL_FIELDS if name in tool}}
    generation = sized_to_the_input(generation_of(call, fields, inputs=tuple(images[:1])))
    await call.fail_if_forced(
        {"rate-limit": lambda: rate_limited(call), "insufficient-credits": lambda: no_quota(call)}
    )
    with call.charged(opening.api_key, generation.price, lambda refused: no_quota(call)):
        if body.get("stream"):
            return await streamed(call, body, generation, int(tool.get("partial_images") or 0))
        item = await image_call(call, generation)
    return JSONResponse(response_of(call, body, [item], "completed", text, output_tokens(generation)))


async def read_input(call: Call, given: Any) -> tuple[str, list[Upload]]:
    """The input's text, joined, and its input images (by data URL; an https one stands in as a placeholder)."""
    if isinstance(given, str):
        return given, []
    texts, images = [], []
    for item in given if isinstance(given, list) else []:
        content = item.get("content") if isinstance(item, dict) else None
        for part in [{"type": "input_text", "text": content}] if isinstance(content, str) else content or []:
            if part.get("type") == "input_text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "input_image" and supported_url(str(part.get("image_url", ""))):
                images.append(await upload_of(call, await referenced_bytes(call, part["image_url"]), len(images)))
    if not texts:
        raise invalid(call, "Invalid 'input': expected a string or messages with input_text.", "input")
    return "\n".join(texts), images


async def image_call(call: Call, generation: Generation) -> dict[str, Any]:
    (spec,) = image_specs(call, replace(generation, count=1))
    result = base64.b64encode(await call.state.renderer.render(spec)).decode()
    return {**call_item(call, generation), "status": "completed", "result": result}


def call_item(call: Call, generation: Generation) -> dict[str, Any]:
    shown = described(generation)
    return {"type": "image_generation_call", "id": f"ig_{call.state.ids.hex(32)}", "status": "in_progress",
            "result": None, "revised_prompt": generation.prompt, "background": shown["background"],
            "output_format": shown["output_format"], "quality": shown["quality"], "size": shown["size"]}  # fmt: skip


def message_item(call: Call) -> dict[str, Any]:
    return {"type": "message", "id": f"msg_{call.state.ids.hex(32)}", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": NO_TOOL, "annotations": []}]}  # fmt: skip


def output_tokens(generation: Generation) -> int:
    return generation.model.image_tokens(generation.quality, generation.size)


def response_of(call: Call, body: dict, output: list, status: str, text: str, image_tokens: int) -> dict[str, Any]:
    tokens = estimated_tokens(text)
    return {
        "id": f"resp_{call.state.ids.hex(32)}", "object": "response", "created_at": int(call.state.clock.now()),
        "status": status, "model": body["model"], "output": output, "tools": body.get("tools") or [],
        "tool_choice": body.get("tool_choice", "auto"), "parallel_tool_calls": True, "error": None,
        "incomplete_details": None, "instructions": body.get("instructions"), "metadata": {},
        "temperature": 1.0, "top_p": 1.0,
        "usage": None if status != "completed" else {
            "input_tokens": tokens, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": image_tokens,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": tokens + image_tokens},
    }  # fmt: skip


async def streamed(call: Call, body: dict, generation: Generation, partials: int) -> Response:
    """The Responses API's events for the one image: created, in progress, the call's item added, in progress,
    generating, its partial images, completed, the item done, and the response completed."""
    item = call_item(call, generation)
    ids = {"output_index": 0, "item_id": item["id"]}
    events: list[dict[str, Any]] = []
    empty = response_of(call, body, [], "in_progress", generation.prompt, 0)
    events += [{"type": "response.created", "response": empty}, {"type": "response.in_progress", "response": empty}]
    events.append({"type": "response.output_item.added", "output_index": 0, "item": item})
    events += [{"type": f"response.image_generation_call.{stage}", **ids} for stage in ("in_progress", "generating")]
    (spec,) = image_specs(call, replace(generation, count=1))
    final = await call.state.renderer.render(spec)
    for index, partial in enumerate(await partial_images(final, spec.format, partials)):
        events.append({"type": "response.image_generation_call.partial_image", **ids, "partial_image_index": index,
                       "partial_image_b64": base64.b64encode(partial).decode()})  # fmt: skip
    done = {**item, "status": "completed", "result": base64.b64encode(final).decode()}
    events.append({"type": "response.image_generation_call.completed", **ids})
    events.append({"type": "response.output_item.done", "output_index": 0, "item": done})
    completed = response_of(call, body, [done], "completed", generation.prompt, output_tokens(generation))
    events.append({"type": "response.completed", "response": completed})
    frames = [f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n" for n, e in enumerate(events)]
    return Response("".join(frames).encode(), media_type="text/event-stream")

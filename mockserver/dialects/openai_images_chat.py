"""LLM Gateway's chat completions (chat_images.py has the format): an image model draws as the images route does,
with its checks, its key, its rate limit and its charge (py); a text model answers text.

The answer is the gateway's transform of Google's (theopenco/llmgateway apps/gateway/src/chat/tools/
transform-response-to-openai.ts): ``model`` as provider/model, ``usage`` in tokens, ``metadata`` naming the model
asked for and the one used, and the images beside the text. ``image_config {aspect_ratio, image_size}`` is the
gateway's extension of the body (apps/gateway/src/chat/schemas/completions.ts).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..images.uploads import Upload
from ..pipeline.endpoint import Call
from .chat_images import BESIDE, CHAT, ChatAnswer, ChatIssue, ChatRequest, answered, read_chat, read_images
from .gemini import INPUT_IMAGE_TOKENS
from .models import Model, estimated_tokens
from .openai_images import (
    TEXT_SIZE,
    ImageRequest,
    bad_request,
    chosen_ratio,
    drawn,
    json_body,
    known_model,
    shed,
)
from .zod import type_name

IMAGE_TOKENS = 1290  # what Google counts for a 1K image of its Flash Image model, as LLM Gateway passes it on


async def chat(call: Call) -> Response:
    await call.fail_if_forced({"overloaded": lambda: shed(call)})
    body = json_body(call)
    try:
        request = read_chat(body)
        config = image_config(body)
        model = known_model(call, request.model)
        inputs = await read_images(call, request)
    except ChatIssue as issue:
        raise bad_request(call, "invalid-parameters", issues=str(issue)) from None
    image_request = as_image_request(call, request, config, model, inputs)
    images = await drawn(call, image_request)
    text = reply(request, inputs, images)
    # at least one, as the gateway counts (transform-response-to-openai.ts, buildUsageObject)
    prompt_tokens = max(1, sum(map(estimated_tokens, request.texts)) + INPUT_IMAGE_TOKENS * len(inputs))
    completion_tokens = (estimated_tokens(text) if text else 0) + IMAGE_TOKENS * len(images or ())
    provider = model.entry.get("provider", "google-ai-studio")
    answer = ChatAnswer(
        id=f"chatcmpl-{int(call.state.clock.now() * 1000)}", created=int(call.state.clock.now()),
        model=f"{provider}/{model.name}", text=text, images=tuple(images or ()),
        finish_reason="content_filter" if images is None else "stop",
        usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
               "total_tokens": prompt_tokens + completion_tokens},
        extra={"metadata": {"requested_model": request.model, "requested_provider": None, "used_model": model.name,
                            "used_provider": provider, "underlying_used_model": model.name}},
    )  # fmt: skip
    return answered(answer, BESIDE, request.stream)


def image_config(body: dict[str, Any]) -> dict[str, str]:
    """The gateway's image_config: its aspect_ratio and image_size, strings where given."""
    config = body.get("image_config", {})
    if not isinstance(config, dict):
        raise ChatIssue("image_config", f"Expected object, received {type_name(config)}")
    for name in ("aspect_ratio", "image_size"):
        if name in config and not isinstance(config[name], str):
            raise ChatIssue(f"image_config.{name}", f"Expected string, received {type_name(config[name])}")
    return config


def as_image_request(
    call: Call, request: ChatRequest, config: dict[str, str], model: Model, inputs: list[Upload]
) -> ImageRequest:
    """The chat request as the images route's: one image, at the image_config's size and ratio; a text model's
    answer costs its price for text, and draws nothing."""
    fields = {"aspect_ratio": config["aspect_ratio"]} if "aspect_ratio" in config else {}
    size = model.image_size(config.get("image_size")) if model.makes_images else TEXT_SIZE
    ratio = chosen_ratio(call, fields)
    return ImageRequest(CHAT, request.prompt, model, 1, size, ratio, fields, tuple(inputs))


def reply(request: ChatRequest, inputs: list[Upload], images: list[str] | None) -> str | None:
    excerpt = request.prompt[:60] + ("…" if len(request.prompt) > 60 else "")
    if images is None:
        return None
    if not images:
        return f"(mock) You asked: {excerpt}"
    return f"Here is the edited image: {excerpt}" if inputs else f"Here is your image: {excerpt}"

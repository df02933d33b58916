"""Images through OpenAI's chat completions (``POST /v1/chat/completions``), as gateways serve their image models.

The request is OpenAI's chat body: the prompt is the text of the last user message, its ``image_url`` parts (data
URLs; an https URL, which the mock never fetches, stands in as a placeholder) the images to edit. The answer is a
``chat.completion``, or with ``stream: true`` one ``chat.completion.chunk`` event per piece closed by ``data:
[DONE]``. Where the image goes on the assistant's message is the service's `Placement`:

- `BESIDE`, LLM Gateway's: ``message.images: [{"type": "image_url", "image_url": {"url": <data URL>}}]`` next to
  ``content``, and ``delta.images`` when streamed (theopenco/llmgateway apps/gateway/src/chat/tools/
  extract-images.ts, transform-response-to-openai.ts, transform-streaming-to-openai.ts). litellm reads the same
  field into ``message.images``.
- `IN_MARKDOWN`, the new-api relays' (Crazyrouter among them): ``![image](<data URL>)`` in ``content``, after the
  text (docs.crazyrouter.com/en/chat/gemini/image-gen; new-api relay/channel/gemini/relay-gemini.go).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from ..images.uploads import Upload, UploadError, read_upload
from ..pipeline.endpoint import Call
from ..wire.jsonio import JSONResponse
from .image_urls import referenced_bytes, supported_url
from .zod import type_name

CHAT = "/v1/chat/completions"
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class ChatIssue(ValueError):
    """What is wrong with a chat request, at a path such as messages.0.content; each service words it."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class ChatRequest:
    model: str
    prompt: str  # the text of the last user message
    texts: tuple[str, ...]  # every message's text, for the prompt's tokens
    image_urls: tuple[tuple[str, str], ...]  # (path, url) of each image_url part of the last user message
    stream: bool


def read_chat(body: Any) -> ChatRequest:
    """The request, or a ChatIssue naming the first thing wrong with it."""
    if not isinstance(body, dict):
        raise ChatIssue("", f"Expected object, received {type_name(body)}")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ChatIssue("model", "Required" if model is None else f"Expected string, received {type_name(model)}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ChatIssue("messages", "Required" if messages is None else "Expected a non-empty array")
    turns = [read_message(message, f"messages.{index}") for index, message in enumerate(messages)]
    users = [turn for turn, message in zip(turns, messages, strict=True) if message["role"] == "user"]
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ChatIssue("stream", f"Expected boolean, received {type_name(stream)}")
    texts = tuple(text for turn_texts, _ in turns for text in turn_texts)
    last_texts, last_images = users[-1] if users else ([], [])
    return ChatRequest(model, " ".join(last_texts), texts, tuple(last_images), stream)


def read_message(message: Any, path: str) -> tuple[list[str], list[tuple[str, str]]]:
    """A message's texts and its images' (path, url)."""
    if not isinstance(message, dict):
        raise ChatIssue(path, f"Expected object, received {type_name(message)}")
    if message.get("role") not in ROLES:
        raise ChatIssue(f"{path}.role", f"Expected one of {', '.join(ROLES)}")
    content = message.get("content")
    if content is None:
        return [], []
    if isinstance(content, str):
        return [content], []
    if not isinstance(content, list):
        raise ChatIssue(f"{path}.content", f"Expected string or array, received {type_name(content)}")
    texts, images = [], []
    for index, part in enumerate(content):
        at = f"{path}.content.{index}"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            url = part["image_url"].get("url")
            if not isinstance(url, str):
                raise ChatIssue(f"{at}.image_url.url", "Required")
            images.append((f"{at}.image_url.url", url))
        else:
            raise ChatIssue(at, "Expected a text or image_url part")
    return texts, images


async def read_images(call: Call, request: ChatRequest) -> list[Upload]:
    """The images of the last user message, or a ChatIssue at the first that is not one."""
    uploads = []
    for path, url in request.image_urls:
        if not supported_url(url):
            raise ChatIssue(path, "must be an https URL or a base64 data URL")
        try:
            uploads.append(await read_upload(await referenced_bytes(call, url), call.state.settings))
        except (ValueError, UploadError) as problem:
            raise ChatIssue(path, f"is not an image: {problem}") from None
    return uploads


# The answer.


@dataclass(frozen=True)
class ChatAnswer:
    id: str
    created: int
    model: str
    text: str | None
    images: tuple[str, ...]  # base64 PNGs
    finish_reason: str  # stop, or content_filter where nothing could be shown
    usage: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)  # the top-level fields a service adds (its metadata)


@dataclass(frozen=True)
class Placement:
    """Where a service puts the images on the assistant's message: given the text and the images' data URLs, the
    message's fields, and the deltas that stream them (a delta per piece, an image whole)."""

    message: Callable[[str | None, Sequence[str]], dict[str, Any]]
    deltas: Callable[[str | None, Sequence[str]], list[dict[str, Any]]]


def image_parts(urls: Sequence[str]) -> list[dict[str, Any]]:
    return [{"type": "image_url", "image_url": {"url": url}} for url in urls]


def markdown(text: str | None, urls: Sequence[str]) -> list[str]:
    return ([text] if text else []) + [f"![image]({url})" for url in urls]


BESIDE = Placement(
    message=lambda text, urls: {"content": text, **({"images": image_parts(urls)} if urls else {})},
    deltas=lambda text, urls: ([{"content": text}] if text else []) + [{"images": image_parts([u])} for u in urls],
)
IN_MARKDOWN = Placement(
    message=lambda text, urls: {"content": "\n".join(markdown(text, urls))},
    deltas=lambda text, urls: [{"content": ("\n" if i else "") + p} for i, p in enumerate(markdown(text, urls))],
)


def data_url(image: str) -> str:
    return f"data:image/png;base64,{image}"


def answered(answer: ChatAnswer, placement: Placement, stream: bool) -> Response:
    if stream:
        return Response(b"".join(sse(answer, placement)), media_type="text/event-stream",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip
    message = {"role": "assistant", **placement.message(answer.text, [data_url(image) for image in answer.images])}
    choice = {"index": 0, "message": message, "finish_reason": answer.finish_reason}
    return JSONResponse({**head(answer, "chat.completion"), "choices": [choice], "usage": answer.usage, **answer.extra})


def head(answer: ChatAnswer, kind: str) -> dict[str, Any]:
    return {"id": answer.id, "object": kind, "created": answer.created, "model": answer.model}


def sse(answer: ChatAnswer, placement: Placement) -> Iterator[bytes]:
    """A chunk per piece of the message, then the finish with the usage, then [DONE]."""
    for delta in placement.deltas(answer.text, [data_url(image) for image in answer.images]):
        yield chunk(answer, {"role": "assistant", **delta}, None, None)
    yield chunk(answer, {"role": "assistant"}, answer.finish_reason, answer.usage)
    yield b"data: [DONE]\n\n"


def chunk(answer: ChatAnswer, delta: dict[str, Any], finish: str | None, usage: Mapping[str, Any] | None) -> bytes:
    body = {**head(answer, "chat.completion.chunk"), "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": usage}  # fmt: skip
    return f"data: {json.dumps(body, separators=(',', ':'))}\n\n".encode()

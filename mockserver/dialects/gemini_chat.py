"""Chat completions on a Gemini gateway that serves them (Crazyrouter; its GeminiQuirks.chat): OpenAI's chat
body (chat_images.py) turned into a generation, answered by the model as generateContent answers it (gemini.py:
its faults, its tokens, its price), and handed back as OpenAI's chat answer with the images as Markdown in the
content (docs.crazyrouter.com/en/chat/gemini/image-gen). The service's refusals are its own envelope's
(``x-refusals``); a body it cannot read is its 400 ``invalid_request_error``.
"""

from __future__ import annotations

from starlette.responses import Response

from ..pipeline.endpoint import Call, Reject
from ..wire.jsonio import JSONResponse, parse_json
from .chat_images import IN_MARKDOWN, ChatAnswer, ChatIssue, answered, read_chat, read_images
from .gemini import Generation, generated, nearest_ratio
from .gemini_api import authenticate, facts_of, refusal

FINISH_REASONS = {"content": "stop", "no-image": "stop", "image-safety": "content_filter",
                  "blocked-prompt": "content_filter"}  # fmt: skip


def invalid(problem: str) -> Reject:
    body = {"message": problem, "type": "invalid_request_error", "code": "invalid_request"}
    return Reject(JSONResponse({"error": body}, 400))


async def chat(call: Call) -> Response:
    api_key = authenticate(call)
    try:
        request = read_chat(parse_json(call.body))
        uploads = await read_images(call, request)
    except ValueError as problem:  # a ChatIssue, or a body that is not JSON
        raise invalid(str(problem) if isinstance(problem, ChatIssue) else "Invalid JSON in request body") from None
    model = facts_of(call.profile.contract).models.get(request.model)
    if model is None:
        raise Reject(refusal(call, "unknown-chat-model", request.model))
    ratios = facts_of(call.profile.contract).aspect_ratios
    ratio = nearest_ratio(uploads[-1], ratios) if uploads else "1:1"  # an edit keeps its input's shape
    modalities = frozenset({"TEXT", "IMAGE"} if model.makes_images else {"TEXT"})
    size = model.image_size(None) if model.makes_images else ""
    generation = Generation(model, request.texts, request.prompt, tuple(uploads), modalities, ratio, size, 1)
    outcome, parts, usage = await generated(call, api_key, generation)
    text = " ".join(part["text"] for part in parts if "text" in part) or None
    answer = ChatAnswer(
        id=f"chatcmpl-{call.state.ids.hex(24)}", created=int(call.state.clock.now()), model=request.model, text=text,
        images=tuple(part["inlineData"]["data"] for part in parts if "inlineData" in part),
        finish_reason=FINISH_REASONS[outcome.outcome],
        usage={"prompt_tokens": usage["promptTokenCount"], "completion_tokens": usage.get("candidatesTokenCount", 0),
               "total_tokens": usage["totalTokenCount"]},
    )  # fmt: skip
    return answered(answer, IN_MARKDOWN, request.stream)

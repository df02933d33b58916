"""Google's Gemini `generateContent` wire format (seeds 002 and 004; research/apis.md §1), and the routes of the
Gemini API as a whole: what its endpoints share is in gemini_api.py, Imagen's predict in imagen.py.

One dialect for several services: Google's own API (strict) and gateways that re-expose it, each a
profile whose contract says how it differs (`Facts`): where keys may go, whether unknown fields are
refused, whether the gateways' `imageGenerationConfig` is understood, how the service refuses and in
whose envelope, its models with their pixel tables and token counts. What a contract does not say is the
profile's `GeminiQuirks`.

Image models answer a short text part and one base64 PNG `inlineData` part per image;
`usageMetadata.totalTokenCount` is the prompt's tokens plus the answer's.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from ..images.spec import ImageSpec, variants
from ..images.uploads import Upload, UploadError, read_upload
from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile, ServiceRoute
from ..wire.jsonio import JSONResponse
from . import gemini_files, imagen
from .chat_images import CHAT
from .gemini_api import (
    READ_FAULTS,
    TROUBLESHOOTING,
    TYPE_PREFIX,
    VERSIONS,
    Facts,
    authenticate,
    camel,
    facts_of,
    forced_answers,
    get_model,
    google_error,
    invalid,
    json_object,
    list_models,
    model_of,
    quirks_of,
    refusal,
    too_many_tokens,
    unknown_fields_refused,
    unlisted_ratio,
)
from .gemini_api import error as error  # the dialect's refusal of a request no endpoint took (pipeline/routing.py)
from .models import Model, estimated_tokens
from .new_api import relayed, request_id

if TYPE_CHECKING:
    from ..state import State

IMAGE_SIZES = ("1K", "2K", "4K")
MODALITIES = ("TEXT", "IMAGE", "AUDIO", "VIDEO", "MODALITY_UNSPECIFIED")
MAX_IMAGES = 4  # numberOfImages, where a gateway takes it
INPUT_IMAGE_TOKENS = 258  # what an input image counts, as observed

GENERATE_FAULTS = (
    "content-policy", "blocked-prompt", "no-image", "server-error", "overloaded", "rate-limit",
    "insufficient-credits", "timeout",
)  # fmt: skip

# The request is read along its contract's messages (Facts.messages), in camelCase; both spellings are read,
# camelCase is written.
SCALAR_TYPES = {"string": (str,), "int": (int,), "number": (int, float), "bool": (bool,), "any": (object,)}
PROTO_TYPES = {"string": "TYPE_STRING", "int": "TYPE_INT32", "number": "TYPE_FLOAT", "bool": "TYPE_BOOL"}


def snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def at(path: str, name: str) -> str:
    return f"{path}.{snake(name)}" if path else snake(name)


class Normalizer:
    """Reads a request into camelCase along the known messages, noting what does not fit."""

    def __init__(self, facts: Facts) -> None:
        self.fields = facts.messages
        self.strict = facts.strict_fields
        self.unknown: list[tuple[str, str]] = []  # (path, field name)

    def message(self, value: Any, message: str, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise invalid(f"Invalid value at '{path}' ({TYPE_PREFIX}{message}), {json.dumps(value)}", path)
        known, normalized = self.fields[message], {}
        for key, item in value.items():
            name = camel(key)
            if name not in known:
                self.unknown.append((path, key))
                continue
            if item is not None:  # proto3 reads null as "not set"
                normalized[name] = self.field(item, known[name], at(path, name))
        return normalized

    def field(self, value: Any, kind: str, path: str) -> Any:
        if kind.endswith("[]"):
            if not isinstance(value, list):
                raise invalid(f"Invalid value at '{path}' ({self.type_name(kind[:-2])}), {json.dumps(value)}", path)
            return [self.field(item, kind[:-2], f"{path}[{i}]") for i, item in enumerate(value)]
        if kind in self.fields:
            return self.message(value, kind, path)
        if kind == "int" and isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)  # proto3 JSON also writes integers as strings
        if kind == "int" and isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, SCALAR_TYPES[kind]) or (isinstance(value, bool) and kind in ("int", "number")):
            raise invalid(f"Invalid value at '{path}' ({self.type_name(kind)}), {json.dumps(value)}", path)
        return value

    def type_name(self, kind: str) -> str:
        return PROTO_TYPES.get(kind) or f"{TYPE_PREFIX}{kind}"

    def refuse_unknown(self) -> None:
        if self.strict and self.unknown:
            raise unknown_fields_refused(self.unknown)


@dataclass(frozen=True)
class Generation:
    model: Model
    texts: tuple[str, ...]  # every text the request holds
    prompt: str  # the text of the last user turn
    images: tuple[Upload, ...]  # every input image
    modalities: frozenset[str]
    aspect_ratio: str  # of the output
    image_size: str
    count: int

    @property
    def base(self) -> Upload | None:
        """The image an edit starts from: the conversation's latest."""
        return self.images[-1] if self.images else None

    @property
    def prompt_details(self) -> list[dict[str, Any]]:
        return prompt_details(self.texts, self.images)

    @property
    def prompt_tokens(self) -> int:
        return sum(detail["tokenCount"] for detail in self.prompt_details)


def prompt_details(texts: Sequence[str], images: Sequence[Upload]) -> list[dict[str, Any]]:
    """The prompt's tokens by modality (promptTokensDetails): its texts', and its images' where it has any."""
    details = [{"modality": "TEXT", "tokenCount": sum(estimated_tokens(text) for text in texts)}]
    return details + ([{"modality": "IMAGE", "tokenCount": INPUT_IMAGE_TOKENS * len(images)}] if images else [])


def read_request(call: Call, message: str) -> dict[str, Any]:
    """The body as the message `message`, in camelCase; Google's 400 for what does not fit."""
    reader = Normalizer(facts_of(call.profile.contract))
    request = reader.message(json_object(call), message, "")
    reader.refuse_unknown()
    return request


async def read_contents(
    call: Call, contents: list[dict[str, Any]], message: str
) -> tuple[list[str], list[Upload], str]:
    """The texts and images of every turn, and the text of the last user turn."""
    if not contents:
        raise invalid(f"* {message}.contents: contents is not specified\n", "contents")
    texts: list[str] = []
    images: list[Upload] = []
    last_user_text = ""
    for i, content in enumerate(contents):
        turn_texts = await read_turn(call, content, i, images)
        texts += turn_texts
        if content.get("role", "user") == "user" and turn_texts:
            last_user_text = " ".join(turn_texts)
    return texts, images, last_user_text


async def generation_request(call: Call, model: Model) -> Generation:
    facts = facts_of(call.profile.contract)
    request = read_request(call, "GenerateContentRequest")
    texts, images, last_user_text = await read_contents(call, request.get("contents") or [], "GenerateContentRequest")
    config = request.get("generationConfig", {})
    modalities = read_modalities(config, model)
    aspect_ratio, size, count = read_image_config(config, images, model, facts.aspect_ratios)
    if config.get("candidateCount", 1) > 1:
        raise invalid(
            f"Multiple candidates is not enabled for models/{model.name}", "generation_config.candidate_count"
        )
    generation = Generation(model, tuple(texts), last_user_text, tuple(images), modalities, aspect_ratio, size, count)
    if generation.prompt_tokens > model.input_token_limit:
        raise Reject(too_many_tokens(model.input_token_limit))
    return generation


async def read_turn(call: Call, content: dict[str, Any], index: int, images: list[Upload]) -> list[str]:
    """The texts of one turn; its images are added to `images`."""
    path = f"contents[{index}]"
    if content.get("role", "user") not in ("user", "model"):
        raise invalid("Please use a valid role: user, model.", f"{path}.role")
    parts = content.get("parts") or []
    if not parts:
        raise invalid(f"* GenerateContentRequest.{path}.parts: contents.parts must not be empty.\n", f"{path}.parts")
    texts = []
    for j, part in enumerate(parts):
        part_path = f"{path}.parts[{j}]"
        if part.get("text"):
            if not part.get("thought"):
                texts.append(part["text"])
        elif "inlineData" in part:
            images.append(await read_inline_image(call, part["inlineData"], f"{part_path}.inline_data"))
        elif "fileData" in part:
            images.append(await read_file_image(call, part["fileData"], f"{part_path}.file_data"))
        elif not set(part) - {"thought", "thoughtSignature"}:
            message = "required oneof field 'data' must have one initialized field"
            raise invalid(f"* GenerateContentRequest.{part_path}.data: {message}\n", f"{part_path}.data")
    return texts


async def read_file_image(call: Call, file_data: Any, path: str) -> Upload:
    """An image uploaded to the mock's Files API, named by its URI; the mock fetches no other URI."""
    uri = (file_data.get("fileUri") or file_data.get("file_uri") or "") if isinstance(file_data, dict) else ""
    named = gemini_files.named_by(call, uri)
    if named is None:
        raise invalid("The mock never fetches files: send images as inlineData, or upload them to its Files API "
                      "and name them by their uri.", f"{path}.file_uri")  # fmt: skip
    file, content = named
    if not file.mime_type.startswith("image/"):
        raise invalid(f"Unsupported MIME type: {file.mime_type}", f"{path}.mime_type")
    try:
        return await read_upload(content, call.state.settings)
    except UploadError:
        raise invalid(f"Unable to process input image. Please retry or report in {TROUBLESHOOTING}", path) from None


async def read_inline_image(call: Call, blob: dict[str, Any], path: str) -> Upload:
    mime_type, data = blob.get("mimeType", ""), blob.get("data", "")
    if not mime_type:
        raise invalid(f"* GenerateContentRequest.{path}.mime_type: mime_type is not specified\n", f"{path}.mime_type")
    if not mime_type.startswith("image/"):
        raise invalid(f"Unsupported MIME type: {mime_type}", f"{path}.mime_type")
    try:
        content = base64.b64decode(data.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        excerpt = data[:40] + ("..." if len(data) > 40 else "")
        raise invalid(
            f"Invalid value at '{path}.data' (TYPE_BYTES), Base64 decoding failed for \"{excerpt}\"", f"{path}.data"
        ) from None
    try:
        return await read_upload(content, call.state.settings)
    except UploadError:
        raise invalid(f"Unable to process input image. Please retry or report in {TROUBLESHOOTING}", path) from None


def read_modalities(config: dict[str, Any], model: Model) -> frozenset[str]:
    asked = config.get("responseModalities") or []
    for i, modality in enumerate(asked):
        if modality.upper() not in MODALITIES:
            path = f"generation_config.response_modalities[{i}]"
            raise invalid(
                f"Invalid value at '{path}' ({TYPE_PREFIX}GenerationConfig.Modality), {json.dumps(modality)}", path
            )
    modalities = frozenset(m.upper() for m in asked) - {"MODALITY_UNSPECIFIED"}
    if not modalities:
        return frozenset({"TEXT", "IMAGE"} if model.makes_images else {"TEXT"})
    unsupported = sorted(modalities - ({"TEXT", "IMAGE"} if model.makes_images else {"TEXT"}))
    if unsupported:
        raise invalid(
            f"Model does not support the requested response modalities: {', '.join(m.lower() for m in unsupported)}"
        )
    return modalities


def read_image_config(
    config: dict[str, Any], images: list[Upload], model: Model, ratios: tuple[str, ...]
) -> tuple[str, str, int]:
    """The output's aspect ratio, image size and number of images."""
    image_config = config.get("imageConfig", {})
    gateway_config = config.get("imageGenerationConfig", {})
    ratio = image_config.get("aspectRatio") or gateway_config.get("aspectRatio")
    if ratio is not None and ratio not in ratios:
        raise Reject(google_error(400, unlisted_ratio(ratios)))
    size = image_config.get("imageSize")
    if size is not None and size not in IMAGE_SIZES:  # lower case (1k) too, as Google refuses it
        field = "generation_config.image_config.image_size"
        raise invalid(f"* GenerateContentRequest.{field}: image size must be one of 1K, 2K, 4K; got {size}\n", field)
    count = gateway_config.get("numberOfImages", 1)
    if not 1 <= count <= MAX_IMAGES:
        field = "generation_config.image_generation_config.number_of_images"
        raise invalid(f"* GenerateContentRequest.{field}: must be between 1 and {MAX_IMAGES}; got {count}\n", field)
    if ratio is None:
        ratio = nearest_ratio(images[-1], ratios) if images else "1:1"
    return ratio, model.image_size(size) if model.makes_images else "", count


def nearest_ratio(image: Upload, ratios: tuple[str, ...]) -> str:
    """The supported aspect ratio nearest the image's own: an edit keeps its input's shape."""
    shape = image.width / image.height
    return min(ratios, key=lambda r: abs(int(r.split(":")[0]) / int(r.split(":")[1]) - shape))


# The answer.

IMAGE_SAFETY_MESSAGE = (  # as captured from gemini-3-pro-image-preview (research/fidelity.md G3)
    "Unable to show the generated image. The image was filtered out because it violated Google's [Generative AI "
    "Prohibited Use policy](https://policies.google.com/terms/generative-ai/use-policy). You will not be charged for "
    "blocked images. Try rephrasing the prompt. If you think this was an error, "
    "[send feedback](https://ai.google.dev/gemini-api/docs/troubleshooting)."
)


@dataclass(frozen=True)
class Answer:
    """What the model answers, before its images are drawn: enough to count its tokens and price it."""

    outcome: str  # "content", "image-safety", "blocked-prompt" or "no-image"
    text: str | None
    images: int

    def usage(self, generation: Generation) -> dict[str, Any]:
        """Its usageMetadata. A thinking model's thoughts count in the total (python-genai types.py,
        UsageMetadata.total_token_count); a refused image's candidates count nothing, and say so by modality
        only when there are some (the capture of an IMAGE_SAFETY answer in research/fidelity.md G3)."""
        prompt = generation.prompt_tokens
        usage: dict[str, Any] = {"promptTokenCount": prompt}
        if self.outcome == "blocked-prompt":
            return usage | {"totalTokenCount": prompt, "promptTokensDetails": generation.prompt_details}
        image_tokens = self.images * generation.model.entry.get("imageTokens", {}).get(generation.image_size, 0)
        answered = (estimated_tokens(self.text) if self.text else 0) + image_tokens
        thoughts = generation.model.entry.get("thoughtsTokens", 0)
        usage["candidatesTokenCount"] = answered
        usage["totalTokenCount"] = prompt + answered + thoughts
        usage["promptTokensDetails"] = generation.prompt_details
        if answered:
            modality = "IMAGE" if self.images else "TEXT"
            usage["candidatesTokensDetails"] = [{"modality": modality, "tokenCount": image_tokens or answered}]
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage


def plan_answer(generation: Generation, fault: str | None) -> Answer:
    excerpt = generation.prompt[:60] + ("…" if len(generation.prompt) > 60 else "")
    if fault == "blocked-prompt":
        return Answer("blocked-prompt", None, 0)
    if fault == "content-policy":
        return Answer("image-safety", None, 0)
    if fault == "no-image":
        return Answer("no-image", "I could not make an image for that request.", 0)
    wants_images = "IMAGE" in generation.modalities
    if not wants_images:
        return Answer("content", f"(mock) You asked: {excerpt}" if excerpt else "(mock) Hello.", 0)
    text = f"Here is the edited image: {excerpt}" if generation.images else f"Here is your image: {excerpt}"
    return Answer("content", text if "TEXT" in generation.modalities else None, generation.count)


async def generate(call: Call) -> Response:
    return await respond(call, streaming=False)


async def stream_generate(call: Call) -> Response:
    return await respond(call, streaming=True)


async def respond(call: Call, streaming: bool) -> Response:
    api_key = authenticate(call)
    model = model_of(call, "streamGenerateContent" if streaming else "generateContent")
    generation = await generation_request(call, model)
    answer, parts, usage = await generated(call, api_key, generation)
    chunks = response_chunks(call, generation, answer, parts, usage)
    if not streaming:
        return JSONResponse(merged(chunks))
    if call.request.query_params.get("alt") == "sse" or facts_of(call.profile.contract).always_sse:
        # new-api writes its events with LF (common/custom-event.go); Google with CRLF
        separator = "\n\n" if quirks_of(call.profile).new_api else "\r\n\r\n"
        return StreamingResponse(events(chunks, separator), media_type="text/event-stream")
    return JSONResponse(chunks)


async def generated(
    call: Call, api_key: str, generation: Generation
) -> tuple[Answer, list[dict[str, Any]], dict[str, Any]]:
    """What the model answers, its parts drawn and its usage, once the forced faults and the credits allow it."""
    model = generation.model
    await call.fail_if_forced(forced_answers(call, model.name))
    answer = plan_answer(generation, call.take_fault("content-policy", "blocked-prompt", "no-image"))
    usage = answer.usage(generation)
    price = math.ceil(usage["totalTokenCount"] / facts_of(call.profile.contract).credit_tokens)
    with call.charged(api_key, price, lambda refused: refusal(call, "quota", model.name)):
        parts = await answer_parts(call, generation, answer)
    return answer, parts, usage


async def answer_parts(call: Call, generation: Generation, answer: Answer) -> list[dict[str, Any]]:
    signature = bool(generation.model.entry.get("thoughtSignatures"))
    parts: list[dict[str, Any]] = [{"text": answer.text}] if answer.text else []
    if answer.images:
        width, height = generation.model.sizes[generation.image_size][generation.aspect_ratio]
        base = generation.base.content if generation.base else None
        first = ImageSpec(generation.prompt, width, height, generation.model.name, call.profile.name,
                          call.state.settings.seed, base=base)  # fmt: skip
        for data in await call.state.renderer.base64_all(variants(first, answer.images)):
            parts.append({"inlineData": {"mimeType": "image/png", "data": data}})
    if signature:  # Gemini 3 signs its answer's first text part and every image part
        for part in parts:
            if "inlineData" in part or part is parts[0]:
                part["thoughtSignature"] = base64.b64encode(call.state.ids.hex(32).encode()).decode()
    return parts


def response_chunks(
    call: Call, generation: Generation, answer: Answer, parts: list[dict[str, Any]], usage: dict[str, Any]
) -> list[dict[str, Any]]:
    """The answer as a stream sends it: a part per chunk, the finish and full usage on the last."""
    common = {"modelVersion": generation.model.name, "responseId": response_id(call)}
    if answer.outcome == "blocked-prompt":
        return [{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage, **common}]
    finish = {"content": "STOP", "image-safety": "IMAGE_SAFETY", "no-image": "NO_IMAGE"}[answer.outcome]
    last = {"finishReason": finish, "index": 0}
    if answer.outcome == "image-safety":
        last["finishMessage"] = IMAGE_SAFETY_MESSAGE
    if facts_of(call.profile.contract).safety_ratings:
        last["safetyRatings"] = [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]
    partial_usage = {"promptTokenCount": usage["promptTokenCount"], "totalTokenCount": usage["promptTokenCount"]}
    pieces = [[part] for part in parts] or [[]]
    chunks = []
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        content = {"parts": piece, "role": "model"} if piece else {"role": "model"}
        candidate = {"content": content, **(last if final else {"index": 0})}
        chunks.append({"candidates": [candidate], "usageMetadata": usage if final else partial_usage, **common})
    return chunks


def merged(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole answer in one response: the chunks' parts together, the last chunk's finish and usage."""
    whole = dict(chunks[-1])
    if "candidates" in whole:
        parts = [part for chunk in chunks for part in chunk["candidates"][0]["content"].get("parts", [])]
        candidate = dict(whole["candidates"][0])
        candidate["content"] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
        whole["candidates"] = [candidate]
    return whole


async def events(chunks: list[dict[str, Any]], separator: str) -> AsyncIterator[bytes]:
    """Server-Sent Events: one whole response JSON per event, and no closing sentinel."""
    for chunk in chunks:
        text = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
        yield f"data: {text}{separator}".encode("utf-8", errors="backslashreplace")


# POST /v1beta/models/{model}:countTokens, free: what generateContent would count for the prompt.


async def count_tokens(call: Call) -> Response:
    authenticate(call)
    model = model_of(call, "countTokens")
    request = read_request(call, "CountTokensRequest")
    contents = request.get("contents") or request.get("generateContentRequest", {}).get("contents") or []
    texts, images, _ = await read_contents(call, contents, "CountTokensRequest")
    await call.fail_if_forced(forced_answers(call, model.name))
    details = prompt_details(texts, images)
    return JSONResponse({"totalTokens": sum(d["tokenCount"] for d in details), "promptTokensDetails": details})


def response_id(call: Call) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(call.state.ids.hex(32))).decode().rstrip("=")


def as_new_api(handler: Callable[[Call], Awaitable[Response]]) -> Callable[[Call], Awaitable[Response]]:
    """The endpoint behind new-api's middleware (QuantumNous/new-api router/relay-router.go): every answer names
    its request; a generation is refused for want of credits before its body is read (controller/relay.go,
    PreConsumeBilling), and names a model the gateway has or gets the distributor's 503
    (middleware/distributor.go); what Google refuses reaches the client in new-api's envelope."""

    async def answer(call: Call) -> Response:
        call.answer_headers.append(lambda: {"X-Oneapi-Request-Id": request_id(call)})
        try:
            if handler in (generate, stream_generate):
                api_key = authenticate(call)
                name = call.request.path_params["model"].removeprefix("models/")
                if name not in facts_of(call.profile.contract).models:
                    raise Reject(refusal(call, "unknown-model", name))
                if call.account(api_key).balance <= 0:
                    raise Reject(refusal(call, "quota", name))
            response = await handler(call)
        except Reject as rejection:
            response = rejection.response
        return relayed(call, response)

    return answer


def routes(profile: Profile, state: State) -> list[ServiceRoute]:
    """The Gemini API's routes, as the profile's contract has them: generateContent, the catalogue, and Imagen's
    predict where the service serves it."""
    endpoints = [
        ("POST", ":generateContent", generate, GENERATE_FAULTS),
        ("POST", ":streamGenerateContent", stream_generate, GENERATE_FAULTS),
        ("POST", ":countTokens", count_tokens, READ_FAULTS),
    ]
    if facts_of(profile.contract).imagen:
        endpoints.append(("POST", ":predict", imagen.predict, imagen.PREDICT_FAULTS))
    if facts_of(profile.contract).model_route:
        endpoints.append(("GET", "", get_model, READ_FAULTS))  # last: {model} matches "x:predict" too
    if quirks_of(profile).new_api:
        endpoints = [(method, suffix, as_new_api(handler), faults) for method, suffix, handler, faults in endpoints]
    files = gemini_files.routes() if facts_of(profile.contract).files else []
    routes = []
    for version in VERSIONS:
        for method, suffix, handler, faults in endpoints:
            documented = f"/v1beta/models/{{model}}{suffix}"
            routes.append(ServiceRoute(method, f"/{version}/models/{{model}}{suffix}", handler, faults, documented))
        routes.append(ServiceRoute("GET", f"/{version}/models", list_models, READ_FAULTS, "/v1beta/models"))
    chat = [ServiceRoute("POST", CHAT, quirks_of(profile).chat, GENERATE_FAULTS)] if quirks_of(profile).chat else []
    return routes + chat + [ServiceRoute(method, path, handler) for method, path, handler in files]

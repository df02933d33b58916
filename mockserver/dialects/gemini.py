"""Google's Gemini `generateContent` wire format (seeds 002 and 004; research/apis.md §1).

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
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

import contracts

from ..images.spec import ImageSpec, variants
from ..images.uploads import Upload, UploadError, read_upload
from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile, ServiceRoute
from ..wire.jsonio import JSONResponse, parse_json
from ..wire.keys import key_at
from .models import Model, estimated_tokens, models_of

if TYPE_CHECKING:
    from ..state import State

VERSIONS = ("v1beta", "v1")  # the SDK calls /v1/ when given a base URL; both answer alike
IMAGE_SIZES = ("1K", "2K", "4K")
MODALITIES = ("TEXT", "IMAGE", "AUDIO", "VIDEO", "MODALITY_UNSPECIFIED")
MAX_IMAGES = 4  # numberOfImages, where a gateway takes it
INPUT_IMAGE_TOKENS = 258  # what an input image counts, as observed
PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
TOKENS_PER_CREDIT = 1000
TROUBLESHOOTING = "https://developers.generativeai.google/guide/troubleshooting"
TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1beta."

GENERATE_FAULTS = (
    "content-policy", "blocked-prompt", "no-image", "server-error", "overloaded", "rate-limit",
    "insufficient-credits", "timeout",
)  # fmt: skip
READ_FAULTS = ("server-error", "overloaded", "rate-limit", "timeout")


@dataclass(frozen=True)
class GeminiQuirks:
    """What sets a service apart that its contract does not say."""

    safety_ratings: bool = False  # answers carry safetyRatings, as seed 002 shows
    request_ids: bool = False  # its own refusals name the request, as new-api's do: "... (request id: ...)"


NO_QUIRKS = GeminiQuirks()

# Where Gemini's clients put a key, in the order a service looks (the lenient union's contract lists them).
KEY_PLACES = contracts.key_places("gemini")


@dataclass(frozen=True)
class Facts:
    """How a service speaks the format, as its contract says."""

    refusals: Mapping[str, Mapping[str, Any]]  # how it refuses (x-refusals): status, envelope, and a gateway's words
    strict_fields: bool  # unknown fields are refused (Google); a gateway's parser drops them
    image_generation_config: bool  # the gateways' generationConfig.imageGenerationConfig
    aspect_ratios: tuple[str, ...]
    models: Mapping[str, Model]

    @property
    def bearer_is_oauth(self) -> bool:
        """Google: an Authorization header must hold an OAuth token, never an API key."""
        return "bearer-key" in self.refusals


@cache
def facts_of(contract: str) -> Facts:
    document = contracts.load(contract)
    schemas = document["components"]["schemas"]
    config = schemas["GenerationConfig"]
    return Facts(
        refusals=document["x-refusals"],
        strict_fields=config.get("additionalProperties") is False,
        image_generation_config="imageGenerationConfig" in config["properties"],
        aspect_ratios=tuple(schemas["AspectRatio"]["enum"]),
        models=models_of(contract),
    )


# Errors. Google's envelope is {"error": {"code", "message", "status", "details"}}; gateways answer their own
# refusals (keys, quota) in theirs, and relay Google's errors as they are.

STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    405: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip


def google_error(code: int, message: str, details: list[dict] | None = None, status: str | None = None) -> Response:
    error = {"code": code, "message": message, "status": status or STATUS_NAMES[code]}
    return JSONResponse({"error": error | ({"details": details} if details else {})}, code)


def error(profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    if status == 413:  # Google refuses a body over its limit as an invalid argument
        status, message = 400, f"Request payload size exceeds the limit. {message}."
    response = google_error(status, message)
    response.headers.update(headers or {})
    return response


def invalid(message: str, field: str | None = None) -> Reject:
    """400 INVALID_ARGUMENT with a BadRequest field violation, as Google refuses a request."""
    violation = {"description": message} | ({"field": field} if field else {})
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}]
    return Reject(google_error(400, message, details))


def error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com", **metadata},
    }


def quota_exceeded(quota_id: str, model: str) -> Response:
    violation = {
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": model},
    }
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
        {"@type": "type.googleapis.com/google.rpc.Help", "links": [
            {"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}
        ]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "59s"},
    ]  # fmt: skip
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more information on "
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    )
    return google_error(429, message, details)


# What Google answers for each refusal a service can make.
GOOGLE_REFUSALS: dict[str, Callable[[str], Response]] = {
    "missing-key": lambda model: google_error(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
        "or other form of API consumer identity to call this API.",
    ),
    "unknown-key": lambda model: google_error(
        400,
        "API key not valid. Please pass a valid API key.",
        [
            error_info("API_KEY_INVALID"),
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    ),
    "bearer-key": lambda model: google_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        [error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", method="google.ai.generativelanguage.v1beta.GenerativeService")],
    ),
    "quota": lambda model: quota_exceeded("GenerateRequestsPerDayPerProjectPerModel-FreeTier", model),
    "rate-limit": lambda model: quota_exceeded("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", model),
    "server-error": lambda model: google_error(
        500, f"An internal error has occurred. Please retry or report in {TROUBLESHOOTING}"
    ),
    "overloaded": lambda model: google_error(503, "The model is overloaded. Please try again later."),
    "timeout": lambda model: google_error(504, "Deadline expired before operation could complete."),
}


def refusal(call: Call, kind: str, model: str = "") -> Response:
    """The service's answer to a refusal of `kind`: a gateway's own, in its envelope, where its contract gives
    its words; else Google's, which a gateway relays as it is."""
    refused = facts_of(call.profile.contract).refusals.get(kind)
    if refused is None or refused["envelope"] == "google":
        return GOOGLE_REFUSALS[kind](model)
    message = refused["message"]
    if quirks_of(call.profile).request_ids:
        message = f"{message} (request id: {call.state.ids.hex(24)})"
    body = {"error": {"message": message, "type": refused["type"], "code": refused["code"]}}
    return JSONResponse(body, refused["status"])


def quirks_of(profile: Profile) -> GeminiQuirks:
    return profile.quirks or NO_QUIRKS


def forced_answers(call: Call, model: str) -> dict[str, Callable[[], Response]]:
    """The faults answered before anything is charged."""
    kinds = {"rate-limit": "rate-limit", "insufficient-credits": "quota", "server-error": "server-error",
             "overloaded": "overloaded", "timeout": "timeout"}  # fmt: skip
    return {fault: (lambda kind=kind: refusal(call, kind, model)) for fault, kind in kinds.items()}


def authenticate(call: Call) -> str:
    """The request's API key: the first one given, which must be in a place the service reads."""
    accepted = call.profile.key_places
    headers, query = call.request.headers, call.request.query_params
    if facts_of(call.profile.contract).bearer_is_oauth and "authorization" in headers:
        raise Reject(refusal(call, "bearer-key"))
    places = [*KEY_PLACES, *(place for place in accepted if place not in KEY_PLACES)]
    given = {
        place: key_at(headers, query, place.kind, place.name)
        for place in places
        if place.kind != "bearer" or place in accepted
    }
    api_key = next((key for key in given.values() if key), None)
    if not api_key or not any(given.get(place) == api_key for place in accepted):
        raise Reject(refusal(call, "missing-key"))
    call.key(api_key)
    if call.state.ledger.find_or_open(api_key) is None:
        raise Reject(refusal(call, "unknown-key"))
    return api_key


# The models, as the profile's contract lists them.


def catalogue_entry(model: Model, alias: str) -> dict[str, Any]:
    """The model as GET /v1beta/models lists it, under the id it was asked by."""
    return {
        "name": f"models/{alias}",
        "version": model.entry["version"],
        "displayName": model.entry["displayName"],
        "description": model.entry["description"],
        "inputTokenLimit": model.entry["inputTokenLimit"],
        "outputTokenLimit": model.entry["outputTokenLimit"],
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
        "thinking": bool(model.entry.get("thoughtSignatures")),
    }


def model_of(call: Call, method: str) -> Model:
    name = call.request.path_params["model"].removeprefix("models/")
    model = facts_of(call.profile.contract).models.get(name)
    if model is None:
        version = call.route.path.split("/")[1]  # v1beta or v1, as the route says (whatever the prefix)
        raise Reject(google_error(
            404,
            f"models/{name} is not found for API version {version}, or is not supported for {method}. "
            "Call ListModels to see the list of available models and their supported methods.",
        ))  # fmt: skip
    return model


# The request: fields known per message, in camelCase; both spellings are read, camelCase is written.

FIELDS: dict[str, dict[str, str]] = {
    "GenerateContentRequest": {
        "contents": "Content[]", "systemInstruction": "Content", "tools": "any", "toolConfig": "any",
        "safetySettings": "any", "cachedContent": "string", "generationConfig": "GenerationConfig",
    },
    "Content": {"role": "string", "parts": "Part[]"},
    "Part": {
        "text": "string", "inlineData": "Blob", "thought": "bool", "thoughtSignature": "string", "fileData": "any",
        "functionCall": "any", "functionResponse": "any", "executableCode": "any", "codeExecutionResult": "any",
        "videoMetadata": "any",
    },
    "Blob": {"mimeType": "string", "data": "string"},
    "GenerationConfig": {
        "temperature": "number", "topP": "number", "topK": "number", "candidateCount": "int",
        "maxOutputTokens": "int", "stopSequences": "string[]", "seed": "int", "presencePenalty": "number",
        "frequencyPenalty": "number", "responseMimeType": "string", "responseSchema": "any",
        "responseJsonSchema": "any", "responseLogprobs": "bool", "logprobs": "int", "mediaResolution": "string",
        "speechConfig": "any", "thinkingConfig": "any", "enableEnhancedCivicAnswers": "bool",
        "responseModalities": "string[]", "imageConfig": "ImageConfig",
    },
    "ImageConfig": {"aspectRatio": "string", "imageSize": "string"},
}  # fmt: skip
GATEWAY_FIELDS: dict[str, dict[str, str]] = {
    "GenerationConfig": {"imageGenerationConfig": "ImageGenerationConfig"},
    "ImageGenerationConfig": {"aspectRatio": "string", "numberOfImages": "int"},
}
SCALAR_TYPES = {"string": (str,), "int": (int,), "number": (int, float), "bool": (bool,), "any": (object,)}
PROTO_TYPES = {"string": "TYPE_STRING", "int": "TYPE_INT32", "number": "TYPE_FLOAT", "bool": "TYPE_BOOL"}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def at(path: str, name: str) -> str:
    return f"{path}.{snake(name)}" if path else snake(name)


class Normalizer:
    """Reads a request into camelCase along the known messages, noting what does not fit."""

    def __init__(self, facts: Facts) -> None:
        self.fields = {**FIELDS}
        if facts.image_generation_config:
            for message, extra in GATEWAY_FIELDS.items():
                self.fields[message] = {**self.fields.get(message, {}), **extra}
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
        if not (self.strict and self.unknown):
            return
        messages = [f'Invalid JSON payload received. Unknown name "{name}"' + (f" at '{path}'" if path else "")
                    + ": Cannot find field." for path, name in self.unknown]  # fmt: skip
        violations = [
            {"description": m} | ({"field": path} if path else {})
            for (path, _), m in zip(self.unknown, messages, strict=True)
        ]
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}]
        raise Reject(google_error(400, "\n".join(messages), details))


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
    def prompt_text_tokens(self) -> int:
        return sum(estimated_tokens(text) for text in self.texts)

    @property
    def prompt_image_tokens(self) -> int:
        return INPUT_IMAGE_TOKENS * len(self.images)


async def generation_request(call: Call, model: Model) -> Generation:
    try:
        body = parse_json(call.body)
    except ValueError:
        raise invalid("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise invalid('Invalid JSON payload received. Unknown name "": Root element must be a message.')
    facts = facts_of(call.profile.contract)
    reader = Normalizer(facts)
    request = reader.message(body, "GenerateContentRequest", "")
    reader.refuse_unknown()
    contents = request.get("contents") or []
    if not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified\n", "contents")
    texts, images, last_user_text = [], [], ""
    for i, content in enumerate(contents):
        turn_texts = await read_turn(call, content, i, images)
        texts += turn_texts
        if content.get("role", "user") == "user" and turn_texts:
            last_user_text = " ".join(turn_texts)
    config = request.get("generationConfig", {})
    modalities = read_modalities(config, model)
    aspect_ratio, size, count = read_image_config(config, images, model, facts.aspect_ratios)
    if config.get("candidateCount", 1) > 1:
        raise invalid(
            f"Multiple candidates is not enabled for models/{model.name}", "generation_config.candidate_count"
        )
    generation = Generation(model, tuple(texts), last_user_text, tuple(images), modalities, aspect_ratio, size, count)
    if generation.prompt_text_tokens + generation.prompt_image_tokens > model.input_token_limit:
        raise Reject(too_many_tokens(model.input_token_limit))
    return generation


def too_many_tokens(limit: int) -> Response:
    """AI Studio's answer since late 2025 (arkavo-org/arkavo-edge#371); before, it also gave the count
    (google-gemini/gemini-cli#4118)."""
    return google_error(400, f"The input token count exceeds the maximum number of tokens allowed ({limit}).")


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
            raise invalid("The mock never fetches files: send images as inlineData.", f"{part_path}.file_data")
        elif not set(part) - {"thought", "thoughtSignature"}:
            message = "required oneof field 'data' must have one initialized field"
            raise invalid(f"* GenerateContentRequest.{part_path}.data: {message}\n", f"{part_path}.data")
    return texts


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
        field = "generation_config.image_config.aspect_ratio"
        raise invalid(
            f"* GenerateContentRequest.{field}: aspect ratio must be one of {', '.join(ratios)}; got {ratio}\n",
            field,
        )
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


@dataclass(frozen=True)
class Answer:
    """What the model answers, before its images are drawn: enough to count its tokens and price it."""

    outcome: str  # "content", "image-safety", "blocked-prompt" or "no-image"
    text: str | None
    images: int

    def usage(self, generation: Generation) -> dict[str, Any]:
        prompt_text, prompt_images = generation.prompt_text_tokens, generation.prompt_image_tokens
        prompt = prompt_text + prompt_images
        details = [{"modality": "TEXT", "tokenCount": prompt_text}]
        details += [{"modality": "IMAGE", "tokenCount": prompt_images}] if prompt_images else []
        usage: dict[str, Any] = {"promptTokenCount": prompt}
        if self.outcome != "blocked-prompt":
            image_tokens = self.images * generation.model.entry.get("imageTokens", {}).get(generation.image_size, 0)
            answered = (estimated_tokens(self.text) if self.text else 0) + image_tokens
            usage["candidatesTokenCount"] = answered
            usage["totalTokenCount"] = prompt + answered
            modality = "IMAGE" if self.images else "TEXT"
            usage["promptTokensDetails"] = details
            usage["candidatesTokensDetails"] = [{"modality": modality, "tokenCount": image_tokens or answered}]
        else:
            usage["totalTokenCount"] = prompt
            usage["promptTokensDetails"] = details
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
    await call.fail_if_forced(forced_answers(call, model.name))
    answer = plan_answer(generation, call.take_fault("content-policy", "blocked-prompt", "no-image"))
    usage = answer.usage(generation)
    price = math.ceil(usage["totalTokenCount"] / TOKENS_PER_CREDIT)
    with call.charged(api_key, price, lambda refused: refusal(call, "quota", model.name)):
        parts = await answer_parts(call, generation, answer)
    chunks = response_chunks(call, generation, answer, parts, usage)
    if not streaming:
        return JSONResponse(merged(chunks))
    if call.request.query_params.get("alt") == "sse":
        return StreamingResponse(events(chunks), media_type="text/event-stream")
    return JSONResponse(chunks)


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
        last["finishMessage"] = "The image was blocked by the safety filter."
    if quirks_of(call.profile).safety_ratings:
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


async def events(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Server-Sent Events: one whole response JSON per event, and no closing sentinel."""
    for chunk in chunks:
        text = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
        yield f"data: {text}\r\n\r\n".encode("utf-8", errors="backslashreplace")


def response_id(call: Call) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(call.state.ids.hex(32))).decode().rstrip("=")


# GET /v1beta/models and /v1beta/models/{model}


async def list_models(call: Call) -> Response:
    authenticate(call)
    query = call.request.query_params
    size = page_size(query.get("pageSize"))
    start = page_start(query.get("pageToken"))
    await call.fail_if_forced(forced_answers(call, ""))
    listed = list(facts_of(call.profile.contract).models.items())
    page = [catalogue_entry(model, name) for name, model in listed[start : start + size]]
    following = start + size
    next_token = {"nextPageToken": page_token(following)} if following < len(listed) else {}
    return JSONResponse({"models": page, **next_token})


async def get_model(call: Call) -> Response:
    authenticate(call)
    model = model_of(call, "getModel")
    await call.fail_if_forced(forced_answers(call, model.name))
    return JSONResponse(catalogue_entry(model, call.request.path_params["model"].removeprefix("models/")))


def page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"", "page_size") from None
    return min(max(size, 1), MAX_PAGE_SIZE) if size > 0 else PAGE_SIZE


def page_token(start: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{start}".encode()).decode().rstrip("=")


def page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        label, _, start = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        if label == "offset" and start.isdigit():
            return int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid("Invalid page token.", "page_token")


def routes(profile: Profile, state: State) -> list[ServiceRoute]:
    routes = []
    for version in VERSIONS:
        for method, suffix, handler, faults in (
            ("POST", ":generateContent", generate, GENERATE_FAULTS),
            ("POST", ":streamGenerateContent", stream_generate, GENERATE_FAULTS),
            ("GET", "", get_model, READ_FAULTS),
        ):
            documented = f"/v1beta/models/{{model}}{suffix}"
            routes.append(ServiceRoute(method, f"/{version}/models/{{model}}{suffix}", handler, faults, documented))
        routes.append(ServiceRoute("GET", f"/{version}/models", list_models, READ_FAULTS, "/v1beta/models"))
    return routes

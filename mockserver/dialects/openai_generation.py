"""How OpenAI's own images API (contracts/openai.yaml, from openai/openai-openapi; research/apis.md §2, beyond.md
§A) takes a request and answers it, whichever of its endpoints: the models and their rules, the checks, the
charge, the images and what the answer says of them.

``POST /v1/images/generations`` reads the key first (401), then the body against its model's rules (400 naming
the field in ``param``), then charges the model's price for the quality and size, once per image: an account
without enough gets OpenAI's 429 ``insufficient_quota``. The GPT image models answer ``b64_json`` with ``usage``;
dall-e answers URLs the mock serves for an hour, or ``b64_json``; dall-e-3 revises the prompt. Errors are OpenAI's
envelope ``{"error": {"message", "type", "param", "code"}}``; every answer carries ``x-request-id`` and
``openai-processing-ms``. A service that relays the API (Azure's) reads the key and words its refusals its own way.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

import contracts

from ..images.drawing import blurred
from ..images.spec import ImageSpec, variants
from ..images.uploads import Upload
from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile
from ..state.files import StoredFile, file_url
from ..state.ledger import Charge
from ..wire.jsonio import JSONResponse, parse_json
from .models import estimated_tokens

FAULTS = ("content-policy", "rate-limit", "insufficient-credits", "server-error", "overloaded")
DEFAULT_MODEL = "dall-e-2"  # the spec's default, unless a field only the GPT image models take is set
DEFAULT_GPT_IMAGE_MODEL = "gpt-image-1"
GPT_IMAGE_FIELDS = ("output_format", "output_compression", "background", "moderation", "stream", "partial_images")
DALL_E_FIELDS = ("response_format", "style")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATIONS = ("low", "auto")
RESPONSE_FORMATS = ("url", "b64_json")
URL_LIFETIME_SECONDS = 3600  # "URLs are only valid for 60 minutes after the image has been generated"
IMAGES_PER_MINUTE = 5
RATE_LIMIT_WAIT_SECONDS = 20
ORGANIZATION = "org-imagegen-mock"
# The texts of OpenAI's errors (research/apis.md §2.5; the threads they are quoted from are cited there).
DOCS = "https://platform.openai.com/account/api-keys"
MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
    "(i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the "
    f"API from your browser and are prompted for a username and password. You can obtain an API key from {DOCS}."
)
NO_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
INVALID_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble "
    "figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)
MODERATED = (  # ucx0204/CarrotMangaTranslator#122 quotes it, relayed
    "Your request was rejected by the safety system. If you believe this is an error, contact us at "
    "help.openai.com and include the request ID {request_id}. safety_violations=[sexual]."
)
TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
         429: "requests", 500: "server_error", 503: "server_error"}  # fmt: skip


@dataclass(frozen=True)
class ImageModel:
    """A model's rules and prices, from its contract entry."""

    name: str
    entry: Mapping[str, Any]

    @property
    def gpt_image(self) -> bool:
        return self.entry["family"] == "gpt-image"

    @property
    def sizes(self) -> list[str]:
        return self.entry["sizes"]

    @property
    def qualities(self) -> list[str]:
        return self.entry["qualities"]

    def size(self, asked: str | None) -> str:
        return self.entry["default_size"] if asked in (None, "auto") else asked

    def quality(self, asked: str | None) -> str:
        return self.entry["default_quality"] if asked in (None, "auto") else asked

    def price(self, quality: str, size: str) -> int:
        return self.entry["price"][quality][size]

    def image_tokens(self, quality: str, size: str) -> int:
        return self.entry["image_tokens"][quality][size]


@cache
def models_of(contract: str) -> dict[str, ImageModel]:
    return {name: ImageModel(name, entry) for name, entry in contracts.models(contract).items()}


@dataclass(frozen=True)
class Generation:
    prompt: str
    model: ImageModel
    count: int
    size: str
    quality: str
    fields: Mapping[str, Any]
    inputs: tuple[Upload, ...] = ()  # the images of an edit or a variation
    mask: bytes | None = None  # an edit's: only where its alpha is 0 may the first input change

    @property
    def price(self) -> int:
        return self.count * self.model.price(self.quality, self.size)

    @property
    def output_format(self) -> str:
        return self.fields.get("output_format") or "png"

    @property
    def response_format(self) -> str:
        return "b64_json" if self.model.gpt_image else self.fields.get("response_format") or "url"


def error(
    profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None, *,
    param: str | None = None, kind: str | None = None, code: str | None = None,
) -> Response:  # fmt: skip
    body = {"message": message, "type": kind or TYPES.get(status, "invalid_request_error"), "param": param,
            "code": code}  # fmt: skip
    return JSONResponse({"error": body}, status, headers=dict(headers or {}))


@dataclass(frozen=True)
class Opening:
    api_key: str
    request_id: str


@dataclass(frozen=True)
class Refusals:
    """How the service words the refusals of a valid request: OpenAI's own, or a service relaying it."""

    moderated: Callable[[Call, Generation, str], Response]  # (call, generation, request id)
    no_quota: Callable[[Call], Response]
    rate_limited: Callable[[Call], Response]
    server_error: Callable[[Call, str], Response]


async def opened(call: Call, authenticate: Callable[[Call], str] | None = None) -> Opening:
    """What every images endpoint does first: its answers' headers, a forced overload, the key (OpenAI's way
    unless `authenticate` reads it otherwise)."""
    request_id = f"req_{call.state.ids.hex(32)}"
    started = time.perf_counter()
    call.answer_headers.append(lambda: answer_headers(request_id, started))
    await call.fail_if_forced({"overloaded": lambda: overloaded(call)})
    return Opening((authenticate or openai_key)(call), request_id)


async def respond(call: Call, opening: Opening, generation: Generation, refusals: Refusals | None = None) -> Response:
    """The charge for a valid request, its images, and what the answer says of them."""
    api_key, request_id = opening.api_key, opening.request_id
    said = refusals or OPENAI_REFUSALS
    await call.fail_if_forced({"rate-limit": lambda: said.rate_limited(call),
                               "insufficient-credits": lambda: said.no_quota(call)})  # fmt: skip
    failures = {"content-policy": lambda: said.moderated(call, generation, request_id),
                "server-error": lambda: said.server_error(call, request_id)}  # fmt: skip
    with call.charged(api_key, generation.price, lambda refused: said.no_quota(call)) as charge:
        if generation.fields.get("stream"):
            return await streamed(call, generation, charge, failures)
        await call.fail_if_forced(failures)
        data = await images(call, generation, charge)
    return JSONResponse({"created": int(call.state.clock.now()), "data": data, **described(generation)})


async def streamed(
    call: Call, generation: Generation, charge: Charge, failures: Mapping[str, Callable[[], Response]]
) -> Response:
    """Server-sent events: for each image its partial images, blurrier the earlier, then the image completed
    (research/apis.md §2.4; the spec's ImageGenStreamEvent and ImageEditStreamEvent). A failure forced here comes
    after the first partial image as an error event, which the SDK raises on, and the charge is given back."""
    fault = call.take_fault(*failures)
    prefix = "image_edit" if generation.inputs else "image_generation"
    shown = {"created_at": int(call.state.clock.now()), **described(generation)}
    del shown["usage"]  # each completed image has its own
    usage = described(replace(generation, count=1))["usage"]
    partials = generation.fields.get("partial_images", 0)  # checked with the rest of the body
    frames = []
    for spec in image_specs(call, generation):
        final = await call.state.renderer.render(spec)
        for index, partial in enumerate(
            await partial_images(final, spec.format, min(partials, 1) if fault else partials)
        ):
            frames.append(event(f"{prefix}.partial_image", {**shown, "b64_json": b64(partial),
                                                            "partial_image_index": index}))  # fmt: skip
        if fault:
            call.state.ledger.refund(charge)
            frames.append(event("error", {"type": "error", "error": json.loads(failures[fault]().body)["error"]}))
            break
        frames.append(event(f"{prefix}.completed", {**shown, "b64_json": b64(final), "usage": usage}))
    return Response(b"".join(frames), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def partial_images(final: bytes, fmt: str, count: int) -> list[bytes]:
    """The partial images a stream sends before `final`: blurred, less each time."""
    return [await run_in_threadpool(blurred, final, fmt, 4.0 * (count - index)) for index in range(count)]


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data} if name != 'error' else data)}\n\n".encode()


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def answer_headers(request_id: str, started: float) -> dict[str, str]:
    """The headers of every answer (langchain4j/langchain4j#5356 and Zain-ul-din/whatsapp-ai-bot#62 show them). No
    x-ratelimit-* figures: the images endpoints send none (openai-php/client#288, the maintainer confirming)."""
    return {"x-request-id": request_id, "openai-processing-ms": str(round((time.perf_counter() - started) * 1000)),
            "openai-version": "2020-10-01", "openai-organization": ORGANIZATION}  # fmt: skip


# Keys, quota and rate limits.


def openai_key(call: Call) -> str:
    """The key of `Authorization: Bearer`, or OpenAI's 401."""
    scheme, _, api_key = call.request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise Reject(error(call.profile, 401, MISSING_KEY))
    api_key = call.key(api_key.strip())
    account = call.account(api_key)
    if account is None:
        message = f"Incorrect API key provided: {masked(api_key)}. You can find your API key at {DOCS}."
        raise Reject(error(call.profile, 401, message, code="invalid_api_key"))
    return api_key


def masked(api_key: str) -> str:
    """A key as OpenAI's 401 shows it, its first eight and last four characters with stars between ("sk-VKMIs***…
    wjh3": chatanywhere/GPT_API_free#62)."""
    return api_key[:8] + "*" * max(0, len(api_key) - 12) + api_key[-4:] if len(api_key) > 12 else "*" * len(api_key)


def no_quota(call: Call) -> Response:
    return error(call.profile, 429, NO_QUOTA, kind="insufficient_quota", code="insufficient_quota")


def rate_limited(call: Call) -> Response:
    """The images-per-minute limit (songquanpeng/one-api#881 quotes the body)."""
    message = (
        f"Rate limit exceeded for images per minute in organization {ORGANIZATION}. Limit: {IMAGES_PER_MINUTE}/1min. "
        f"Current: {IMAGES_PER_MINUTE + 1}/1min. Please visit https://platform.openai.com/docs/guides/rate-limits to "
        "learn how to increase your rate limit."
    )
    headers = {"Retry-After": str(math.ceil(call.retry_after(RATE_LIMIT_WAIT_SECONDS)))}
    return error(call.profile, 429, message, headers, kind="requests", code="rate_limit_exceeded")


def overloaded(call: Call) -> Response:
    return error(call.profile, 503, "The engine is currently overloaded, please try again later.")


def server_error(call: Call, request_id: str) -> Response:
    message = ("The server had an error while processing your request. Sorry about that! You can retry your request, "
               f"or contact us through our help center at help.openai.com if the error persists. (Please include the "
               f"request ID {request_id} in your message.)")  # fmt: skip
    return error(call.profile, 500, message)


def moderated(call: Call, generation: Generation, request_id: str) -> Response:
    if generation.model.gpt_image:
        message = MODERATED.format(request_id=request_id)
        return error(call.profile, 400, message, kind="image_generation_user_error", code="moderation_blocked")
    message = ("Your request was rejected as a result of our safety system. Your prompt may contain text that is not "
               "allowed by our safety system.")  # fmt: skip
    return error(call.profile, 400, message, code="content_policy_violation")


OPENAI_REFUSALS = Refusals(moderated=moderated, no_quota=no_quota, rate_limited=rate_limited,
                           server_error=server_error)  # fmt: skip


# The body, checked against its model's rules.


def json_body(call: Call) -> Any:
    try:
        return parse_json(call.body)
    except ValueError:
        raise Reject(error(call.profile, 400, INVALID_JSON)) from None


def invalid(call: Call, message: str, param: str | None, code: str | None = "invalid_value") -> Reject:
    return Reject(error(call.profile, 400, message, param=param, code=code))


@dataclass(frozen=True)
class Operation:
    """What one images endpoint takes: its fields, its models, and its defaults."""

    fields: frozenset[str]
    serves: Callable[[ImageModel], bool]
    default_model: Callable[[Mapping[str, Any]], str]
    default_size: str | None = None  # None: the model's own
    prompted: bool = True


GENERATION = Operation(
    frozenset({"prompt", "model", "n", "quality", "size", "user", *GPT_IMAGE_FIELDS, *DALL_E_FIELDS}),
    serves=lambda model: True,
    default_model=lambda fields: (
        DEFAULT_GPT_IMAGE_MODEL if any(f in fields for f in GPT_IMAGE_FIELDS) else DEFAULT_MODEL
    ),
)


def generation_of(call: Call, body: Any, operation: Operation = GENERATION, **given: Any) -> Generation:
    """The request checked against its model's rules (`given`: an edit's inputs and mask), or OpenAI's 400."""
    if not isinstance(body, dict):
        raise invalid(call, f"Invalid type for body: expected an object, but got {json_type(body)} instead.", None,
                      "invalid_type")  # fmt: skip
    # null is the default, and so is not streaming
    fields = {name: value for name, value in body.items() if value is not None and (name, value) != ("stream", False)}
    for name in fields:
        if name not in operation.fields:
            raise invalid(call, f"Unrecognized request argument supplied: {name}", None, None)
    prompt = fields.get("prompt", "")
    if operation.prompted and "prompt" not in fields:
        raise invalid(call, "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    typed(call, fields, "prompt", str)
    typed(call, fields, "stream", bool)
    within(call, "partial_images", typed(call, fields, "partial_images", int, 0), 0, 3)
    model = model_of(call, fields, operation)
    count = typed(call, fields, "n", int, 1)
    within(call, "n", count, 1, 10)
    if count > model.entry["max_n"]:  # dall-e-3 (a Japanese notebook quotes it: research notes, 2026-12)
        raise invalid(call, "You must provide n=1 for this model.", None, None)
    if operation.prompted:
        longest(call, prompt, model)
    only_for(call, fields, model)
    if model.gpt_image:  # griptape-ai/griptape-nodes-engine#1031, pollinations/pollinations#5037
        one_of(call, fields, "size", model.sizes)
    elif fields.get("size") not in (None, *model.sizes):  # redevrx/chat_gpt_sdk#93
        raise invalid(call, "The size is not supported by this model.", None, "invalid_size")
    one_of(call, fields, "quality", model.qualities)
    size = model.size(fields.get("size", operation.default_size))
    return Generation(prompt, model, count, size, model.quality(fields.get("quality")), fields, **given)


def model_of(call: Call, fields: dict[str, Any], operation: Operation) -> ImageModel:
    name = typed(call, fields, "model", str, None) or operation.default_model(fields)
    model = models_of(call.profile.contract).get(name)
    if model is None or not operation.serves(model):  # BerriAI/litellm#3981 quotes it
        raise invalid(call, f"Invalid model {name}. The model argument should be left blank.", None, None)
    return model


def typed(call: Call, fields: Mapping[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = fields.get(name, default)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        wanted = {str: "a string", int: "an integer", bool: "a boolean", list: "an array"}[kind]
        raise invalid(call, f"Invalid type for '{name}': expected {wanted}, but got {json_type(value)} instead.",
                      name, "invalid_type")  # fmt: skip
    return value


def json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string", list: "an array",
             dict: "an object", type(None): "null"}  # fmt: skip
    return names.get(type(value), "a value")


def within(call: Call, name: str, value: int, least: int, most: int) -> None:
    if value < least:
        raise invalid(call, f"Invalid '{name}': integer below minimum value. Expected a value >= {least}, but got "
                            f"{value} instead.", name, "integer_below_min_value")  # fmt: skip
    if value > most:
        raise invalid(call, f"Invalid '{name}': integer above maximum value. Expected a value <= {most}, but got "
                            f"{value} instead.", name, "integer_above_max_value")  # fmt: skip


def longest(call: Call, prompt: str, model: ImageModel) -> None:
    most = model.entry["prompt_characters"]
    if len(prompt) > most:
        message = (f"Invalid 'prompt': string too long. Expected a string with maximum length {most}, but got a "
                   f"string with length {len(prompt)} instead.")  # fmt: skip
        raise invalid(call, message, "prompt", "string_above_max_length")
    if not prompt:
        raise invalid(call, "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an "
                            "empty string instead.", "prompt", "empty_string")  # fmt: skip


def one_of(call: Call, fields: Mapping[str, Any], name: str, allowed: list[str]) -> None:
    value = fields.get(name)
    if value is None:
        return
    if value not in allowed:
        listed = ", ".join(f"'{option}'" for option in allowed[:-1]) + f", and '{allowed[-1]}'"
        raise invalid(call, f"Invalid value: '{value}'. Supported values are: {listed}.", name)


def only_for(call: Call, fields: Mapping[str, Any], model: ImageModel) -> None:
    """The fields of the other family refused, those of its own checked."""
    foreign = [name for name in (DALL_E_FIELDS if model.gpt_image else GPT_IMAGE_FIELDS) if name in fields]
    if "style" in fields and model.name != "dall-e-3" and not foreign:
        foreign = ["style"]
    if foreign:
        name = foreign[0]
        raise invalid(call, f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    for name, allowed in (("output_format", OUTPUT_FORMATS), ("background", BACKGROUNDS),
                          ("moderation", MODERATIONS), ("response_format", RESPONSE_FORMATS),
                          ("style", model.entry.get("styles", []))):  # fmt: skip
        one_of(call, fields, name, list(allowed))
    if "output_compression" in fields:
        within(call, "output_compression", typed(call, fields, "output_compression", int), 0, 100)
    # The spec: "When using `transparent`, set the output format to `png` or `webp`"; the words are the mock's,
    # as no answer to it has been quoted.
    if fields.get("background") == "transparent" and fields.get("output_format", "png") not in ("png", "webp"):
        raise invalid(call, "Transparent background is not supported for jpeg output format. Use png or webp.",
                      "background")  # fmt: skip


# The answer.


async def images(call: Call, generation: Generation, charge: Charge) -> list[dict[str, str]]:
    specs = image_specs(call, generation)
    revised = {"revised_prompt": generation.prompt} if generation.model.entry.get("revises_prompt") else {}
    if generation.response_format == "b64_json":
        return [{"b64_json": data, **revised} for data in await call.state.renderer.base64_all(specs)]
    return [{"url": await published(call, spec, charge), **revised} for spec in specs]


def image_specs(call: Call, generation: Generation) -> list[ImageSpec]:
    width, height = (int(side) for side in generation.size.split("x"))
    fields = generation.fields
    drawn = generation.output_format
    first = ImageSpec(
        generation.prompt, width, height, generation.model.name, call.profile.name, call.state.settings.seed,
        format=drawn, transparent=fields.get("background") == "transparent",
        quality=fields.get("output_compression") if drawn != "png" else None,
        base=generation.inputs[0].content if generation.inputs else None, mask=generation.mask,
    )  # fmt: skip
    return variants(first, generation.count)


async def published(call: Call, spec: ImageSpec, charge: Charge) -> str:
    state = call.state
    content = await state.renderer.render(spec)
    name = f"{call.profile.name}/images/{state.ids.hex()}.png"
    now = state.clock.now()
    state.files.put(StoredFile(name, content, spec.media_type, now, expires_at=now + URL_LIFETIME_SECONDS), charge)
    return file_url(call.base_url, name)


def described(generation: Generation) -> dict[str, Any]:
    """What a GPT image model's answer says of the image it made: background, format, size, quality, usage."""
    if not generation.model.gpt_image:
        return {}
    background = "transparent" if generation.fields.get("background") == "transparent" else "opaque"
    text_tokens = estimated_tokens(generation.prompt)
    image_tokens = sum(vision_tokens(image.width, image.height) for image in generation.inputs)
    output = generation.count * generation.model.image_tokens(generation.quality, generation.size)
    usage = {"input_tokens": text_tokens + image_tokens, "output_tokens": output,
             "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
             "total_tokens": text_tokens + image_tokens + output,
             "output_tokens_details": {"image_tokens": output, "text_tokens": 0}}  # fmt: skip
    return {"background": background, "output_format": generation.output_format, "size": generation.size,
            "quality": generation.quality, "usage": usage}  # fmt: skip


def vision_tokens(width: int, height: int) -> int:
    """An input image's tokens as OpenAI's vision guide counts them at high detail: fitted within 2048 pixels,
    its shorter side brought to 768, then 85 plus 170 for each 512-pixel tile."""
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    tiles = math.ceil(width * scale / 512) * math.ceil(height * scale / 512)
    return 85 + 170 * tiles

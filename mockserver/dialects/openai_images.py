"""OpenAI's images wire format (research/apis.md §3; seed 003 for LLM Gateway, the service that speaks it here).

``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (JSON, or multipart as the official
SDK sends it) answer ``{"created", "data": [{"b64_json", "revised_prompt"}]}``: exactly ``n`` images at
the pixel size the model's table gives the aspect ratio asked for. The body is checked first, then the
key, then the credits. Errors are OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``;
a prompt the content filter stops gets 200 and no images.

What the format leaves to each service is its profile's `OpenAIQuirks`: its default model, its checks of
the body and their words, its errors' types and codes, how it fails upstream, its rate limit. The models
(their pixel tables and prices) come from the profile's contract. Multipart edits are read as LLM Gateway
reads them (apps/gateway/src/images/images.ts).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..images.spec import ImageSpec, variants
from ..images.uploads import Upload, UploadError, read_upload
from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile, ServiceRoute
from ..state.ledger import Account
from ..wire.jsonio import JSONResponse, parse_json
from .chat_images import CHAT
from .gemini_api import unlisted_ratio  # the model behind LLM Gateway is Google's
from .image_urls import referenced_bytes, supported_url
from .models import Model, estimated_tokens, models_of
from .zod import Rule, text, type_name

if TYPE_CHECKING:
    from ..state import State

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
MODELS = "/v1/models"
TEXT_SIZE = "text"  # a text model's price (its x-models entry's) for a chat answer, where an image model's size
MAX_IMAGES = 16  # input images of an edit
# The faults every service of the format shows; each also fails upstream in the ways its quirks say.
FAULTS = ("content-policy", "rate-limit", "insufficient-credits")
# LLM Gateway makes one chat completion whatever n is, and Google refuses candidateCount > 1 on image models, so a
# real answer often holds one image (images.ts buildImagePrompt, slice(0, n): research/fidelity.md L1).
FEWER_IMAGES = "fewer-images"
# Its edits put output_format, background and the mask into the prompt as words and send the mask as one more
# image; the answer echoes output_format over PNG bytes (images.ts buildEditPrompt, processImageEdit: L3).
HINTS_IGNORED = "edit-hints-ignored"
# It sends size's ratio and aspect_ratio to Google unchanged, and Google refuses a ratio it does not draw, 7:4
# (which seed 003 lists) among them (images.ts sizeToAspectRatio: research/fidelity.md L2, apis.md §3.3).
RATIOS_AS_GIVEN = "ratios-as-given"


@dataclass(frozen=True)
class Failure:
    """How a service answers a fault: its status and words, and the seconds it asks a client to wait."""

    status: int
    message: str
    retry_after: int | None = None


@dataclass(frozen=True)
class OpenAIQuirks:
    """How one service that speaks the format answers, where the format leaves it to the service."""

    default_model: str  # the model of a request that names none
    generation_rules: Mapping[str, Rule]  # the fields a generation may set, each with its check
    edit_rules: Mapping[str, Rule]  # the same for a JSON edit
    codes: Mapping[int, tuple[str, str | None]]  # an error's type and code for each status the service answers
    words: Mapping[str, str]  # its messages, by what they say (placeholders in braces)
    failures: Mapping[str, Failure]  # how the upstream faults fail, after the charge (refunded)
    shed: Failure  # the answer of an overloaded service, before it reads the request (the overloaded fault)
    requests_per_minute: int  # the rate limit its headers count
    rate_limited: Failure  # the 429 of a forced rate-limit
    limit_headers: Callable[[int, int, int, float], dict[str, str]]  # (limit, left, seconds to reset, reset time)
    catalogue_entry: Callable[[str, Model], dict[str, Any]]  # a model as GET /v1/models lists it, by its id
    chat: Callable[[Call], Awaitable[Response]] | None = None  # its chat completions, where it serves images there


def quirks_of(call: Call) -> OpenAIQuirks:
    return call.profile.quirks


def error(
    profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None,
    param: str | None = None, **meta: str | None,
) -> Response:  # fmt: skip
    default = ("api_error" if status >= 500 else "invalid_request_error", None)
    kind, code = profile.quirks.codes.get(status, default)
    body = {"message": message, "type": meta.get("type", kind), "param": param, "code": meta.get("code", code)}
    return JSONResponse({"error": body}, status, headers=dict(headers or {}))


def bad_request(call: Call, what: str, param: str | None = None, **values: Any) -> Reject:
    """400, in the service's words for `what`."""
    return Reject(error(call.profile, 400, words(call, what, **values), param=param))


def words(call: Call, what: str, **values: Any) -> str:
    return quirks_of(call).words[what].format(**values)


def routes(profile: Profile, state: State) -> list[ServiceRoute]:
    if not isinstance(profile.quirks, OpenAIQuirks):
        raise TypeError(f"profile {profile.name}: the openai_images dialect needs its OpenAIQuirks")
    faults = (*FAULTS, "overloaded", *profile.quirks.failures)
    return [
        ServiceRoute("POST", GENERATIONS, generate, (*faults, FEWER_IMAGES, RATIOS_AS_GIVEN)),
        ServiceRoute("POST", EDITS, edit, (*faults, FEWER_IMAGES, HINTS_IGNORED, RATIOS_AS_GIVEN)),
        *([ServiceRoute("POST", CHAT, profile.quirks.chat, faults)] if profile.quirks.chat else []),
        ServiceRoute("GET", MODELS, list_models, at_root=False),  # the root's /v1/models is Gemini's (new-api's)
    ]


async def list_models(call: Call) -> Response:
    """Every model, listed without a key (the service's models route checks none)."""
    entry = quirks_of(call).catalogue_entry
    return JSONResponse({"data": [entry(name, model) for name, model in models_of(call.profile.contract).items()]})


# The models, as the profile's contract lists them: their pixel tables and their prices.


def known_model(call: Call, name: str) -> Model:
    model = models_of(call.profile.contract).get(name)
    if model is None:  # the chat handler's answer, which takes the key first (the images route hands it on, and
        authenticate(call)  # only its message comes back: images.ts assertImageModel, research/fidelity.md L6)
        raise bad_request(call, "unknown-model", model=name)
    return model


def image_model(call: Call, name: str, endpoint: str) -> Model:
    model = known_model(call, name)
    if not model.makes_images:
        raise bad_request(call, "chat-model", model=name, endpoint=endpoint)
    return model


def price_of(model: Model, size: str) -> int:
    """Credits per image of the size; a size the model has no price for costs its first."""
    prices = model.entry.get("price", {})
    return prices.get(size, next(iter(prices.values())))


def nearest_pixels(model: Model, size: str, ratio: Fraction) -> tuple[int, int]:
    """The pixels of the ratio of the model's table nearest `ratio`."""
    table = model.sizes[size]
    return table[nearest_ratio(tuple(table), ratio)]


@lru_cache(maxsize=1024)  # Fractions are slow to compare, and clients ask for few ratios
def nearest_ratio(ratios: tuple[str, ...], ratio: Fraction) -> str:
    return min(ratios, key=lambda name: abs(as_fraction(name) - ratio))


def as_fraction(ratio: str) -> Fraction:
    width, height = ratio.split(":")
    return Fraction(int(width), int(height))


# Validation: each of the service's rules, its issues joined as "<words> <path>: <issue>, ...".

REQUIRED = {"prompt", "images"}


def validated(call: Call, body: Any, rules: Mapping[str, Rule]) -> dict[str, Any]:
    """The body's known fields, or a Reject listing every issue; unknown fields are dropped, as zod does."""
    if not isinstance(body, dict):
        issues = [f": Expected object, received {type_name(body)}"]
    else:
        issues = [f"{name}: {issue}" for name, rule in rules.items() if (issue := field_issue(body, name, rule))]
        if "images" in rules and not field_issue(body, "images", rules["images"]):
            issues += image_issues(body["images"])
    if issues:
        raise bad_request(call, "invalid-parameters", issues=", ".join(issues))
    return {name: body[name] for name in rules if name in body}


def field_issue(body: dict[str, Any], name: str, rule: Rule) -> str | None:
    if name not in body:
        return "Required" if name in REQUIRED else None
    return rule(body[name])


def image_issues(images: list[Any]) -> list[str]:
    issues = []
    for i, image in enumerate(images):
        if not isinstance(image, dict):
            issues.append(f"images.{i}: Expected object, received {type_name(image)}")
        elif issue := "Required" if "image_url" not in image else text()(image["image_url"]):
            issues.append(f"images.{i}.image_url: {issue}")
    return issues


# The request, whichever way it came.


@dataclass(frozen=True)
class ImageRequest:
    endpoint: str
    prompt: str
    model: Model
    count: int
    image_size: str
    ratio: Fraction | None  # None: the input's own, or 1:1
    fields: dict[str, Any]  # as the client set them, for the answer of an edit
    inputs: tuple[Upload, ...] = ()
    mask: bytes | None = None
    hints_only: bool = False  # output_format, background and mask not acted on (HINTS_IGNORED)

    @property
    def price(self) -> int:
        return self.count * price_of(self.model, self.image_size)

    @property
    def ratios(self) -> tuple[str, ...]:
        """The aspect ratios the model draws at this image size."""
        return tuple(self.model.sizes[self.image_size])

    @property
    def output_format(self) -> str:
        return self.fields.get("output_format", "png")

    def pixels(self) -> tuple[int, int]:
        ratio = self.ratio
        if ratio is None:
            ratio = Fraction(self.inputs[0].width, self.inputs[0].height) if self.inputs else Fraction(1)
        return nearest_pixels(self.model, self.image_size, ratio)


def size_ratio(call: Call, size: str) -> Fraction | None:
    """The aspect ratio the service derives from a size such as 1792x1024 (7:4); None for sizes that are
    not WIDTHxHEIGHT, such as auto or 2K."""
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if match is None:
        return None
    width, height = int(match[1]), int(match[2])
    if width == height:
        return Fraction(1)
    if 0 in (width, height):
        raise bad_request(call, "unsupported-size-ratio", "size", width=width, height=height)
    return Fraction(width, height)


def chosen_ratio(call: Call, fields: Mapping[str, Any]) -> Fraction | None:
    asked = fields.get("aspect_ratio")
    if asked is None:
        size = fields.get("size")
        return size_ratio(call, size) if size and size != "auto" else None
    if not re.fullmatch(r"[1-9]\d{0,4}:[1-9]\d{0,4}", asked):
        raise bad_request(call, "unsupported-ratio", "aspect_ratio", ratio=asked)
    return as_fraction(asked)


def image_request(call: Call, fields: dict[str, Any], endpoint: str) -> ImageRequest:
    """The request as the service reads it; a transparent JPEG is not refused, as the service has no such check
    (research/fidelity.md L3)."""
    model = image_model(call, fields.get("model") or quirks_of(call).default_model, endpoint)
    size = fields.get("size")
    return ImageRequest(
        endpoint, fields["prompt"], model, int(fields.get("n", 1)), model.image_size(size),
        chosen_ratio(call, fields), fields,
    )  # fmt: skip


def json_body(call: Call) -> Any:
    try:
        return parse_json(call.body)
    except ValueError:
        raise bad_request(call, "invalid-json") from None


async def generate(call: Call) -> Response:
    await call.fail_if_forced({"overloaded": lambda: shed(call)})
    fields = validated(call, json_body(call), quirks_of(call).generation_rules)
    return await respond(call, image_request(call, fields, GENERATIONS))


async def edit(call: Call) -> Response:
    await call.fail_if_forced({"overloaded": lambda: shed(call)})
    if "multipart/form-data" in call.request.headers.get("content-type", ""):
        fields, references = await form_request(call)
    else:
        fields = validated(call, json_body(call), quirks_of(call).edit_rules)
        references = [image["image_url"] for image in fields["images"]]
    for index, reference in enumerate(references):
        if not supported_url(reference):
            raise bad_request(call, "unsupported-url", index=index)
    uploads = [await input_image(call, reference, index) for index, reference in enumerate(references)]
    request = image_request(call, fields, EDITS)
    if "mask" in fields:  # the service sends a mask along as one more image
        return await respond(call, replace(request, inputs=tuple(uploads[:-1]), mask=uploads[-1].content))
    return await respond(call, replace(request, inputs=tuple(uploads)))


async def input_image(call: Call, reference: str, index: int) -> Upload:
    try:
        content = await referenced_bytes(call, reference)
    except ValueError:
        raise bad_request(call, "undecodable-image", index=index) from None
    try:
        return await read_upload(content, call.state.settings)
    except UploadError as problem:
        raise bad_request(call, "invalid-image", index=index, problem=problem) from None


# Multipart edits: the fields the service reads, the image as the data URL it makes of it.

FORM_FIELDS = ("model", "size", "quality")
MAX_FORM_FILES = 32


async def form_request(call: Call) -> tuple[dict[str, Any], list[str]]:
    form = await read_form(call)
    prompt = form.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise bad_request(call, "missing-prompt")
    image = next((form.getlist(name)[0] for name in ("image", "image[]", "file") if form.getlist(name)), None)
    if not isinstance(image, UploadFile):
        raise bad_request(call, "missing-image-file")
    references = [await data_url_of(image)]
    fields: dict[str, Any] = {"prompt": prompt}
    mask = form.get("mask")
    if isinstance(mask, UploadFile):
        references.append(await data_url_of(mask))
        fields["mask"] = True
    fields |= {name: value for name in FORM_FIELDS if isinstance(value := form.get(name), str) and value}
    count = parse_int(form.get("n"))
    if count is not None:
        fields["n"] = count
    validated(call, {**fields, "images": [{"image_url": reference} for reference in references]},
              quirks_of(call).edit_rules)  # fmt: skip
    return fields, references


async def read_form(call: Call) -> FormData:
    try:
        return await call.form(max_files=MAX_FORM_FILES, max_fields=64)
    except HTTPException as problem:  # Starlette's word for a form it cannot parse
        raise bad_request(call, "malformed-form", problem=problem.detail) from None


async def data_url_of(upload: UploadFile) -> str:
    content = await upload.read()
    return f"data:{upload.content_type or 'image/png'};base64,{base64.b64encode(content).decode()}"


def parse_int(value: Any) -> int | None:
    """JavaScript's parseInt: the leading whole number of a string, None where there is none."""
    match = re.match(r"\s*([+-]?\d+)", value) if isinstance(value, str) else None
    return int(match[1]) if match else None


# The answer.


async def respond(call: Call, request: ImageRequest) -> Response:
    images = await drawn(call, request)
    if images is None:
        return JSONResponse({"created": int(call.state.clock.now()), "data": []})
    data = [{"b64_json": image, "revised_prompt": request.prompt} for image in images]
    return JSONResponse({"created": int(call.state.clock.now()), "data": data, **edit_fields(request)})


class Filtered(Exception):
    """The content filter stopped the request before any image was drawn: nothing is charged."""


async def drawn(call: Call, request: ImageRequest) -> list[str] | None:
    """The images as base64 (none for a text model's chat answer), once the key, the rate, the credits and the
    forced faults allow them; None where the content filter stopped the request (200 and no images)."""
    api_key, account = authenticate(call)
    call.counted(usage_key(call, account), lambda used, reset_at: rate_limit_headers(call, used, reset_at))
    refusals = {"rate-limit": lambda: rate_limited(call), "insufficient-credits": lambda: insufficient(call)}
    await call.fail_if_forced(refusals)
    request = as_observed(call, request)
    try:
        with call.charged(api_key, request.price, lambda refused: insufficient(call)):
            if estimated_tokens(request.prompt) > request.model.input_token_limit:  # the model behind refuses it
                raise bad_request(call, "too-many-tokens", limit=request.model.input_token_limit)
            failures = quirks_of(call).failures
            await call.fail_if_forced({fault: partial(upstream_failure, call, fault) for fault in failures})
            if call.take_fault("content-policy"):
                raise Filtered
            return await draw_images(call, request) if request.model.makes_images else []
    except Filtered:
        return None


def as_observed(call: Call, request: ImageRequest) -> ImageRequest:
    """The request as the service was seen to carry it out, where a client test forces that: one image whatever n
    (and one charged), an edit's hints not acted on, or a ratio the model does not draw refused by it."""
    fault = call.take_fault(FEWER_IMAGES, HINTS_IGNORED, RATIOS_AS_GIVEN)
    if fault == RATIOS_AS_GIVEN and ratio_as_sent(request.fields) not in (None, *request.ratios):
        # only the upstream's message survives, typed by its status
        raise Reject(error(call.profile, 400, unlisted_ratio(request.ratios)))
    if fault == FEWER_IMAGES:
        return replace(request, count=1)
    if fault == HINTS_IGNORED:
        return replace(request, mask=None, hints_only=True)
    return request


def ratio_as_sent(fields: Mapping[str, Any]) -> str | None:
    """The ratio the service hands Google: aspect_ratio as given, else size's (equal sides 1:1, 1792x1024 7:4,
    1536x1024 3:2 and their portraits, any other WIDTHxHEIGHT unsimplified), none for other sizes."""
    if "aspect_ratio" in fields:
        return fields["aspect_ratio"]
    match = re.fullmatch(r"(\d+)x(\d+)", fields.get("size") or "")
    if match is None:
        return None
    width, height = int(match[1]), int(match[2])
    named = {(1792, 1024): "7:4", (1024, 1792): "4:7", (1536, 1024): "3:2", (1024, 1536): "2:3"}
    return "1:1" if width == height else named.get((width, height), f"{width}:{height}")


def upstream_failure(call: Call, fault: str) -> Response:
    return failed(call, quirks_of(call).failures[fault])


def shed(call: Call) -> Response:
    return failed(call, quirks_of(call).shed)


def failed(call: Call, failure: Failure) -> Response:
    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
    return error(call.profile, failure.status, failure.message, headers=headers)


async def draw_images(call: Call, request: ImageRequest) -> list[str]:
    width, height = request.pixels()
    drawn = "png" if request.hints_only else request.output_format
    first = ImageSpec(
        request.prompt, width, height, request.model.name, call.profile.name, call.state.settings.seed,
        format=drawn, base=request.inputs[0].content if request.inputs else None, mask=request.mask,
        transparent=request.fields.get("background") == "transparent" and not request.hints_only,
        quality=request.fields.get("output_compression") if drawn != "png" else None,
    )  # fmt: skip
    return await call.state.renderer.base64_all(variants(first, request.count))


def edit_fields(request: ImageRequest) -> dict[str, Any]:
    """What an edit's answer repeats of its request: background, output_format, quality and size, when set."""
    if request.endpoint != EDITS:
        return {}
    fields = request.fields
    shown = {"output_format": fields.get("output_format")}
    shown |= {name: fields.get(name) for name in ("background", "quality", "size") if fields.get(name) != "auto"}
    return {name: value for name, value in shown.items() if value is not None}


# Keys, credits and rate limits.


def authenticate(call: Call) -> tuple[str, Account]:
    """The key, as the service's extractToken finds it: what follows "Bearer " in Authorization, else the first
    of the other headers it reads."""
    headers = call.request.headers
    bearer = headers.get("authorization", "").split("Bearer ")
    others = (headers.get(place.name) for place in call.profile.key_places if place.kind == "header")
    api_key = bearer[1] if len(bearer) == 2 and bearer[1] else next((key for key in others if key), None)
    if not api_key:
        raise Reject(error(call.profile, 401, words(call, "missing-key")))
    account = call.account(call.key(api_key))
    if account is None:
        raise Reject(error(call.profile, 401, words(call, "unknown-key")))
    return api_key, account


def insufficient(call: Call) -> Response:
    return error(call.profile, 402, words(call, "no-credits"))


def usage_key(call: Call, account: Account) -> str:
    return f"{call.profile.name}:{account.id}"


def rate_limit_headers(call: Call, used: int, reset_at: float) -> dict[str, str]:
    """The headers of the requests-per-minute quota, as every authenticated answer has them."""
    limit = quirks_of(call).requests_per_minute
    left = max(0, limit - used)
    return quirks_of(call).limit_headers(limit, left, max(0, math.ceil(reset_at - call.state.clock.now())), reset_at)


def rate_limited(call: Call) -> Response:
    quirks = quirks_of(call)
    failure = quirks.rate_limited
    wait = math.ceil(call.retry_after(failure.retry_after or 0))
    headers = quirks.limit_headers(quirks.requests_per_minute, 0, wait, call.state.clock.now() + wait)
    message = failure.message.format(seconds=wait, path=call.route.documented)
    return error(call.profile, failure.status, message, headers={"Retry-After": str(wait), **headers})

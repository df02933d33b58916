"""OpenAI's images wire format, as LLM Gateway serves it (seed 003; research/apis.md §3).

``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (JSON, or multipart as the official
SDK sends it) answer ``{"created", "data": [{"b64_json", "revised_prompt"}]}``: exactly ``n`` images at
the pixel size the model's table gives the aspect ratio asked for. The body is checked first, with the
service's validator's own messages, then the key, then the credits. Errors are OpenAI's envelope
``{"error": {"message", "type", "param", "code"}}``; a prompt the content filter stops gets 200 and no
images.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute

import contracts

from ..credentials import bearer_token
from ..endpoints import Call, Reject, service_route
from ..images import ImageSpec, variants
from ..jsonio import JSONResponse, parse_json
from ..ledger import Account, InsufficientCredits
from ..sizes import image_sizes
from ..uploads import Upload, UploadError, read_image

if TYPE_CHECKING:
    from ..profiles import Profile
    from ..state import State

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
IMAGES_RPM = 300  # the gateway's per-organization limit on /v1/images
RETRY_AFTER_SECONDS = 12
OVERLOAD_RETRY_SECONDS = 1
PLACEHOLDER_SIDE = 1024  # an https input image, which the mock never fetches, stands in at this size
DEFAULT_MODEL = "auto"

FAULTS = ("content-policy", "no-image", "server-error", "overloaded", "rate-limit", "insufficient-credits", "timeout")

# The gateway's type and code for each status it raises itself.
META = {
    400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
    402: ("invalid_request_error", "billing_error"), 403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"), 405: ("invalid_request_error", None),
    413: ("invalid_request_error", "request_too_large"), 429: ("rate_limit_error", "rate_limit_exceeded"),
    502: ("upstream_error", "all_providers_failed"), 504: ("upstream_timeout", "timeout"),
    529: ("overloaded", "overloaded"),
}  # fmt: skip
NO_IMAGES = (
    "The model did not generate any images. Try a different model with image generation capabilities "
    "(e.g., gemini-2.5-flash-image, gemini-3-pro-image-preview)."
)
OVERLOADED = "The gateway is overloaded. Please retry shortly."
MISSING_AUTH = "Unauthorized: No Authorization header provided. Expected 'Bearer your-api-token'"
MALFORMED_AUTH = "Unauthorized: Invalid Authorization header format. Expected 'Bearer your-api-token'"


def error(
    profile: Profile | None, status: int, message: str, headers: Mapping[str, str] | None = None,
    param: str | None = None, **meta: str | None,
) -> Response:  # fmt: skip
    kind, code = META.get(status, ("api_error" if status >= 500 else "invalid_request_error", None))
    body = {"message": message, "type": meta.get("type", kind), "param": param, "code": meta.get("code", code)}
    return JSONResponse({"error": body}, status, headers=dict(headers or {}))


def bad_request(message: str, param: str | None = None) -> Reject:
    return Reject(error(None, 400, message, param=param))


def routes(profile: Profile, state: State) -> list[BaseRoute]:
    return [
        service_route(profile, state, "POST", GENERATIONS, generate, FAULTS),
        service_route(profile, state, "POST", EDITS, edit, FAULTS),
    ]


# The models, as the profile's contract lists them.


@dataclass(frozen=True)
class Model:
    name: str
    sizes: Mapping[str, Mapping[str, tuple[int, int]]] | None  # image size -> ratio -> pixels; None: text only
    price: Mapping[str, int]  # credits per image, per image size

    def image_size(self, asked: str | None) -> str:
        """The size this model draws: the one asked for if it has it, else its smallest."""
        sizes = list(self.sizes or ())
        return asked if asked in sizes else sizes[0]

    def pixels(self, size: str, ratio: Fraction) -> tuple[int, int]:
        """The pixels of the ratio of the model's table nearest `ratio`."""
        table = (self.sizes or {})[size]
        nearest = min(table, key=lambda name: abs(as_fraction(name) - ratio))
        return table[nearest]


@cache
def models_of(contract: str) -> dict[str, Model]:
    entries = contracts.load(contract)["x-models"]
    families = image_sizes(contract)
    canonical = {
        name: Model(name, families.get(entry.get("sizes", "")), entry.get("price", {}))
        for name, entry in entries.items()
        if "aliasOf" not in entry
    }
    return {name: canonical[entry.get("aliasOf", name)] for name, entry in entries.items()}


def image_model(call: Call, name: str, endpoint: str) -> Model:
    model = models_of(call.profile.contract).get(name)
    if model is None:
        raise Reject(error(None, 400, f"Requested model {name} not supported", param="model", code="model_not_found"))
    if model.sizes is None:
        raise bad_request(
            f"Model {name} is a chat model and cannot be used with {endpoint}. "
            "Use the /v1/chat/completions endpoint instead."
        )
    return model


def as_fraction(ratio: str) -> Fraction:
    width, height = ratio.split(":")
    return Fraction(int(width), int(height))


# Validation, in the words of the service's validator (zod): "Invalid request parameters: <path>: <issue>, ...".

Rule = Callable[[Any], str | None]


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def text(min_length: int = 0) -> Rule:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"Expected string, received {type_name(value)}"
        if len(value) < min_length:
            return f"String must contain at least {min_length} character(s)"
        return None

    return check


def whole(low: int, high: int) -> Rule:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"Expected number, received {type_name(value)}"
        if isinstance(value, float) and not value.is_integer():
            return "Expected integer, received float"
        if value < low:
            return f"Number must be greater than or equal to {low}"
        if value > high:
            return f"Number must be less than or equal to {high}"
        return None

    return check


def one_of(*choices: str) -> Rule:
    expected = " | ".join(f"'{choice}'" for choice in choices)

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"Expected {expected}, received {type_name(value)}"
        if value not in choices:
            return f"Invalid enum value. Expected {expected}, received '{value}'"
        return None

    return check


def literal(expected: str) -> Rule:
    return lambda value: None if value == expected else f'Invalid literal value, expected "{expected}"'


def image_list(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"Expected array, received {type_name(value)}"
    if not value:
        return "Array must contain at least 1 element(s)"
    if len(value) > 16:
        return "Array must contain at most 16 element(s)"
    return None


GENERATION_RULES: dict[str, Rule] = {
    "prompt": text(1), "model": text(), "n": whole(1, 10), "size": text(),
    "quality": one_of("standard", "hd", "low", "medium", "high"), "response_format": literal("b64_json"),
    "style": one_of("vivid", "natural"), "aspect_ratio": text(),
}  # fmt: skip
EDIT_RULES: dict[str, Rule] = {
    "images": image_list, "prompt": text(1), "background": one_of("transparent", "opaque", "auto"),
    "input_fidelity": one_of("high", "low"), "model": text(), "n": whole(1, 10), "output_compression": whole(0, 100),
    "output_format": one_of("png", "jpeg", "webp"), "quality": one_of("low", "medium", "high", "auto"),
    "size": text(), "aspect_ratio": text(),
}  # fmt: skip
REQUIRED = {"prompt", "images"}


def validated(body: Any, rules: Mapping[str, Rule]) -> dict[str, Any]:
    """The body's known fields, or a Reject listing every issue; unknown fields are dropped, as zod does."""
    if not isinstance(body, dict):
        issues = [f": Expected object, received {type_name(body)}"]
    else:
        issues = [f"{name}: {issue}" for name, rule in rules.items() if (issue := field_issue(body, name, rule))]
        if "images" in rules and not field_issue(body, "images", image_list):
            issues += image_issues(body["images"])
    if issues:
        raise bad_request("Invalid request parameters: " + ", ".join(issues))
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
        elif issue := field_issue(image, "image_url", text()) or ("Required" if "image_url" not in image else None):
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

    @property
    def price(self) -> int:
        return self.count * self.model.price.get(self.image_size, next(iter(self.model.price.values())))

    @property
    def output_format(self) -> str:
        return self.fields.get("output_format", "png")

    def pixels(self) -> tuple[int, int]:
        ratio = self.ratio
        if ratio is None:
            ratio = Fraction(self.inputs[0].width, self.inputs[0].height) if self.inputs else Fraction(1)
        return self.model.pixels(self.image_size, ratio)


def size_ratio(size: str) -> Fraction | None:
    """The aspect ratio the service derives from a size such as 1792x1024 (7:4); None for sizes that are
    not WIDTHxHEIGHT, such as auto or 2K."""
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if match is None:
        return None
    width, height = int(match[1]), int(match[2])
    if width == height:
        return Fraction(1)
    if 0 in (width, height):
        raise bad_request(f"Unsupported aspect ratio: {width}:{height}", "size")
    return Fraction(width, height)


def chosen_ratio(fields: Mapping[str, Any]) -> Fraction | None:
    asked = fields.get("aspect_ratio")
    if asked is None:
        size = fields.get("size")
        return size_ratio(size) if size and size != "auto" else None
    if not re.fullmatch(r"[1-9]\d{0,4}:[1-9]\d{0,4}", asked):
        raise bad_request(f"Unsupported aspect ratio: {asked}. Use W:H, such as 16:9.", "aspect_ratio")
    return as_fraction(asked)


def image_request(call: Call, fields: dict[str, Any], endpoint: str, **inputs: Any) -> ImageRequest:
    model = image_model(call, fields.get("model") or DEFAULT_MODEL, endpoint)
    size = fields.get("size")
    request = ImageRequest(
        endpoint, fields["prompt"], model, int(fields.get("n", 1)), model.image_size(size),
        chosen_ratio(fields), fields, **inputs,
    )  # fmt: skip
    if request.fields.get("background") == "transparent" and request.output_format == "jpeg":
        raise bad_request("A transparent background needs output_format png or webp.", "background")
    return request


async def json_body(call: Call) -> Any:
    try:
        return parse_json(await call.request.body())
    except ValueError:
        raise bad_request("Invalid JSON in request body") from None


async def generate(call: Call) -> Response:
    fields = validated(await json_body(call), GENERATION_RULES)
    return await respond(call, image_request(call, fields, GENERATIONS))


async def edit(call: Call) -> Response:
    if "multipart/form-data" in call.request.headers.get("content-type", ""):
        fields, references = await form_request(call)
    else:
        fields = validated(await json_body(call), EDIT_RULES)
        references = [image["image_url"] for image in fields["images"]]
    for index, reference in enumerate(references):
        if not supported_url(reference):
            raise bad_request(f"images[{index}].image_url must be an https URL or a base64 data URL")
    uploads = [await input_image(call, reference, index) for index, reference in enumerate(references)]
    request = image_request(call, fields, EDITS)
    if "mask" in fields:  # the service sends a mask along as one more image
        return await respond(call, replace(request, inputs=tuple(uploads[:-1]), mask=uploads[-1].content))
    return await respond(call, replace(request, inputs=tuple(uploads)))


DATA_URL = re.compile(r"data:image/[a-zA-Z0-9.+-]+;base64,([A-Za-z0-9+/=\s]+)")


def supported_url(reference: str) -> bool:
    if DATA_URL.fullmatch(reference):
        return True
    parts = urlsplit(reference)
    return parts.scheme == "https" and bool(parts.hostname)


async def input_image(call: Call, reference: str, index: int) -> Upload:
    """An input image: a data URL's, or for an https URL (never fetched) a placeholder drawn from the URL."""
    settings = call.state.settings
    data_url = DATA_URL.fullmatch(reference)
    if data_url is None:
        spec = ImageSpec(f"placeholder for {reference}", PLACEHOLDER_SIDE, PLACEHOLDER_SIDE, "image_url",
                         call.profile.name, settings.seed)  # fmt: skip
        content = await call.state.renderer.render(spec, shown=False)
    else:
        try:
            content = base64.b64decode(re.sub(r"\s", "", data_url[1]), validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f"images[{index}].image_url is invalid: its base64 data does not decode") from None
    try:
        return await run_in_threadpool(
            read_image, content, int(settings.upload_max_mib * 1024 * 1024), settings.upload_max_pixels
        )
    except UploadError as problem:
        raise bad_request(f"images[{index}].image_url is invalid: the image {problem}") from None


# Multipart edits: the fields the service reads, the image as the data URL it makes of it.

FORM_FIELDS = ("model", "size", "quality")
MAX_FORM_FILES = 32


async def form_request(call: Call) -> tuple[dict[str, Any], list[str]]:
    form = await read_form(call)
    prompt = form.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise bad_request("prompt is required")
    image = next((form.getlist(name)[0] for name in ("image", "image[]", "file") if form.getlist(name)), None)
    if not isinstance(image, UploadFile):
        raise bad_request("image file is required for multipart/form-data requests")
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
    validated({**fields, "images": [{"image_url": reference} for reference in references]}, EDIT_RULES)
    return fields, references


async def read_form(call: Call) -> FormData:
    try:
        return await call.request.form(max_files=MAX_FORM_FILES, max_fields=64)
    except HTTPException as problem:  # Starlette's word for a form it cannot parse
        raise bad_request(f"Malformed multipart/form-data body: {problem.detail}") from None


async def data_url_of(upload: UploadFile) -> str:
    content = await upload.read()
    return f"data:{upload.content_type or 'image/png'};base64,{base64.b64encode(content).decode()}"


def parse_int(value: Any) -> int | None:
    """JavaScript's parseInt: the leading whole number of a string, None where there is none."""
    match = re.match(r"\s*([+-]?\d+)", value) if isinstance(value, str) else None
    return int(match[1]) if match else None


# The answer.


async def respond(call: Call, request: ImageRequest) -> Response:
    api_key, account = authenticate(call)
    call.state.usage.hit(usage_key(account))
    try:
        response = await answer(call, request, api_key)
    except Reject as rejection:
        response = rejection.response
    for name, value in rate_limit_headers(call.state, account).items():
        response.headers.setdefault(name, value)
    return response


async def answer(call: Call, request: ImageRequest, api_key: str) -> Response:
    await call.fail_if_forced({"rate-limit": lambda: rate_limited(call.state), "insufficient-credits": insufficient})
    try:
        charge = call.charge(api_key, request.price)
    except InsufficientCredits:
        return insufficient()
    try:
        await call.fail_if_forced(upstream_failures())
        if call.take_fault("content-policy"):
            call.state.ledger.refund(charge)  # the filter stops the request before any image is drawn
            return JSONResponse({"created": int(call.state.clock.now()), "data": []})
        images = await draw_images(call, request)
    except BaseException:
        call.state.ledger.refund(charge)
        raise
    return JSONResponse({"created": int(call.state.clock.now()), "data": images, **edit_fields(request)})


def upstream_failures() -> dict[str, Callable[[], Response]]:
    return {
        "no-image": lambda: error(None, 500, NO_IMAGES),
        "server-error": lambda: error(None, 502, "All providers failed to process the request"),
        "overloaded": lambda: error(None, 529, OVERLOADED, headers={"Retry-After": str(OVERLOAD_RETRY_SECONDS)}),
        "timeout": lambda: error(None, 504, "The upstream provider did not answer in time"),
    }


async def draw_images(call: Call, request: ImageRequest) -> list[dict[str, str]]:
    width, height = request.pixels()
    first = ImageSpec(
        request.prompt, width, height, request.model.name, call.profile.name, call.state.settings.seed,
        format=request.output_format, base=request.inputs[0].content if request.inputs else None, mask=request.mask,
        transparent=request.fields.get("background") == "transparent",
        quality=request.fields.get("output_compression") if request.output_format != "png" else None,
    )  # fmt: skip
    encoded = await call.state.renderer.base64_all(variants(first, request.count))
    return [{"b64_json": data, "revised_prompt": request.prompt} for data in encoded]


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
    headers = call.request.headers
    authorization = headers.get("authorization")
    if authorization is None:
        api_key = headers.get("x-api-key")
        if not api_key:
            raise Reject(error(None, 401, MISSING_AUTH))
    else:
        if not authorization.strip().lower().startswith("bearer"):
            raise Reject(error(None, 401, MALFORMED_AUTH))
        api_key = bearer_token(authorization)
        if api_key is None:
            raise Reject(error(None, 401, "Unauthorized: No token provided"))
    account = call.state.ledger.find_or_open(api_key)
    if account is None:
        raise Reject(error(None, 401, "Unauthorized: Invalid token"))
    return api_key, account


def insufficient() -> Response:
    return error(None, 402, "Organization has insufficient credits")


def usage_key(account: Account) -> str:
    return f"llmgateway:{account.id}"


def rate_limit_headers(state: State, account: Account) -> dict[str, str]:
    """The headers of the organization's requests-per-minute quota, as every authenticated answer has them."""
    left = max(0, IMAGES_RPM - state.usage.count(usage_key(account), 60))
    reset_at = state.usage.window_reset(usage_key(account), 60)
    return limit_headers(left, max(0, math.ceil(reset_at - state.clock.now())), reset_at)


def limit_headers(left: int, delay: int, reset_at: float) -> dict[str, str]:
    return {
        "RateLimit-Policy": f'"requests";q={IMAGES_RPM};w=60',
        "RateLimit": f'"requests";r={left};t={delay}',
        "RateLimit-Limit": str(IMAGES_RPM),
        "RateLimit-Remaining": str(left),
        "RateLimit-Reset": str(delay),
        "X-RateLimit-Limit": str(IMAGES_RPM),
        "X-RateLimit-Remaining": str(left),
        "X-RateLimit-Reset": str(int(reset_at)),
    }


def rate_limited(state: State) -> Response:
    message = f"Rate limit exceeded for /v1/images. Please retry after {RETRY_AFTER_SECONDS} seconds."
    headers = limit_headers(0, RETRY_AFTER_SECONDS, state.clock.now() + RETRY_AFTER_SECONDS)
    return error(None, 429, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS), **headers})

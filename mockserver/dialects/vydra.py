"""Vydra's JSON API (seed 001; research/apis.md §5).

``POST /api/v1/models/gemini/generate`` with a Bearer key charges 5 credits and answers with the URL
of a PNG; a failure after the charge refunds it. Errors are ``{"error", "code", "details"}``, except
the two the seed documents without a code (missing prompt, insufficient credits).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

import contracts

from ..images.sizes import GEMINI_25_FLASH
from ..images.spec import ImageSpec
from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile, ServiceRoute
from ..state.clock import iso
from ..state.files import StoredFile, file_url
from ..state.ledger import Account, Charge, InsufficientCredits
from ..wire.jsonio import JSONResponse, parse_json
from ..wire.keys import bearer_token

if TYPE_CHECKING:
    from ..state import State

GENERATE = "/api/v1/models/gemini/generate"
ORGANIZATION = "/api/v1/organization"
RATE_LIMITS = "/api/v1/account/rate-limits"
MODELS = "/api/v1/models"
HEALTH = "/api/v1/health"

MODEL = "gemini-2.0-flash-exp-image-generation"
PRICE = 5  # credits per image
ASPECT_RATIOS = tuple(contracts.load("vydra")["components"]["schemas"]["AspectRatio"]["enum"])  # the seed's list
DEFAULT_ASPECT_RATIO = "1:1"
MISSING_PROMPT = "Missing required field: prompt (string)"
# Vydra documents no limit (its models list gives the prompt no maxLength); this is the mock's, what Gemini 2.0
# Flash behind it reads: 32,768 tokens of about four characters.
MAX_PROMPT_CHARACTERS = 131_072

PLAN = "creator"
LIMITS = {"rpm": 60, "rph": 1500, "rpd": 20000, "concurrent": 10}
WINDOWS = {"minute": (60, "rpm"), "hour": (3600, "rph"), "day": (86400, "rpd")}
RETRY_AFTER_SECONDS = 30

CODES = {
    400: "INVALID_INPUT",
    401: "MISSING_AUTH",
    403: "INSUFFICIENT_SCOPE",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    504: "TIMEOUT",
}

GENERATE_FAULTS = ("content-policy", "server-error", "rate-limit", "insufficient-credits", "timeout")
READ_FAULTS = ("server-error", "rate-limit", "timeout")
HEALTH_FAULTS = ("server-error", "timeout")


def error(
    profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    code = extra.pop("code", CODES.get(status, "ERROR"))
    body = {"error": message, "code": code, "details": extra.pop("details", {}), **extra}
    return JSONResponse(body, status, headers=dict(headers or {}))


def routes(profile: Profile, state: State) -> list[ServiceRoute]:
    return [
        ServiceRoute("POST", GENERATE, with_account(generate), GENERATE_FAULTS),
        ServiceRoute("GET", ORGANIZATION, with_account(organization), READ_FAULTS),
        ServiceRoute("GET", RATE_LIMITS, with_account(rate_limits), READ_FAULTS),
        ServiceRoute("GET", MODELS, with_account(models), READ_FAULTS),
        ServiceRoute("GET", HEALTH, health, HEALTH_FAULTS),
    ]


# Authentication and the rate-limit headers every authenticated answer carries.

AccountHandler = Callable[[Call, str, Account], Awaitable[Response]]


def with_account(handler: AccountHandler) -> Callable[[Call], Awaitable[Response]]:
    async def run(call: Call) -> Response:
        api_key, account = authenticate(call)
        call.counted(account.id, lambda used, reset_at: limit_headers(LIMITS["rpm"] - used, reset_at))
        return await handler(call, api_key, account)

    return run


def authenticate(call: Call) -> tuple[str, Account]:
    header = call.request.headers.get("authorization")
    if header is None:
        raise Reject(error(call.profile, 401, "Missing Authorization header", code="MISSING_AUTH"))
    api_key = bearer_token(header)
    if api_key is not None:
        call.key(api_key)
    if api_key is None:
        message = "Invalid Authorization header format. Expected: Bearer <api_key>"
        raise Reject(error(call.profile, 401, message, code="INVALID_FORMAT"))
    account = call.account(api_key)
    if account is None:
        raise Reject(error(call.profile, 401, "API key not found", code="KEY_NOT_FOUND"))
    return api_key, account


def limit_headers(remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(LIMITS["rpm"]),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(int(reset)),
    }


# Forced faults: every endpoint answers them the same way, in its own error shape.


def forced_answers(call: Call, failure: Callable[[int, str], Response]) -> dict[str, Callable[[], Response]]:
    return {
        "rate-limit": lambda: rate_limited(call),
        "insufficient-credits": lambda: insufficient_credits(PRICE, 0),
        "content-policy": lambda: failure(500, "Content policy violation"),
        "server-error": lambda: failure(500, "Internal server error"),
        "timeout": lambda: failure(504, "Request timed out"),
    }


async def forced_read_fault(call: Call) -> None:
    await call.fail_if_forced(forced_answers(call, lambda status, message: error(call.profile, status, message)))


def rate_limited(call: Call) -> Response:
    wait = math.ceil(call.retry_after(RETRY_AFTER_SECONDS))
    body = {
        "error": "Rate limit exceeded",
        "code": "RATE_LIMIT_EXCEEDED",
        "retryAfter": wait,
        "limits": {"type": "minute", "limit": LIMITS["rpm"], "used": LIMITS["rpm"] + 1},
    }
    headers = {"Retry-After": str(wait), **limit_headers(0, call.state.clock.now() + wait)}
    return JSONResponse(body, 429, headers=headers)


# POST /api/v1/models/gemini/generate


async def generate(call: Call, api_key: str, account: Account) -> Response:
    started = time.perf_counter()
    prompt, aspect_ratio = await generation_request(call)
    answers = forced_answers(call, generation_failed)
    await call.fail_if_forced({name: answers[name] for name in ("rate-limit", "insufficient-credits")})
    with call.charged(api_key, PRICE, refused) as charge:
        await call.fail_if_forced({name: answers[name] for name in ("content-policy", "server-error", "timeout")})
        url = await publish_image(call, prompt, aspect_ratio, charge)
    return JSONResponse(
        {
            "imageUrl": url,
            "mimeType": "image/png",
            "creditsCharged": PRICE,
            "durationMs": round((time.perf_counter() - started) * 1000),
        }
    )


async def generation_request(call: Call) -> tuple[str, str]:
    """The prompt and aspect ratio of a valid request, or a Reject with Vydra's 400."""
    content_type = call.request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise Reject(error(call.profile, 400, "Content-Type must be application/json"))
    try:
        body = parse_json(call.body)
    except ValueError:
        raise Reject(error(call.profile, 400, "Invalid JSON in request body")) from None
    fields = body if isinstance(body, dict) else {}
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise Reject(JSONResponse({"error": MISSING_PROMPT}, 400))
    if len(prompt) > MAX_PROMPT_CHARACTERS:
        message = f"prompt must be at most {MAX_PROMPT_CHARACTERS} characters"
        raise Reject(error(call.profile, 400, message, details={"field": "prompt", "maxLength": MAX_PROMPT_CHARACTERS}))
    aspect_ratio = fields.get("aspectRatio", DEFAULT_ASPECT_RATIO)
    if aspect_ratio not in ASPECT_RATIOS:
        raise Reject(
            error(
                call.profile,
                400,
                f"Invalid aspectRatio: {json.dumps(aspect_ratio)}. Must be one of: {', '.join(ASPECT_RATIOS)}",
                details={"field": "aspectRatio", "allowed": list(ASPECT_RATIOS)},
            )
        )
    return prompt, aspect_ratio


def refused(refusal: InsufficientCredits) -> Response:
    return insufficient_credits(refusal.required, refusal.balance)


def insufficient_credits(required: int, remaining: int) -> Response:
    return JSONResponse(
        {"error": "Insufficient credits", "creditsRequired": required, "creditsRemaining": remaining}, 402
    )


def generation_failed(status: int, message: str) -> Response:
    return JSONResponse({"error": "Failed to generate image", "message": message}, status)


async def publish_image(call: Call, prompt: str, aspect_ratio: str, charge: Charge) -> str:
    width, height = GEMINI_25_FLASH[aspect_ratio]
    state = call.state
    spec = ImageSpec(prompt, width, height, MODEL, call.profile.name, state.settings.seed)
    content = await state.renderer.render(spec)
    name = f"{call.profile.name}/{state.ids.hex()}.png"
    state.files.put(StoredFile(name, content, spec.media_type, state.clock.now(), expires_at=None), charge)
    return file_url(call.base_url, name)


# The account endpoints.


async def organization(call: Call, api_key: str, account: Account) -> Response:
    await forced_read_fault(call)
    return JSONResponse(
        {
            "id": "org_" + account.id.removeprefix("acct_"),
            "name": "Mock organization",
            "plan": PLAN,
            "creditsRemaining": account.balance,
            "createdAt": iso(account.created_at),
            "updatedAt": iso(account.updated_at),
        }
    )


async def rate_limits(call: Call, api_key: str, account: Account) -> Response:
    await forced_read_fault(call)
    usage = {
        window: {"used": call.state.usage.count(account.id, seconds), "limit": LIMITS[limit]}
        for window, (seconds, limit) in WINDOWS.items()
    }
    return JSONResponse({"plan": PLAN, "limits": LIMITS, "usage": usage, "timestamp": iso(call.state.clock.now())})


async def models(call: Call, api_key: str, account: Account) -> Response:
    await forced_read_fault(call)
    query = call.request.query_params
    listed = [catalogue_entry()]
    if "provider" in query:
        listed = [m for m in listed if m["provider"] == query["provider"]]
    if "isActive" in query:
        if query["isActive"] not in ("true", "false"):
            raise Reject(error(call.profile, 400, "isActive must be true or false"))
        listed = [m for m in listed if m["isActive"] == (query["isActive"] == "true")]
    return JSONResponse({"data": listed, "count": len(listed)})


def catalogue_entry() -> dict[str, Any]:
    return {
        "slug": "gemini-image-generate",
        "name": "Gemini 2.0 Flash",
        "provider": "google",
        "modelId": MODEL,
        "creditsPerUnit": PRICE,
        "pricingUnit": "image",
        "deployedOn": "google",
        "description": "Generate images from text prompts using Google's Gemini 2.0 Flash model.",
        "inputSchema": {
            "type": "object",
            "required": ["prompt"],
            "properties": {
                "prompt": {"type": "string", "description": "Text description of the image to generate"},
                "aspectRatio": {"type": "string", "enum": list(ASPECT_RATIOS), "default": DEFAULT_ASPECT_RATIO},
            },
        },
        "exampleInput": {"prompt": "A cozy cabin in the mountains during winter", "aspectRatio": "16:9"},
        "isActive": True,
    }


async def health(call: Call) -> Response:
    await forced_read_fault(call)
    return JSONResponse({"status": "ok", "timestamp": iso(call.state.clock.now())})

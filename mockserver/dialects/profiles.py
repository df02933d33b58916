"""The one table of services: each row a profile, a dialect plus that service's quirks.

A row names the profile (its prefix and, by default, its contract's name), its title and the documentation
it follows, its dialect, and whether its paths also answer at the root. What its contract states (paths,
models and pixel tables, prices, where keys go, how it refuses) is read from the contract; what the contract
cannot state is the row's `quirks`, in the dialect's own type.
"""

from __future__ import annotations

from typing import Any

from ..pipeline.routing import Profile
from . import azure_openai, gemini, gemini_chat, geminigen, openai, openai_images, openai_images_chat, vydra, zod
from .gemini_api import GeminiQuirks
from .models import Model
from .openai_images import Failure, OpenAIQuirks


def llm_gateway_limit_headers(limit: int, left: int, reset_in: int, reset_at: float) -> dict[str, str]:
    """IETF RateLimit headers, with their older spellings (seed 003's 300 requests a minute on /v1/images)."""
    return {
        "RateLimit-Policy": f'"requests";q={limit};w=60',
        "RateLimit": f'"requests";r={left};t={reset_in}',
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(left),
        "RateLimit-Reset": str(reset_in),
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(left),
        "X-RateLimit-Reset": str(int(reset_at)),
    }


FAMILIES = {"google-ai-studio": "google", "openai": "openai"}  # LLM Gateway's model families, by provider


def llm_gateway_model(name: str, model: Model) -> dict[str, Any]:
    """A model as LLM Gateway's GET /v1/models lists it (apps/gateway/src/models/models.ts): the fields its zod
    schema requires, with the provider its contract entry names (Google's AI Studio unless it says)."""
    by = model.entry.get("provider", "google-ai-studio")
    draws = model.makes_images
    provider = {"providerId": by, "externalId": model.name, "streaming": True, "vision": True, "cancellation": False,
                "tools": not draws, "parallelToolCalls": False, "reasoning": False}  # fmt: skip
    return {
        "id": name, "name": name, "description": f"{name} provided by {by}", "family": FAMILIES[by],
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text", "image"] if draws
                         else ["text"], "tokenizer": "GPT"},
        "top_provider": {"is_moderated": True}, "providers": [provider],
        "pricing": {"prompt": "0", "completion": "0", "image": "0", "request": "0"},
        "json_output": False, "structured_outputs": False, "free": False,
    }  # fmt: skip


# LLM Gateway (seed 003; research/apis.md §3, from apps/gateway/src/images/images.ts and the gateway's error
# handler): zod's checks, its own error codes, Google behind it.
LLM_GATEWAY = OpenAIQuirks(
    default_model="auto",
    generation_rules={
        "prompt": zod.text(1), "model": zod.text(), "n": zod.whole(1, 10), "size": zod.text(),
        "quality": zod.one_of("standard", "hd", "low", "medium", "high"), "response_format": zod.literal("b64_json"),
        "style": zod.one_of("vivid", "natural"), "aspect_ratio": zod.text(),
    },
    edit_rules={
        "images": zod.array(1, openai_images.MAX_IMAGES), "prompt": zod.text(1),
        "background": zod.one_of("transparent", "opaque", "auto"), "input_fidelity": zod.one_of("high", "low"),
        "model": zod.text(), "n": zod.whole(1, 10), "output_compression": zod.whole(0, 100),
        "output_format": zod.one_of("png", "jpeg", "webp"), "quality": zod.one_of("low", "medium", "high", "auto"),
        "size": zod.text(), "aspect_ratio": zod.text(),
    },
    codes={
        400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
        402: ("invalid_request_error", "billing_error"), 403: ("invalid_request_error", "permission_denied"),
        404: ("invalid_request_error", "not_found"), 405: ("invalid_request_error", None),
        413: ("invalid_request_error", "request_too_large"), 429: ("rate_limit_error", "rate_limit_exceeded"),
        # the images route keeps only an upstream failure's message; its type and code follow the status
        # (images.ts forwardToChatCompletions, lib/error-response.ts: research/fidelity.md L4)
        502: ("api_error", None), 504: ("timeout_error", "timeout"), 529: ("api_error", None),
    },
    words={
        "invalid-parameters": "Invalid request parameters: {issues}",
        "invalid-json": "Invalid JSON in request body",
        "unknown-model": "Requested model {model} not supported",
        # lib/validate-model-output.ts names the generations route, whichever route was called (fidelity L7)
        "chat-model": "Model {model} is a chat model and cannot be used with /v1/images/generations. "
        "Use the /v1/chat/completions endpoint instead.",
        "unsupported-size-ratio": "Unsupported aspect ratio: {width}:{height}",
        "unsupported-ratio": "Unsupported aspect ratio: {ratio}. Use W:H, such as 16:9.",
        "unsupported-url": "images[{index}].image_url must be an https URL or a base64 data URL",
        "undecodable-image": "images[{index}].image_url is invalid: its base64 data does not decode",
        "invalid-image": "images[{index}].image_url is invalid: the image {problem}",
        "missing-prompt": "prompt is required",
        "missing-image-file": "image file is required for multipart/form-data requests",
        "malformed-form": "Malformed multipart/form-data body: {problem}",
        # the texts of the era that takes x-api-key, as seed 003 does (the gateway's extractToken and
        # requireRequestContext: research/fidelity.md L5)
        "missing-key": "Unauthorized: No API key provided. Expected 'Authorization: Bearer your-api-token' header or "
        "'x-api-key: your-api-token' header",
        "unknown-key": "Unauthorized: Invalid LLMGateway API token. Please make sure the token is not deleted or "
        "disabled. Go to the LLMGateway 'API Keys' page to generate a new token.",
        "no-credits": "Organization has insufficient credits",
        "too-many-tokens": "The input token count exceeds the maximum number of tokens allowed ({limit}).",  # Google's
    },
    failures={
        "no-image": Failure(
            500,
            "The model did not generate any images. Try a different model with image generation capabilities "
            "(e.g., gemini-2.5-flash-image, gemini-3-pro-image-preview).",
        ),
        "server-error": Failure(502, "All providers failed to process the request"),
        "timeout": Failure(504, "The upstream provider did not answer in time"),
    },
    # load shedding, before any handler reads the request (lib/backpressure.ts: fidelity L4)
    shed=Failure(529, "Gateway overloaded, please retry", retry_after=1),
    requests_per_minute=300,
    # the organisation's rate limit names the path called (fidelity L8)
    rate_limited=Failure(429, "Rate limit exceeded for {path}. Please retry after {seconds} seconds.", 12),
    limit_headers=llm_gateway_limit_headers,
    catalogue_entry=llm_gateway_model,
    chat=openai_images_chat.chat,
)  # fmt: skip

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(name="geminigen", title="GeminiGen.AI", source="seed 000", dialect=geminigen),
        Profile(name="vydra", title="Vydra", source="seed 001", dialect=vydra),
        Profile(name="llmgateway", title="LLM Gateway", source="seed 003", dialect=openai_images, quirks=LLM_GATEWAY),
        Profile(
            name="gemini",
            title="Gemini generateContent, any of its services",
            source="seeds 002 and 004, Google's API",
            dialect=gemini,
        ),
        Profile(
            name="google", title="Google Gemini API (strict)", source="Google's API", dialect=gemini, at_root=False
        ),
        Profile(
            name="vastnum",
            title="vastnum, a new-api gateway",
            source="seed 002",
            dialect=gemini,
            quirks=GeminiQuirks(new_api=True),
            at_root=False,
        ),
        Profile(
            name="crazyrouter",
            title="Crazyrouter",
            source="seed 004",
            dialect=gemini,
            quirks=GeminiQuirks(chat=gemini_chat.chat),
            at_root=False,
        ),
        # its /v1 is LLM Gateway's at the root (routing gives each namespace one profile there)
        Profile(
            name="openai", title="OpenAI Images API", source="openai/openai-openapi", dialect=openai, at_root=False
        ),
        # under /azure only: at the root, /openai/... is the openai profile's prefix
        Profile(
            name="azure",
            title="Azure OpenAI images",
            source="Azure OpenAI's data plane",
            dialect=azure_openai,
            at_root=False,
        ),
    )
}

"""The scenario catalogue: every documented behaviour of every profile, as something a test can trigger and
check — success, each documented error, refunds, a job's end, rate limits, content filters.

One list serves three readers: the pytest plugin parametrises a client's tests with it, the kit plays each
scenario against a server (behaviour `documented-scenarios`, conformance/scenarios.py), and the README's failure
tables are printed from it (`imagegen-mock scenarios --markdown`), so the three cannot drift apart. Over HTTP
it is `GET /_mock/scenarios`. A profile's scenarios are its service's own (the seeds' examples), or else those
of its wire format, from its contract.

A scenario is one request (the key added where the service reads it), optionally with a fault forced on it
or a balance set first, and optionally followed, after the mock's clock moves on, by a read of what the
first answer started (a job's history). Its expectation is a status, a part of the JSON answer (every key
given must be there with that value, recursively), headers that must be present, and whether credits are
taken.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import contracts

from .dialects.chat_images import CHAT
from .dialects.gemini_api import STATUS_NAMES


@dataclass(frozen=True)
class Step:
    method: str
    path: str  # as the service documents it; {name} is filled from the first answer's field of that name
    json: Any = None
    form: Mapping[str, str] | None = None
    keyed: bool = True  # whether the API key is sent
    query: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Scenario:
    profile: str
    name: str
    answers: str  # what the service does, in words: the README's table cell
    request: Step
    fault: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # the fault's options (state/faults.py FaultOptions)
    credits: int | None = None  # the balance to give the key first
    status: int | None = 200  # None: no whole answer arrives (broken_connections.py)
    expect: Mapping[str, Any] = field(default_factory=dict)  # part of the JSON answer
    headers: tuple[str, ...] = ()  # answer headers that must be present
    charged: int | None = None  # credits the whole scenario takes (refunds counted); None: not stated
    then: Step | None = None  # a later read of what the request started
    advance_seconds: float = 0  # how far the mock's clock moves before `then`
    client: str = ""  # what a correct client does, where the catalogue says
    known: tuple[str, ...] = ()  # what the real service is known to do, each with its source

    @property
    def id(self) -> str:
        return f"{self.profile}:{self.name}"

    @property
    def fault_header(self) -> str:
        """The X-Mock-Fault header that forces the scenario's fault, its options after the name."""
        options = (f"{name.replace('_', '-')}={value}" for name, value in self.options.items())
        return "; ".join([self.fault or "", *options])

    @property
    def key(self) -> contracts.KeyPlace:
        """Where the key is sent: where the service's documentation puts it."""
        return contracts.key_places(self.profile)[0]

    def as_json(self) -> dict[str, Any]:
        key = {"place": "query" if self.key.kind == "query" else "header", "name": self.key.name,
               "prefix": self.key.prefix}  # fmt: skip
        return {"id": self.id, **asdict(self), "key": key}


def contains(answer: Any, expected: Any) -> bool:
    """Whether `answer` holds `expected`: every key of a dict with a matching value, lists item by item."""
    if isinstance(expected, dict):
        return isinstance(answer, dict) and all(k in answer and contains(answer[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(answer, list) and len(answer) == len(expected) and all(map(contains, answer, expected))
    return answer == expected


CHAT_ASK = [{"role": "user", "content": "A lighthouse at dusk"}]  # a chat completion's messages


# Vydra (seed 001).

VYDRA_GENERATE = "/api/v1/models/gemini/generate"
VYDRA_ASK = {"prompt": "A cozy cabin in the mountains", "aspectRatio": "16:9"}
VYDRA_FAILED = {"error": "Failed to generate image"}


def vydra() -> list[Scenario]:
    ask = Step("POST", VYDRA_GENERATE, VYDRA_ASK)
    return [
        Scenario(
            "vydra",
            "success",
            "200 with `imageUrl` (a 1344x768 PNG) and `creditsCharged: 5`",
            ask,
            expect={"mimeType": "image/png", "creditsCharged": 5},
            charged=5,
        ),
        Scenario(
            "vydra",
            "missing-prompt",
            "400 `Missing required field: prompt (string)`",
            Step("POST", VYDRA_GENERATE, {}),
            status=400,
            expect={"error": "Missing required field: prompt (string)"},
            charged=0,
        ),
        Scenario(
            "vydra",
            "invalid-aspect-ratio",
            "400 `INVALID_INPUT` naming the ten ratios",
            Step("POST", VYDRA_GENERATE, {"prompt": "x", "aspectRatio": "7:5"}),
            status=400,
            expect={"code": "INVALID_INPUT"},
            charged=0,
        ),
        Scenario(
            "vydra",
            "missing-key",
            "401 `MISSING_AUTH`",
            Step("POST", VYDRA_GENERATE, VYDRA_ASK, keyed=False),
            status=401,
            expect={"code": "MISSING_AUTH"},
            charged=0,
        ),
        Scenario(
            "vydra",
            "too-few-credits",
            "402 `Insufficient credits` with the balance; nothing charged",
            ask,
            credits=2,
            status=402,
            expect={"error": "Insufficient credits", "creditsRequired": 5, "creditsRemaining": 2},
            charged=0,
        ),
        Scenario(
            "vydra",
            "content-policy",
            "500 `Content policy violation`, credits refunded",
            ask,
            fault="content-policy",
            status=500,
            expect={**VYDRA_FAILED, "message": "Content policy violation"},
            charged=0,
        ),
        Scenario(
            "vydra",
            "server-error",
            "500 `Internal server error`, credits refunded",
            ask,
            fault="server-error",
            status=500,
            expect={**VYDRA_FAILED, "message": "Internal server error"},
            charged=0,
        ),
        Scenario(
            "vydra",
            "timeout",
            "holds the request `--timeout-seconds`, then 504 `Request timed out`; refunded",
            ask,
            fault="timeout",
            status=504,
            expect={**VYDRA_FAILED, "message": "Request timed out"},
            charged=0,
        ),
        Scenario(
            "vydra",
            "rate-limit",
            "429 `RATE_LIMIT_EXCEEDED` with `Retry-After: 30`; nothing charged",
            ask,
            fault="rate-limit",
            status=429,
            expect={"code": "RATE_LIMIT_EXCEEDED", "retryAfter": 30},
            headers=("Retry-After",),
            charged=0,
        ),
        Scenario(
            "vydra",
            "insufficient-credits",
            "402 as if the balance were 0; nothing charged",
            ask,
            fault="insufficient-credits",
            status=402,
            expect={"creditsRemaining": 0},
            charged=0,
        ),
    ]


# GeminiGen (seed 000): a job starts at status 1 and ends, on the mock's clock, at 2 or 3.

GEMINIGEN_GENERATE = "/uapi/v1/generate_image"
GEMINIGEN_FORM = {
    "prompt": "A beautiful sunset over mountains",
    "model": "imagen-4",
    "aspect_ratio": "16:9",
    "style": "Photorealistic",
    "service_mode": "unstable",
}
JOB_SECONDS = 12  # --job-seconds-unstable's default


def geminigen() -> list[Scenario]:
    ask = Step("POST", GEMINIGEN_GENERATE, form=GEMINIGEN_FORM)
    history = Step("GET", "/uapi/v1/history/{uuid}")

    def failure(code: str) -> dict[str, Any]:
        return {"detail": {"error_code": code}}

    return [
        Scenario(
            "geminigen",
            "job-started",
            "200, the generation record with `status: 1`; 10 credits taken",
            ask,
            expect={"status": 1, "used_credit": 10},
            charged=10,
        ),
        Scenario(
            "geminigen",
            "job-completes",
            "after the job's time, `status: 2`, 100 percent, a 1408x768 JPEG",
            ask,
            then=history,
            advance_seconds=JOB_SECONDS,
            expect={"status": 2, "status_percentage": 100},
            charged=10,
        ),
        Scenario(
            "geminigen",
            "content-policy",
            "the job fails: status 3, `error_code` `GEMINI_RAI_MEDIA_FILTERED`, credits refunded",
            ask,
            fault="content-policy",
            then=history,
            advance_seconds=JOB_SECONDS,
            expect={"status": 3, "error_code": "GEMINI_RAI_MEDIA_FILTERED"},
            charged=0,
        ),
        Scenario(
            "geminigen",
            "server-error",
            "the job fails with `SYSTEM_ERROR`, credits refunded",
            ask,
            fault="server-error",
            then=history,
            advance_seconds=JOB_SECONDS,
            expect={"status": 3, "error_code": "SYSTEM_ERROR"},
            charged=0,
        ),
        Scenario(
            "geminigen",
            "rate-limit",
            "429 `GEMINI_RATE_LIMIT` with `Retry-After: 60`; nothing charged",
            ask,
            fault="rate-limit",
            status=429,
            expect=failure("GEMINI_RATE_LIMIT"),
            headers=("Retry-After",),
            charged=0,
        ),
        Scenario(
            "geminigen",
            "insufficient-credits",
            "402 `NOT_ENOUGH_CREDIT`; nothing charged",
            ask,
            fault="insufficient-credits",
            status=402,
            expect=failure("NOT_ENOUGH_CREDIT"),
            charged=0,
        ),
        Scenario(
            "geminigen",
            "too-few-credits",
            "402 `NOT_ENOUGH_CREDIT` when the balance is below the price",
            ask,
            credits=3,
            status=402,
            expect=failure("NOT_ENOUGH_CREDIT"),
            charged=0,
        ),
        Scenario(
            "geminigen",
            "timeout",
            "holds the request, then 504 `SYSTEM_ERROR`; nothing charged",
            ask,
            fault="timeout",
            status=504,
            expect=failure("SYSTEM_ERROR"),
            charged=0,
        ),
        Scenario(
            "geminigen",
            "missing-key",
            "401 `API_KEY_REQUIRED`",
            Step("POST", GEMINIGEN_GENERATE, form=GEMINIGEN_FORM, keyed=False),
            status=401,
            expect=failure("API_KEY_REQUIRED"),
            charged=0,
        ),
        Scenario(
            "geminigen",
            "invalid-form",
            "422 `VALIDATION_ERROR` in FastAPI's words",
            Step("POST", GEMINIGEN_GENERATE, form={"prompt": "x", "model": "imagen-9"}),
            status=422,
            expect=failure("VALIDATION_ERROR"),
            charged=0,
        ),
    ]


# LLM Gateway (seed 003).

LLMGATEWAY_GENERATE = "/v1/images/generations"
TINY = (  # seed 002's one-pixel PNG, as an edit's input
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def llmgateway() -> list[Scenario]:
    ask = Step("POST", LLMGATEWAY_GENERATE, {"prompt": "A white siamese cat", "model": "gemini-2.5-flash-image"})

    def error(kind: str, code: str | None) -> dict[str, Any]:
        return {"error": {"type": kind, "code": code}}

    return [
        Scenario(
            "llmgateway",
            "success",
            "200 with `data`: `n` base64 PNGs, `revised_prompt` the prompt; 4 credits an image (2.5 Flash)",
            Step(
                "POST",
                LLMGATEWAY_GENERATE,
                {"prompt": "A white siamese cat", "model": "gemini-2.5-flash-image", "n": 2},
            ),
            expect={"data": [{}, {}]},
            charged=8,
        ),
        Scenario(
            "llmgateway",
            "chat",
            "200 `chat.completion`: the model's text in `content`, its image in `message.images` as a data URL; "
            "charged as the images route charges it",
            Step("POST", CHAT, {"model": "gemini-2.5-flash-image", "messages": CHAT_ASK}),
            expect={"object": "chat.completion", "choices": [{"finish_reason": "stop", "message": {"images": [{}]}}]},
            charged=4,
        ),
        Scenario(
            "llmgateway",
            "fewer-images",
            "observed, not documented: one image whatever `n` asks (one chat completion; Google refuses "
            "`candidateCount > 1`: research/fidelity.md L1); one image charged",
            Step("POST", LLMGATEWAY_GENERATE, {**ask.json, "n": 3}),
            fault="fewer-images",
            expect={"data": [{}]},
            charged=4,
        ),
        Scenario(
            "llmgateway",
            "edit-hints-ignored",
            "observed, not documented: `output_format` echoed over PNG bytes, `background` and the mask only words "
            "in the prompt (research/fidelity.md L3)",
            Step("POST", "/v1/images/edits", {**ask.json, "output_format": "jpeg", "images": [{"image_url": TINY}]}),
            fault="edit-hints-ignored",
            expect={"output_format": "jpeg", "data": [{}]},
            charged=4,
        ),
        Scenario(
            "llmgateway",
            "ratios-as-given",
            "observed, not documented: a ratio reaches Google as given, and one it does not draw (7:4, from size "
            "1792x1024, though seed 003 lists it) is Google's 400 (research/fidelity.md L2); nothing charged",
            Step("POST", LLMGATEWAY_GENERATE, {**ask.json, "size": "1792x1024"}),
            fault="ratios-as-given",
            status=400,
            expect=error("invalid_request_error", None),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "invalid-parameters",
            "400 `Invalid request parameters: ...` in the validator's words",
            Step("POST", LLMGATEWAY_GENERATE, {"prompt": "x", "n": 11}),
            status=400,
            expect=error("invalid_request_error", None),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "url-response-format",
            "400: only `b64_json` is supported",
            Step("POST", LLMGATEWAY_GENERATE, {"prompt": "x", "response_format": "url"}),
            status=400,
            expect=error("invalid_request_error", None),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "invalid-image-url",
            "400 `images[0].image_url must be an https URL or a base64 data URL`",
            Step("POST", "/v1/images/edits", {"prompt": "x", "images": [{"image_url": "http://example.com/a.png"}]}),
            status=400,
            expect={"error": {"message": "images[0].image_url must be an https URL or a base64 data URL"}},
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "missing-key",
            "401 `invalid_api_key`",
            Step("POST", LLMGATEWAY_GENERATE, {"prompt": "x"}, keyed=False),
            status=401,
            expect=error("invalid_request_error", "invalid_api_key"),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "too-few-credits",
            "402 `billing_error`; nothing charged",
            ask,
            credits=1,
            status=402,
            expect=error("invalid_request_error", "billing_error"),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "content-policy",
            '200 with `"data": []`, as its content filter does; nothing charged',
            ask,
            fault="content-policy",
            expect={"data": []},
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "no-image",
            '500 `api_error`, "The model did not generate any images. …" (the seed-era text); refunded',
            ask,
            fault="no-image",
            status=500,
            expect=error("api_error", None),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "server-error",
            "502 `api_error`: the images route keeps only the upstream's message, typed by its status; refunded",
            ask,
            fault="server-error",
            status=502,
            expect=error("api_error", None),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "overloaded",
            '529 `api_error`, "Gateway overloaded, please retry", with `Retry-After: 1`: load shedding before the '
            "request is read; nothing charged",
            ask,
            fault="overloaded",
            status=529,
            expect=error("api_error", None),
            headers=("Retry-After",),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "rate-limit",
            "429 `rate_limit_error` with `Retry-After: 12` and `RateLimit-Remaining: 0`; nothing charged",
            ask,
            fault="rate-limit",
            status=429,
            expect=error("rate_limit_error", "rate_limit_exceeded"),
            headers=("Retry-After", "RateLimit-Remaining"),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "insufficient-credits",
            "402 `billing_error`; nothing charged",
            ask,
            fault="insufficient-credits",
            status=402,
            expect=error("invalid_request_error", "billing_error"),
            charged=0,
        ),
        Scenario(
            "llmgateway",
            "timeout",
            "holds the request, then 504 `timeout_error` / `timeout`; refunded",
            ask,
            fault="timeout",
            status=504,
            expect=error("timeout_error", "timeout"),
            charged=0,
        ),
    ]


# OpenAI's own images API (contracts/openai.yaml): prices in tenths of a cent.

OPENAI_GENERATE = "/v1/images/generations"
OPENAI_ASK = {"prompt": "A cute baby sea otter", "model": "gpt-image-1-mini", "quality": "low", "size": "1024x1024"}


def openai() -> list[Scenario]:
    ask = Step("POST", OPENAI_GENERATE, OPENAI_ASK)

    def error(kind: str, code: str | None) -> dict[str, Any]:
        return {"error": {"type": kind, "code": code}}

    def scenario(name: str, answers: str, **rest: Any) -> Scenario:
        return Scenario("openai", name, answers, rest.pop("request", ask), **{"charged": 0, **rest})

    return [
        scenario(
            "success",
            "200: `b64_json` images, `usage`, and the size and quality used; 5 credits an image "
            "(gpt-image-1-mini, low, square)",
            request=Step("POST", OPENAI_GENERATE, {**OPENAI_ASK, "n": 2}),
            expect={"data": [{}, {}], "size": "1024x1024", "quality": "low"},
            charged=10,
        ),
        scenario(
            "dall-e-3",
            "200: a `url` the mock serves for an hour, and `revised_prompt`; 40 credits",
            request=Step("POST", OPENAI_GENERATE, {"prompt": "a fox", "model": "dall-e-3"}),
            charged=40,
        ),
        scenario(
            "outside-the-model",
            "400 `invalid_request_error` naming the field: `You must provide n=1 for this model.`",
            request=Step("POST", OPENAI_GENERATE, {"prompt": "a fox", "model": "dall-e-3", "n": 2}),
            status=400,
            expect=error("invalid_request_error", None),
        ),
        scenario(
            "content-policy",
            "400 `image_generation_user_error` / `moderation_blocked` (dall-e: `content_policy_violation`); refunded",
            fault="content-policy",
            status=400,
            expect=error("image_generation_user_error", "moderation_blocked"),
        ),
        scenario(
            "rate-limit",
            "429 `requests` / `rate_limit_exceeded` with `Retry-After`; nothing charged",
            fault="rate-limit",
            status=429,
            expect=error("requests", "rate_limit_exceeded"),
            headers=("Retry-After",),
        ),
        scenario(
            "insufficient-credits",
            "429 `insufficient_quota` (not to be retried); nothing charged",
            fault="insufficient-credits",
            status=429,
            expect=error("insufficient_quota", "insufficient_quota"),
        ),
        scenario(
            "server-error",
            "500 `server_error`, naming the request id; refunded",
            fault="server-error",
            status=500,
            expect=error("server_error", None),
        ),
        scenario(
            "overloaded",
            '503 `server_error`, "The engine is currently overloaded, please try again later."; nothing charged',
            fault="overloaded",
            status=503,
            expect=error("server_error", None),
        ),
    ]


# Azure OpenAI (contracts/azure.yaml): OpenAI's images under a deployment.

AZURE_GENERATE = "/openai/deployments/dall-e-3/images/generations"


def azure() -> list[Scenario]:
    ask = Step("POST", AZURE_GENERATE, {"prompt": "A cute baby sea otter"}, query={"api-version": "2024-10-21"})

    def scenario(name: str, answers: str, **rest: Any) -> Scenario:
        return Scenario("azure", name, answers, rest.pop("request", ask), **{"charged": 0, **rest})

    return [
        scenario(
            "success",
            "200: a `url` the mock serves for an hour, and `revised_prompt`; 40 credits (dall-e-3)",
            expect={"data": [{}]},
            charged=40,
        ),
        scenario(
            "no-api-version",
            '404 `{"error": {"code": "404", "message": "Resource not found"}}`',
            request=Step("POST", AZURE_GENERATE, ask.json),
            status=404,
            expect={"error": {"code": "404"}},
        ),
        scenario(
            "content-policy",
            "400 `content_policy_violation` with `inner_error.content_filter_results`; refunded",
            fault="content-policy",
            status=400,
            expect={"error": {"code": "content_policy_violation", "inner_error": {}}},
        ),
        scenario(
            "rate-limit",
            '429 `{"code": "429"}`, call rate limit exceeded, with `Retry-After: 60`; nothing charged',
            fault="rate-limit",
            status=429,
            expect={"error": {"code": "429"}},
            headers=("Retry-After",),
        ),
        scenario(
            "insufficient-credits",
            "429 as a rate limit: Azure bills no credits; nothing charged",
            fault="insufficient-credits",
            status=429,
            expect={"error": {"code": "429"}},
        ),
        scenario(
            "server-error",
            "500 `server_error`, OpenAI's, relayed; refunded",
            fault="server-error",
            status=500,
            expect={"error": {"type": "server_error"}},
        ),
    ]


# The Gemini profiles (seeds 002 and 004, Google's API): how each refuses comes from its contract.

GEMINI_MODEL = "gemini-2.5-flash-image"
GEMINI_ASK = {"contents": [{"parts": [{"text": "a lighthouse at dusk"}]}]}


def gemini(profile: str) -> list[Scenario]:
    return gemini_generation(profile) + (gemini_chat(profile) if CHAT in contracts.load(profile)["paths"] else [])


def gemini_chat(profile: str) -> list[Scenario]:
    return [
        Scenario(
            profile,
            "chat",
            "200 `chat.completion`: the image as Markdown (`![image](data:image/png;base64,...)`) after the text in "
            "`content`; charged as the same generateContent",
            Step("POST", CHAT, {"model": GEMINI_MODEL, "messages": CHAT_ASK}),
            expect={"object": "chat.completion", "choices": [{"finish_reason": "stop"}]},
        ),
    ]


def gemini_generation(profile: str) -> list[Scenario]:
    generate = f"/v1beta/models/{GEMINI_MODEL}:generateContent"
    ask = Step("POST", generate, GEMINI_ASK)
    refusals = contracts.load(profile)["x-refusals"]
    relayed = contracts.load(profile).get("x-google-errors")  # how Google's own errors reach the client

    def google(status: int, extra: str = "") -> tuple[str, dict[str, Any]]:
        """The words and the answer's part to expect for an error Google answers."""
        words = f"{status} `{STATUS_NAMES[status]}`{extra}"
        if relayed is None:
            return words, {"error": {"code": status, "status": STATUS_NAMES[status]}}
        words += f", in the gateway's envelope (`type: {relayed['type']}`, `code: {status}`)"
        return words, {"error": {"type": relayed["type"], "code": status}}

    def refused(kind: str) -> dict[str, Any]:
        refusal = refusals[kind]
        return google(refusal["status"])[1] if refusal["envelope"] == "google" else {"error": {}}

    def refusal_words(kind: str, extra: str = "") -> str:
        refusal = refusals[kind]
        if refusal["envelope"] != "google":
            return f"{refusal['status']} in the gateway's own envelope; nothing charged"
        return f"{google(refusal['status'], extra)[0]}; nothing charged"

    def candidate(finish: str) -> dict[str, Any]:
        return {"candidates": [{"finishReason": finish}]}

    return [
        Scenario(
            profile,
            "success",
            "200: a text part and a 1024x1024 base64 PNG `inlineData` part, `finishReason: STOP`, `usageMetadata`",
            ask,
            expect=candidate("STOP"),
        ),
        Scenario(
            profile,
            "unknown-model",
            "503 `model_not_found`, the gateway's own (new-api's distributor); nothing charged"
            if "unknown-model" in refusals
            else "404 `NOT_FOUND`, Google's message",
            Step("POST", "/v1beta/models/gemini-0-image:generateContent", GEMINI_ASK),
            status=refusals.get("unknown-model", {}).get("status", 404),
            expect={"error": {"code": refusals["unknown-model"]["code"]}}
            if "unknown-model" in refusals
            else {"error": {"status": "NOT_FOUND"}},
            charged=0,
        ),
        Scenario(
            profile,
            "lower-case-image-size",
            f"{google(400)[0]}: `1k` is refused as Google refuses it",
            Step("POST", generate, {**GEMINI_ASK, "generationConfig": {"imageConfig": {"imageSize": "1k"}}}),
            status=400,
            expect=google(400)[1],
            charged=0,
        ),
        Scenario(
            profile,
            "missing-key",
            refusal_words("missing-key"),
            Step("POST", generate, GEMINI_ASK, keyed=False),
            status=refusals["missing-key"]["status"],
            expect=refused("missing-key"),
            charged=0,
        ),
        Scenario(
            profile,
            "content-policy",
            '200, `finishReason: "IMAGE_SAFETY"`, no image; the prompt\'s tokens are charged',
            ask,
            fault="content-policy",
            expect=candidate("IMAGE_SAFETY"),
        ),
        Scenario(
            profile,
            "blocked-prompt",
            '200, `promptFeedback.blockReason: "PROHIBITED_CONTENT"`, no candidates',
            ask,
            fault="blocked-prompt",
            expect={"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
        ),
        Scenario(
            profile,
            "no-image",
            '200, `finishReason: "NO_IMAGE"`, no image',
            ask,
            fault="no-image",
            expect=candidate("NO_IMAGE"),
        ),
        Scenario(
            profile,
            "server-error",
            f"{google(500)[0]}; nothing charged",
            ask,
            fault="server-error",
            status=500,
            expect=google(500)[1],
            charged=0,
        ),
        Scenario(
            profile,
            "overloaded",
            f"{google(503)[0]}; nothing charged",
            ask,
            fault="overloaded",
            status=503,
            expect=google(503)[1],
            charged=0,
        ),
        Scenario(
            profile,
            "rate-limit",
            refusal_words("rate-limit", " with `QuotaFailure` and `RetryInfo`"),
            ask,
            fault="rate-limit",
            status=refusals["rate-limit"]["status"],
            expect=refused("rate-limit"),
            charged=0,
        ),
        Scenario(
            profile,
            "insufficient-credits",
            refusal_words("quota"),
            ask,
            fault="insufficient-credits",
            status=refusals["quota"]["status"],
            expect=refused("quota"),
            charged=0,
        ),
        Scenario(
            profile,
            "timeout",
            f"holds the request, then {google(504)[0]}; nothing charged",
            ask,
            fault="timeout",
            status=504,
            expect=google(504)[1],
            charged=0,
        ),
    ]


SERVICES: dict[str, Callable[[], list[Scenario]]] = {
    "vydra": vydra, "geminigen": geminigen, "llmgateway": llmgateway, "openai": openai, "azure": azure,
}  # fmt: skip
WIRE_FORMATS: dict[str, Callable[[str], list[Scenario]]] = {"gemini": gemini}


@cache
def scenarios(profile: str) -> list[Scenario]:
    """The profile's scenarios; KeyError for a profile with no contract."""
    if profile in SERVICES:
        return SERVICES[profile]()
    by_format = WIRE_FORMATS.get(contracts.dialect(profile) or "")
    return by_format(profile) if by_format else []


def markdown(profile: str, heading: str) -> str:
    """The profile's failure table for the README: each forced fault and what the service answers."""
    rows = [f"| `{s.fault}` | {s.answers} |" for s in scenarios(profile) if s.fault]
    return "\n".join([f"| fault | {heading} |", "|---|---|", *rows])


README_TABLES = {
    "vydra": "Vydra answers",
    "geminigen": "GeminiGen answers",
    "gemini": "the Gemini profiles answer (each gateway refuses a key, quota and rate as its table above says)",
    "llmgateway": "LLM Gateway answers",
    "openai": "OpenAI answers",
    "azure": "Azure OpenAI answers",
}

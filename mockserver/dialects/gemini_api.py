"""What every endpoint of Google's Gemini API shares, whichever service answers it (seeds 002 and 004, Google's
API; research/apis.md §1): the facts a profile's contract gives, where keys go, how the service refuses and in
whose envelope, and the model catalogue (`GET /v1beta/models`). `gemini.py` answers generateContent with it,
`imagen.py` Imagen's predict.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from starlette.responses import Response

import contracts

from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile
from ..wire.jsonio import JSONResponse, parse_json
from ..wire.keys import key_at
from .models import Model, models_of
from .new_api import gemini_models, invalid_url, openai_models, request_id

VERSIONS = ("v1beta", "v1")  # the SDK calls /v1/ when given a base URL; both answer alike

PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
TROUBLESHOOTING = "https://developers.generativeai.google/guide/troubleshooting"
PACKAGE = "google.ai.generativelanguage.v1beta."
TYPE_PREFIX = f"type.googleapis.com/{PACKAGE}"

READ_FAULTS = ("server-error", "overloaded", "rate-limit", "timeout")


@dataclass(frozen=True)
class GeminiQuirks:
    """What sets a service apart that its contract does not say."""

    # It is new-api (QuantumNous/new-api): every answer names its request (X-Oneapi-Request-Id, and "... (request
    # id: ...)" in its own refusals, which carry `param`), and the balance is checked before the body is read.
    new_api: bool = False
    # Its OpenAI chat completions, where it serves them (gemini_chat.py: Crazyrouter's).
    chat: Callable[[Call], Awaitable[Response]] | None = None


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
    imagen: bool  # Imagen's predict is among its paths
    model_route: bool  # GET /v1beta/models/{model} is
    always_sse: bool  # streamGenerateContent answers Server-Sent Events, alt=sse or not
    files: bool  # the Files API is among its paths
    messages: Mapping[str, Mapping[str, str]]  # each request message's fields -> their kinds (messages_of)
    credit_tokens: int  # a generation costs a credit per started thousand (x-credit-tokens) of its total tokens
    safety_ratings: bool  # answers carry safetyRatings (x-safety-ratings), as seed 002 shows

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
        imagen="/v1beta/models/{model}:predict" in document["paths"],
        model_route="/v1beta/models/{model}" in document["paths"],
        always_sse="application/json" not in streamed(document),
        files="/upload/v1beta/files" in document["paths"],
        messages=messages_of(schemas, ("GenerateContentRequest", "CountTokensRequest")),
        credit_tokens=document["x-credit-tokens"],
        safety_ratings=document.get("x-safety-ratings", False),
    )


def messages_of(schemas: Mapping[str, Any], roots: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The request's messages as the contract's schemas give them, from `roots` down: each message's fields (every
    one python-genai can send: models.py _GenerateContentParameters_to_mldev, _GenerateContentConfig_to_mldev,
    which puts serviceTier at the root, and _Part_to_mldev) and their kinds: another message's name, string, int,
    number, bool, a list of one of those (name[]), or any (free-form)."""
    messages: dict[str, dict[str, str]] = {}

    def kind_of(schema: Mapping[str, Any]) -> str:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if "properties" not in schemas[name]:
                return kind_of(schemas[name])
            if name not in messages:
                messages[name] = {}  # before its fields: a message may hold itself
                messages[name].update({field: kind_of(sub) for field, sub in schemas[name]["properties"].items()})
            return name
        if "enum" in schema:
            return "string"
        if schema.get("type") == "array":
            item = kind_of(schema["items"]) if "items" in schema else "any"
            return "any" if item == "any" else f"{item}[]"
        return SCHEMA_KINDS.get(schema.get("type", ""), "any")

    for root in roots:
        kind_of({"$ref": f"#/components/schemas/{root}"})
    return messages


SCHEMA_KINDS = {"string": "string", "integer": "int", "number": "number", "boolean": "bool"}


def streamed(document: dict[str, Any]) -> dict[str, Any]:
    """The media types of streamGenerateContent's answer."""
    return document["paths"]["/v1beta/models/{model}:streamGenerateContent"]["post"]["responses"]["200"]["content"]


# Errors. Google's envelope is {"error": {"code", "message", "status", "details"}}; gateways answer their own
# refusals (keys, quota) in theirs, and relay Google's errors as they are.

STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip


def google_error(code: int, message: str, details: list[dict] | None = None, status: str | None = None) -> Response:
    error = {"code": code, "message": message, "status": status or STATUS_NAMES[code]}
    return JSONResponse({"error": error | ({"details": details} if details else {})}, code)


def error(profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    if status == 413:  # Google refuses a body over its limit as an invalid argument
        status, message = 400, f"Request payload size exceeds the limit. {message}."
    if status == 405:  # Google's front end has no 405: a method a path does not take is not found there
        status = 404
    if status == 404 and quirks_of(profile).new_api:
        response = invalid_url(message.partition(": ")[2])
    else:
        response = google_error(status, message)
    response.headers.update(headers or {})
    return response


def invalid(message: str, field: str | None = None) -> Reject:
    """400 INVALID_ARGUMENT with a BadRequest field violation, as Google refuses a request."""
    violation = {"description": message} | ({"field": field} if field else {})
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}]
    return Reject(google_error(400, message, details))


def camel(name: str) -> str:
    """A field's name as Google writes it: proto's JSON reads snake_case too."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def json_object(call: Call) -> dict[str, Any]:
    """The request's body, which must be a JSON object (a proto message), or Google's 400."""
    try:
        body = parse_json(call.body)
    except ValueError:
        raise invalid("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise invalid('Invalid JSON payload received. Unknown name "": Root element must be a message.')
    return body


def unknown_fields_refused(unknown: list[tuple[str, str]]) -> Reject:
    """Google's 400 for fields a message does not have: (path, name) each, as proto's JSON parser words it."""
    messages = [f'Invalid JSON payload received. Unknown name "{name}"' + (f" at '{path}'" if path else "")
                + ": Cannot find field." for path, name in unknown]  # fmt: skip
    violations = [
        {"description": m} | ({"field": path} if path else {}) for (path, _), m in zip(unknown, messages, strict=True)
    ]
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}]
    return Reject(google_error(400, "\n".join(messages), details))


def unlisted_ratio(ratios: Sequence[str]) -> str:
    """Google's words for an aspect ratio it does not draw: every ratio, quoted, in order; its 400 has no details
    (the body relayed in muyouzhi6/astrbot_plugin_gitee_aiimg#37)."""
    quoted = [f"'{ratio}'" for ratio in sorted(ratios, key=lambda r: tuple(int(n) for n in r.split(":")))]
    field = "generation_config.image_config.aspect_ratio"
    return f"* GenerateContentRequest.{field}: aspect_ratio must be one of {', '.join(quoted[:-1])}, or {quoted[-1]}.\n"


def too_many_tokens(limit: int) -> Response:
    """AI Studio's answer since late 2025 (arkavo-org/arkavo-edge#371); before, it also gave the count
    (google-gemini/gemini-cli#4118)."""
    return google_error(400, f"The input token count exceeds the maximum number of tokens allowed ({limit}).")


def error_info(reason: str, domain: str | None = "googleapis.com", **metadata: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        **({"domain": domain} if domain else {}),
        "metadata": {"service": "generativelanguage.googleapis.com", **metadata},
    }


# The RPC behind each path, as Google names it in an error's ErrorInfo (google.ai.generativelanguage.v1beta).
RPCS = {
    "": "ModelService.GetModel", ":generateContent": "GenerativeService.GenerateContent",
    ":streamGenerateContent": "GenerativeService.StreamGenerateContent",
    ":countTokens": "GenerativeService.CountTokens", ":predict": "PredictionService.Predict",
}  # fmt: skip


def rpc_of(call: Call) -> str:
    path = call.route.path
    rpc = "ModelService.ListModels" if path.endswith("/models") else RPCS[path.partition("{model}")[2]]
    return PACKAGE + rpc


def bearer_key_refused(call: Call) -> Response:
    """An API key sent as a Bearer token: Google wants an OAuth token there. Captured bodies name the RPC called
    and no domain; the header is Google's (research/fidelity.md G5)."""
    response = google_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        [error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", domain=None, method=rpc_of(call))],
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="invalid_token"'
    return response


def quota_exceeded(quota_id: str, model: str, wait_seconds: float = 59) -> Response:
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
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{wait_seconds:g}s"},
    ]  # fmt: skip
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more information on "
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    )
    return google_error(429, message, details)


# What Google answers for each refusal a service can make, of the call and the model it names.
GOOGLE_REFUSALS: dict[str, Callable[[Call, str], Response]] = {
    "missing-key": lambda call, model: google_error(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
        "or other form of API consumer identity to call this API.",
    ),
    "unknown-key": lambda call, model: google_error(
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
    "bearer-key": lambda call, model: bearer_key_refused(call),
    "quota": lambda call, model: quota_exceeded("GenerateRequestsPerDayPerProjectPerModel-FreeTier", model),
    "rate-limit": lambda call, model: quota_exceeded(
        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", model, call.retry_after(59)
    ),
    "server-error": lambda call, model: google_error(
        500, f"An internal error has occurred. Please retry or report in {TROUBLESHOOTING}"
    ),
    "overloaded": lambda call, model: google_error(503, "The model is overloaded. Please try again later."),
    "timeout": lambda call, model: google_error(504, "Deadline expired before operation could complete."),
}


def refusal(call: Call, kind: str, model: str = "") -> Response:
    """The service's answer to a refusal of `kind`: a gateway's own, in its envelope, where its contract gives
    its words; else Google's, which a gateway relays as it is."""
    refused = facts_of(call.profile.contract).refusals.get(kind)
    if refused is None or refused["envelope"] == "google":
        return GOOGLE_REFUSALS[kind](call, model)
    message = refused["message"].format(model=model)
    if not quirks_of(call.profile).new_api:
        return JSONResponse({"error": {"message": message, "type": refused["type"], "code": refused["code"]}},
                            refused["status"])  # fmt: skip
    message = f"{message} (request id: {request_id(call)})"
    error = {"message": message, "type": refused["type"], "param": "", "code": refused["code"]}
    return JSONResponse({"error": error}, refused["status"])


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
    if call.account(api_key) is None:
        raise Reject(refusal(call, "unknown-key"))
    return api_key


# The models, as the profile's contract lists them.


def catalogue_entry(model: Model, alias: str) -> dict[str, Any]:
    """The model as GET /v1beta/models lists it, under the id it was asked by (Imagen's without sampling)."""
    entry = {
        "name": f"models/{alias}",
        "version": model.entry["version"],
        "displayName": model.entry["displayName"],
        "description": model.entry["description"],
        "inputTokenLimit": model.entry["inputTokenLimit"],
        "outputTokenLimit": model.entry["outputTokenLimit"],
        "supportedGenerationMethods": model.methods,
    }
    if "generateContent" not in model.methods:
        return entry
    sampling = {"temperature": 1.0, "topP": 0.95, "topK": 64, "maxTemperature": 2.0}
    return entry | sampling | {"thinking": bool(model.entry.get("thoughtSignatures"))}


def model_of(call: Call, method: str) -> Model:
    """The model the path names, if it serves `method` (getModel: any model; streaming as generateContent)."""
    name = call.request.path_params["model"].removeprefix("models/")
    model = facts_of(call.profile.contract).models.get(name)
    served_as = "generateContent" if method == "streamGenerateContent" else method
    if model is None or (method != "getModel" and served_as not in model.methods):
        version = call.route.path.split("/")[1]  # v1beta or v1, as the route says (whatever the prefix)
        raise Reject(google_error(
            404,
            f"models/{name} is not found for API version {version}, or is not supported for {method}. "
            "Call ListModels to see the list of available models and their supported methods.",
        ))  # fmt: skip
    return model


# GET /v1beta/models and /v1beta/models/{model}


async def list_models(call: Call) -> Response:
    authenticate(call)
    names = facts_of(call.profile.contract).models
    # new-api's GET /v1/models (router/relay-router.go), which every profile answers alike: a key given where
    # Google's clients put it (x-goog-api-key, ?key=) gets Gemini's list, any other OpenAI's, as OpenAI's SDK reads it
    # (new-api's own GET /v1beta/models has no paging and lists bare names)
    openai = call.route.path == "/v1/models" and not given_in_a_google_place(call)
    if openai or quirks_of(call.profile).new_api:
        await call.fail_if_forced(forced_answers(call, ""))
        return JSONResponse(openai_models(names) if openai else gemini_models(names))
    query = call.request.query_params
    size = page_size(query.get("pageSize"))
    start = page_start(query.get("pageToken"))
    await call.fail_if_forced(forced_answers(call, ""))
    listed = list(facts_of(call.profile.contract).models.items())
    page = [catalogue_entry(model, name) for name, model in listed[start : start + size]]
    following = start + size
    next_token = {"nextPageToken": page_token(following)} if following < len(listed) else {}
    return JSONResponse({"models": page, **next_token})


def given_in_a_google_place(call: Call) -> bool:
    return "x-goog-api-key" in call.request.headers or "key" in call.request.query_params


async def get_model(call: Call) -> Response:
    authenticate(call)
    model = model_of(call, "getModel")
    await call.fail_if_forced(forced_answers(call, model.name))
    return JSONResponse(catalogue_entry(model, call.request.path_params["model"].removeprefix("models/")))


def page_size(raw: str | None, default: int = PAGE_SIZE, largest: int = MAX_PAGE_SIZE) -> int:
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"", "page_size") from None
    return min(size, largest) if size > 0 else default


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

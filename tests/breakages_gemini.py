"""The Gemini profiles' servers, broken once for each check of the kit."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import parse_qsl, urlencode

from breaking import (
    charging_twice,
    charging_twice_every,
    patching,
    rewriting_answers,
    rewriting_json,
    rewriting_request,
    rewriting_scope,
    serving_jpeg,
    widening_images,
)
from PIL import Image
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.runner import BUNDLED_KEY
from mockserver.pipeline.body import read_body, replaying

TINY_PNG = io.BytesIO()
Image.new("RGB", (2, 2)).save(TINY_PNG, "PNG")
IMAGE_PART = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(TINY_PNG.getvalue()).decode()}}
KNOWN_TOP_LEVEL = {"contents", "generationConfig", "systemInstruction", "safetySettings", "tools", "toolConfig",
                   "instances", "parameters"}  # fmt: skip


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def with_headers(scope: Scope, headers: dict[bytes, bytes]) -> Scope:
    return {**scope, "headers": list(headers.items())}


def with_query(scope: Scope, query: dict[str, str]) -> Scope:
    return {**scope, "query_string": urlencode(query).encode()}


def query_of(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope["query_string"].decode()))


# Answers.


def miscounted_image_tokens(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if isinstance(body, dict):
        for detail in body.get("usageMetadata", {}).get("candidatesTokensDetails", []):
            if detail.get("modality") == "IMAGE":
                detail["tokenCount"] += 1
    return status, body


def one_prediction_fewer(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if isinstance(body, dict) and body.get("predictions"):
        body["predictions"] = body["predictions"][:-1]
    return status, body


def one_token_short(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if isinstance(body, dict) and "totalTokens" in body:
        body["totalTokens"] -= 1
    return status, body


def images_for_text(scope: Scope, status: int, body: object) -> tuple[int, object]:
    """An image in every complete answer that has none, asked for or not."""
    if isinstance(body, dict) and body.get("candidates"):
        candidate = body["candidates"][0]
        parts = candidate.get("content", {}).get("parts", [])
        if candidate.get("finishReason") == "STOP" and not any("inlineData" in part for part in parts):
            candidate["content"]["parts"] = [*parts, IMAGE_PART]
    return status, body


def images_despite_refusals(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if isinstance(body, dict) and body.get("candidates"):
        candidate = body["candidates"][0]
        if candidate.get("finishReason") in ("IMAGE_SAFETY", "NO_IMAGE"):
            candidate["content"] = {"role": "model", "parts": [*candidate["content"].get("parts", []), IMAGE_PART]}
    return status, body


def done_sentinel(scope: Scope, status: int, content: bytes) -> tuple[int, bytes]:
    return status, content + b"data: [DONE]\r\n\r\n"


def without_model_version(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if isinstance(body, dict):
        body.pop("modelVersion", None)
    return status, body


def missing_key_as_401(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if status == 403 and isinstance(body, dict) and body.get("error", {}).get("status") == "PERMISSION_DENIED":
        body["error"].update(code=401, status="UNAUTHENTICATED")
        return 401, body
    return status, body


def quota_without_retry_info(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if status == 429 and isinstance(body, dict) and "error" in body:
        body["error"].pop("details", None)
    return status, body


def quota_as_402(scope: Scope, status: int, body: object) -> tuple[int, object]:
    return (402 if status == 403 else status), body


# Requests.


def thoughts_untold(scope: Scope, status: int, body: object) -> tuple[int, object]:
    """A thinking model's thoughts left out of its usage, and of the total."""
    usage = body.get("usageMetadata", {}) if isinstance(body, dict) else {}
    if "thoughtsTokenCount" in usage:
        usage["totalTokenCount"] -= usage.pop("thoughtsTokenCount")
    return status, body


def error_info_names_the_service(scope: Scope, status: int, body: object) -> tuple[int, object]:
    for detail in body.get("error", {}).get("details", []) if isinstance(body, dict) else []:
        if "method" in detail.get("metadata", {}):
            detail["metadata"]["method"] = "google.ai.generativelanguage.v1beta.GenerativeService"
    return status, body


def service_tier_unknown(body: dict) -> dict:
    """serviceTier read as a field the request does not have."""
    if "serviceTier" in body:
        body["serviceTierUnknown"] = body.pop("serviceTier")
    return body


def google_errors_as_they_are(scope: Scope, status: int, body: object) -> tuple[int, object]:
    """A gateway that hands Google's errors on untouched."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("type") == "upstream_error":
        body["error"] = {"code": status, "message": error["message"], "status": "INVALID_ARGUMENT"}
    return status, body


def old_ratio_wording(scope: Scope, status: int, body: object) -> tuple[int, object]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and "aspect_ratio must be one of" in error.get("message", ""):
        error["message"] = "aspect ratio must be one of 1:1, 2:3; got 7:3"
    return status, body


def without_file_parts(body: dict) -> dict:
    """fileData parts not read."""
    for content in body.get("contents", []) if isinstance(body.get("contents"), list) else []:
        if isinstance(content, dict) and isinstance(content.get("parts"), list):
            content["parts"] = [p for p in content["parts"] if not (isinstance(p, dict) and "fileData" in p)]
    return body


def deleting_nothing(scope: Scope) -> Scope:
    """DELETE read as GET: a deleted file stays."""
    return {**scope, "method": "GET"} if scope["method"] == "DELETE" else scope


def without_safety_ratings(scope: Scope, status: int, body: object) -> tuple[int, object]:
    for candidate in body.get("candidates", []) if isinstance(body, dict) else []:
        candidate.pop("safetyRatings", None)
    return status, body


def four_k_as_two_k(body: dict) -> dict:
    image = (
        body.get("generationConfig", {}).get("imageConfig", {})
        if isinstance(body.get("generationConfig"), dict)
        else {}
    )
    if isinstance(image, dict) and image.get("imageSize") == "4K":
        image["imageSize"] = "2K"
    return body


def upper_case_modalities_only(body: dict) -> dict:
    """responseModalities read case-sensitively: only IMAGE and TEXT as written so are known."""
    config = body.get("generationConfig")
    if isinstance(config, dict) and isinstance(config.get("responseModalities"), list):
        known = [m for m in config["responseModalities"] if m in ("TEXT", "IMAGE")]
        config["responseModalities"] = known or ["TEXT"]
    return body


def refusals_mistyped(scope: Scope, status: int, body: object) -> tuple[int, object]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("type") == "new_api_error":
        error["type"] = "api_error"
    return status, body


def images_as_candidates(scope: Scope, status: int, body: object) -> tuple[int, object]:
    """Each image of an answer in a candidate of its own."""
    candidates = body.get("candidates") if isinstance(body, dict) else None
    if candidates and len(candidates) == 1:
        parts = candidates[0].get("content", {}).get("parts", [])
        images = [p for p in parts if "inlineData" in p]
        if len(images) > 1:
            rest = [p for p in parts if "inlineData" not in p]
            body["candidates"] = [{**candidates[0], "content": {"role": "model", "parts": [*rest, images[0]]}}] + [
                {**candidates[0], "index": i, "content": {"role": "model", "parts": [image]}}
                for i, image in enumerate(images[1:], 1)
            ]
    return status, body


def flat_image_tokens(scope: Scope, status: int, body: object) -> tuple[int, object]:
    """Every image counted 1120 tokens, whatever its size; the totals kept adding up."""
    usage = body.get("usageMetadata", {}) if isinstance(body, dict) else {}
    for detail in usage.get("candidatesTokensDetails", []):
        if detail.get("modality") == "IMAGE" and detail["tokenCount"] % 2000 == 0:
            images = detail["tokenCount"] // 2000
            usage["candidatesTokenCount"] -= images * 880
            usage["totalTokenCount"] -= images * 880
            detail["tokenCount"] = images * 1120
    return status, body


def pages_from_the_start(scope: Scope) -> Scope:
    """pageToken not read: every page is the first."""
    query = {k: v for k, v in query_of(scope).items() if k != "pageToken"}
    return with_query(scope, query) if scope["path"].endswith("/models") else scope


def square_edits(body: dict) -> dict:
    has_image = any("inlineData" in part for content in body.get("contents", []) for part in content.get("parts", []))
    if has_image and not body.get("generationConfig", {}).get("imageConfig", {}).get("aspectRatio"):
        config = body.setdefault("generationConfig", {})
        config.setdefault("imageConfig", {})["aspectRatio"] = "1:1"
    return body


def upper_case_sizes(body: dict) -> dict:
    image_config = body.get("generationConfig", {}).get("imageConfig", {})
    if isinstance(image_config.get("imageSize"), str):
        image_config["imageSize"] = image_config["imageSize"].upper()
    return body


def without_image_generation_config(body: dict) -> dict:
    body.get("generationConfig", {}).pop("imageGenerationConfig", None)
    return body


def without_unknown_fields(body: dict) -> dict:
    return {key: value for key, value in body.items() if key in KNOWN_TOP_LEVEL}


def without_number_of_images(body: dict) -> dict:
    body.get("generationConfig", {}).get("imageGenerationConfig", {}).pop("numberOfImages", None)
    return body


def known_model(scope: Scope) -> Scope:
    """Any model the path names becomes one the service has."""
    prefix, _, rest = scope["path"].partition("/models/")
    if (
        rest
        and ":" in rest
        and not rest.startswith(("gemini-2.5-flash-image", "gemini-3-pro", "gemini-2.0", "gemini-2-5", "imagen-"))
    ):
        method = rest.partition(":")[2]
        scope = {**scope, "path": f"{prefix}/models/gemini-2.5-flash-image:{method}"}
    return scope


def bearer_as_api_key(scope: Scope) -> Scope:
    headers = headers_of(scope)
    authorization = headers.pop(b"authorization", b"")
    if authorization.lower().startswith(b"bearer "):
        headers[b"x-goog-api-key"] = authorization[7:]
    return with_headers(scope, headers)


def any_key_is_the_bundled_one(scope: Scope) -> Scope:
    headers, query = headers_of(scope), query_of(scope)
    if b"x-goog-api-key" in headers:
        headers[b"x-goog-api-key"] = BUNDLED_KEY.encode()
    if "key" in query:
        query["key"] = BUNDLED_KEY
    return with_query(with_headers(scope, headers), query)


def no_goog_header(scope: Scope) -> Scope:
    headers = headers_of(scope)
    headers.pop(b"x-goog-api-key", None)
    return with_headers(scope, headers)


def refusing_unknown_fields(app: ASGIApp) -> ASGIApp:
    """A gateway that refuses fields it does not know, unlike new-api."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].startswith("/_mock/"):
            return await app(scope, receive, send)
        body, rest = await read_body(scope, receive, None)
        receive = replaying(body, rest, receive)
        try:
            unknown = set(json.loads(body or b"{}")) - KNOWN_TOP_LEVEL
        except (ValueError, TypeError):
            unknown = set()
        if unknown:
            await send(
                {"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]}
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"error": {"code": 400, "message": "unknown", "status": "INVALID_ARGUMENT"}}',
                }
            )
            return
        await app(scope, receive, send)

    return broken


def duplicated_images(scope: Scope, status: int, body: object) -> tuple[int, object]:
    """As many copies of the image as the request's numberOfImages asked (noted in the scope)."""
    count = scope.get("asked_images", 1)
    if isinstance(body, dict) and count > 1 and body.get("candidates"):
        parts = body["candidates"][0]["content"].get("parts", [])
        body["candidates"][0]["content"]["parts"] = parts + [p for p in parts if "inlineData" in p] * (count - 1)
    return status, body


def honouring_number_of_images(app: ASGIApp) -> ASGIApp:
    """A new-api that kept imageGenerationConfig and honoured numberOfImages."""
    answering = rewriting_json(duplicated_images)(app)

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await app(scope, receive, send)
        body, rest = await read_body(scope, receive, None)
        try:
            config = json.loads(body or b"{}").get("generationConfig", {})
            asked = int(config.get("imageGenerationConfig", {}).get("numberOfImages", 1))
        except (ValueError, TypeError, AttributeError):
            asked = 1
        await answering({**scope, "asked_images": asked}, replaying(body, rest, receive), send)

    return broken


def as_a_json_array(scope: Scope, status: int, content: bytes) -> tuple[int, bytes]:
    """Events turned back into Google's JSON array, where the client did not ask for alt=sse."""
    if b"alt=sse" in scope["query_string"]:
        return status, content
    events = [line.removeprefix(b"data: ") for line in content.split(b"\n") if line.startswith(b"data: ")]
    return status, b"[" + b",".join(events) + b"]"


def models_route_listed(scope: Scope) -> Scope:
    """A gateway that answers GET /v1beta/models/{model} with its list of models."""
    prefix, _, rest = scope["path"].partition("/v1beta/models/")
    if scope["method"] == "GET" and rest and ":" not in rest:
        scope = {**scope, "path": f"{prefix}/v1beta/models"}
    return scope


BREAKAGES = {
    "gemini": {
        "images 8 pixels too wide": (
            patching(widening_images),
            {"pixel-size-matches-the-table", "number-of-images-honoured", "imagen-draws-as-asked"},
        ),
        "JPEG labelled PNG": (patching(serving_jpeg), {"mime-type-matches-the-bytes", "imagen-draws-as-asked"}),
        "Imagen draws one image fewer": (rewriting_json(one_prediction_fewer), {"imagen-draws-as-asked"}),
        "countTokens one short": (rewriting_json(one_token_short), {"count-tokens-as-generated"}),
        "image tokens miscounted": (rewriting_json(miscounted_image_tokens), {"usage-adds-up"}),
        "thoughts untold": (rewriting_json(thoughts_untold), {"usage-adds-up"}),
        "images without IMAGE": (rewriting_json(images_for_text), {"no-image-without-IMAGE"}),
        "edits come out square": (rewriting_request(square_edits), {"edit-keeps-the-input-ratio"}),
        "streams end with [DONE]": (rewriting_answers(b"text/event-stream", done_sentinel), {"streaming-sse"}),
        "unknown models answer": (rewriting_scope(known_model), {"documented-scenarios", "unknown-model-refused"}),
        "lower-case sizes accepted": (
            rewriting_request(upper_case_sizes),
            {"documented-scenarios", "invalid-image-size-400"},
        ),
        "refusals still draw": (
            rewriting_json(images_despite_refusals),
            {"content-failures-answer-without-an-image"},
        ),
        "no modelVersion": (rewriting_json(without_model_version), {"contract"}),
        "aspect ratios refused in other words": (rewriting_json(old_ratio_wording), {"unlisted-ratio-refused"}),
        "one charge in twenty taken twice": (
            patching(charging_twice_every(20)),
            {"charged-by-usage", "credits-state-machine"},
        ),
    },
    "google": {
        "takes imageGenerationConfig": (
            rewriting_request(without_image_generation_config),
            {"image-generation-config-refused"},
        ),
        "ignores unknown fields": (rewriting_request(without_unknown_fields), {"unknown-fields-refused"}),
        "a missing key is 401": (
            rewriting_json(missing_key_as_401),  # every PERMISSION_DENIED, a deleted file's too
            {"documented-scenarios", "missing-key-refused", "uploaded-file-is-an-input"},
        ),
        "takes a Bearer key": (rewriting_scope(bearer_as_api_key), {"bearer-key-refused"}),
        "ErrorInfo names the service": (rewriting_json(error_info_names_the_service), {"bearer-key-refused"}),
        "refuses serviceTier": (rewriting_request(service_tier_unknown), {"service-tier-accepted"}),
        "fileData not read": (rewriting_request(without_file_parts), {"uploaded-file-is-an-input"}),
        "deleted files stay": (rewriting_scope(deleting_nothing), {"uploaded-file-is-an-input"}),
        "takes unknown keys": (rewriting_scope(any_key_is_the_bundled_one), {"unknown-key-refused"}),
        "429 without RetryInfo": (rewriting_json(quota_without_retry_info), {"rate-limit-refusal"}),
        "paging from the start": (rewriting_scope(pages_from_the_start), {"models-paged"}),
    },
    "vastnum": {
        "no x-goog-api-key": (rewriting_scope(no_goog_header), {"key-places"}),
        "refuses unknown fields": (refusing_unknown_fields, {"unknown-fields-ignored", "service-tier-accepted"}),
        "quota refused with 402": (
            rewriting_json(quota_as_402),
            {"documented-scenarios", "quota-refusal", "credits-state-machine"},
        ),
        "honours numberOfImages": (honouring_number_of_images, {"image-generation-config-dropped"}),
        "serves GET /v1beta/models/{model}": (rewriting_scope(models_route_listed), {"no-model-route"}),
        "charges a request twice": (patching(charging_twice), {"charged-by-usage", "credits-state-machine"}),
        "safetyRatings dropped": (rewriting_json(without_safety_ratings), {"safety-ratings-as-shown"}),
        "4K drawn at 2K": (rewriting_request(four_k_as_two_k), {"pixel-size-matches-the-table", "usage-adds-up"}),
        "modalities in upper case only": (rewriting_request(upper_case_modalities_only), {"no-image-without-IMAGE"}),
        "its refusals mistyped": (
            rewriting_json(refusals_mistyped),
            {"missing-key-refused", "unknown-key-refused", "quota-refusal", "unknown-model-refused"},
        ),
        "hands Google's errors on as they are": (
            rewriting_json(google_errors_as_they_are),
            {"unlisted-ratio-refused", "invalid-image-size-400", "rate-limit-refusal", "documented-scenarios"},
        ),
        "a JSON array without alt=sse": (
            rewriting_answers(b"text/event-stream", as_a_json_array),
            {"streaming-is-sse-without-alt"},
        ),
    },
    "crazyrouter": {
        "numberOfImages ignored": (rewriting_request(without_number_of_images), {"number-of-images-honoured"}),
        "images as candidates": (rewriting_json(images_as_candidates), {"number-of-images-honoured"}),
        "image tokens flat": (rewriting_json(flat_image_tokens), {"usage-adds-up"}),
    },
}

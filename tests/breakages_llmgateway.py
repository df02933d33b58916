"""LLM Gateway's server, broken once for each check of the kit."""

from __future__ import annotations

import json

from breaking import (
    adding_a_missing_key,
    charging_twice_every,
    dropping_headers,
    ignoring_masks,
    leaking_a_credit,
    never_refunding,
    patching,
    rewriting_body,
    rewriting_json,
    rewriting_request,
    rewriting_scope,
    serving_jpeg,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.llmgateway import TEXT_MODELS
from conformance.runner import BUNDLED_KEY
from mockserver.pipeline.body import read_body, replaying

# Answers.


def images(scope: Scope, status: int, body: dict) -> bool:
    """A 200 answer with images (not the list of models, which also says `data`)."""
    return status == 200 and "/v1/images/" in scope["path"] and bool(body.get("data"))


def one_image_only(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if images(scope, status, body):
        body["data"] = body["data"][:1]
    return status, body


def the_same_image_each_time(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if images(scope, status, body):
        body["data"] = [body["data"][0]] * len(body["data"])
    return status, body


def vague_validation_errors(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 400 and body["error"]["message"].startswith("Invalid request parameters"):
        body["error"]["message"] = "Bad request"
    return status, body


def crashing_on_bad_json(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 400 and body["error"]["message"] == "Invalid JSON in request body":
        return 500, {"error": {"message": "Internal error", "type": "api_error", "param": None, "code": None}}
    return status, body


def filtered_as_an_error(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 200 and body.get("data") == []:
        return 400, {"error": {"message": "Content filtered", "type": "invalid_request_error", "param": None,
                               "code": "content_filter"}}  # fmt: skip
    return status, body


def billing_as_403(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 402:
        body["error"]["code"] = "permission_denied"
        return 403, body
    return status, body


def upstream_as_500(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 502:
        body["error"].update(type="api_error", code=None)
        return 500, body
    return status, body


def no_output_format_in_the_answer(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    body.pop("output_format", None)
    return status, body


# Requests.


def without_string_sizes(body: dict) -> dict:
    return {k: v for k, v in body.items() if not (k == "size" and isinstance(v, str))}


def size_wins_over_aspect_ratio(body: dict) -> dict:
    return {k: v for k, v in body.items() if not (k == "aspect_ratio" and "size" in body)}


def without_background(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "background"}


def without_response_format(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "response_format"}


def text_models_draw(body: dict) -> dict:
    return {**body, "model": "gemini-2.5-flash-image"} if body.get("model") in TEXT_MODELS else body


def any_image_url_is_https(body: dict) -> dict:
    images = body.get("images")
    if isinstance(images, list):
        body["images"] = [
            {"image_url": "https://example.com/any.png"}
            if isinstance(image, dict) and not str(image.get("image_url", "")).startswith(("https://", "data:image/"))
            else image
            for image in images
        ]
    return body


def ignoring_image_brackets(body: bytes) -> bytes:
    """A gateway that reads only the field `image` of a multipart edit."""
    return body.replace(b'name="image[]"', b'name="ignored"')


def without_x_api_key(scope: Scope) -> Scope:
    return {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"x-api-key"]}


def any_bearer_is_the_bundled_key(scope: Scope) -> Scope:
    headers = [
        (k, f"Bearer {BUNDLED_KEY}".encode() if k == b"authorization" and v.lower().startswith(b"bearer ") else v)
        for k, v in scope["headers"]
    ]
    return {**scope, "headers": headers}


# Insides.


def one_model_unlisted(scope: Scope, status: int, body: object) -> tuple[int, object]:
    if scope["path"].endswith("/v1/models") and isinstance(body, dict):
        body["data"] = body["data"][:-1]
    return status, body


def shedding_after_validation(app: ASGIApp) -> ASGIApp:
    """An overloaded gateway that reads and checks the request before it sheds it: a body that is not JSON is its
    400, not the 529."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or dict(scope["headers"]).get(b"x-mock-fault") != b"overloaded":
            return await app(scope, receive, send)
        body, rest = await read_body(scope, receive, None)
        try:
            json.loads(body)
        except ValueError:
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"x-mock-fault"]}
        await app(scope, replaying(body, rest, receive), send)

    return broken


BREAKAGES = {
    "a model left out of /v1/models": (rewriting_json(one_model_unlisted), {"models-listed"}),
    "answers one image whatever n": (
        rewriting_json(one_image_only),
        {"documented-scenarios", "exactly-n-images", "multipart-image-fields"},
    ),
    "the same image n times": (rewriting_json(the_same_image_each_time), {"exactly-n-images"}),
    "size ignored": (rewriting_request(without_string_sizes), {"size-and-aspect-ratio", "documented-scenarios"}),
    "size wins over aspect_ratio": (rewriting_request(size_wins_over_aspect_ratio), {"size-and-aspect-ratio"}),
    "JPEG whatever the format": (
        patching(serving_jpeg),
        {"output-format-is-real", "transparent-background-has-alpha", "mask-preserves-the-rest"},
    ),
    "the answer forgets output_format": (
        rewriting_json(no_output_format_in_the_answer),
        {"output-format-is-real", "documented-scenarios"},
    ),
    "transparent background ignored": (rewriting_request(without_background), {"transparent-background-has-alpha"}),
    "masks ignored": (patching(ignoring_masks), {"mask-preserves-the-rest"}),
    "image[] not read": (rewriting_body(ignoring_image_brackets), {"multipart-image-fields"}),
    "response_format url accepted": (
        rewriting_request(without_response_format),
        {"documented-scenarios", "response-format-url-rejected", "contract"},
    ),
    "vague validation errors": (
        rewriting_json(vague_validation_errors),
        {"validation-400", "response-format-url-rejected"},
    ),
    "500 on bad JSON": (rewriting_json(crashing_on_bad_json), {"invalid-json-400"}),
    "text models draw": (rewriting_request(text_models_draw), {"text-model-rejected"}),
    "any image URL accepted": (
        rewriting_request(any_image_url_is_https),
        {"documented-scenarios", "invalid-image-url-400"},
    ),
    "ignores missing auth": (
        adding_a_missing_key(b"authorization", f"Bearer {BUNDLED_KEY}".encode()),
        {"documented-scenarios", "auth-401", "contract"},
    ),
    "x-api-key not read": (rewriting_scope(without_x_api_key), {"key-places"}),
    "sheds load after reading the request": (shedding_after_validation, {"load-shedding-529"}),
    "takes unknown keys": (rewriting_scope(any_bearer_is_the_bundled_key), {"unknown-key-401", "contract"}),
    "a filtered prompt is an error": (
        rewriting_json(filtered_as_an_error),
        {"documented-scenarios", "filtered-prompt-empty-list"},
    ),
    "never refunds": (
        patching(never_refunding),
        {"documented-scenarios", "filtered-prompt-empty-list", "upstream-failures-refunded", "credits-state-machine"},
    ),
    "takes a credit too many": (
        patching(leaking_a_credit),
        {
            "documented-scenarios",
            "credits-charged-per-image",
            "filtered-prompt-empty-list",
            "upstream-failures-refunded",
            "credits-state-machine",
        },
    ),
    "one charge in twenty taken twice": (
        patching(charging_twice_every(20)),
        {"documented-scenarios", "credits-charged-per-image", "credits-state-machine"},
    ),
    "no credits is a 403": (
        rewriting_json(billing_as_403),
        {"documented-scenarios", "credits-charged-per-image", "credits-state-machine"},
    ),
    "no Retry-After": (
        dropping_headers(b"retry-after"),
        {"documented-scenarios", "rate-limit-429", "load-shedding-529"},
    ),
    "failed providers are a 500": (
        rewriting_json(upstream_as_500),
        {"documented-scenarios", "upstream-failures-refunded"},
    ),
}

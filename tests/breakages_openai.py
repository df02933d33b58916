"""OpenAI's images API, broken once for each check of the kit."""

from __future__ import annotations

from breaking import (
    adding_a_missing_key,
    charging_twice_every,
    dropping_headers,
    ignoring_masks,
    leaking_a_credit,
    never_refunding,
    never_transparent,
    patching,
    rewriting_answers,
    rewriting_json,
    serving_jpeg,
)
from starlette.types import Scope

from conformance.runner import BUNDLED_KEY


def without_param(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 400 and isinstance(body.get("error"), dict):
        return status, {"error": {k: v for k, v in body["error"].items() if k != "param"}}
    return status, body


def one_output_token_more(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 200 and "usage" in body:
        usage = body["usage"]
        return status, {**body, "usage": {**usage, "output_tokens": usage["output_tokens"] + 1,
                                          "total_tokens": usage["total_tokens"] + 1}}  # fmt: skip
    return status, body


def without_revised_prompt(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 200 and isinstance(body.get("data"), list):
        return status, {**body, "data": [{k: v for k, v in i.items() if k != "revised_prompt"} for i in body["data"]]}
    return status, body


def quota_as_402(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return (402 if (body.get("error") or {}).get("code") == "insufficient_quota" else status), body


def created_as_text(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, ({**body, "created": str(body["created"])} if "created" in body else body)


def without_partials(scope: Scope, status: int, content: bytes) -> tuple[int, bytes]:
    frames = [frame for frame in content.split(b"\n\n") if b"partial_image" not in frame]
    return status, b"\n\n".join(frames)


def image_call_in_progress(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if scope["path"].endswith("/v1/responses") and isinstance(body.get("output"), list):
        return status, {**body, "output": [{**item, "status": "in_progress"} for item in body["output"]]}
    return status, body


BREAKAGES = {
    "image calls left in progress": (rewriting_json(image_call_in_progress), {"responses-image-tool"}),
    "400 without param": (
        rewriting_json(without_param),
        {"outside-a-models-rules-400", "forced-failures-as-documented", "contract"},
    ),
    "takes unknown keys": (
        adding_a_missing_key(b"authorization", f"Bearer {BUNDLED_KEY}".encode()),
        {"keys-refused-401", "contract"},
    ),
    "no x-request-id": (dropping_headers(b"x-request-id"), {"request-id-on-every-answer"}),
    "an output token too many": (rewriting_json(one_output_token_more), {"gpt-image-answers-base64-with-usage"}),
    "JPEG whatever asked": (patching(serving_jpeg), {"output-format-and-alpha-are-real"}),
    "never transparent": (patching(never_transparent), {"output-format-and-alpha-are-real"}),
    "no revised_prompt": (rewriting_json(without_revised_prompt), {"dall-e-url-serves-the-image"}),
    "takes a credit too many": (
        patching(leaking_a_credit),
        {
            "charged-the-published-price",
            "documented-scenarios",
            "forced-failures-as-documented",
            "credits-state-machine",
        },
    ),
    "one charge in twenty taken twice": (
        patching(charging_twice_every(20)),
        {"documented-scenarios", "credits-state-machine"},
    ),
    "no quota is a 402": (rewriting_json(quota_as_402), {"no-quota-429", "documented-scenarios"}),
    "never refunds": (
        patching(never_refunding),
        {"forced-failures-as-documented", "documented-scenarios", "credits-state-machine"},
    ),
    "429 without Retry-After": (
        dropping_headers(b"retry-after"),
        {"forced-failures-as-documented", "documented-scenarios"},
    ),
    "streams without partial images": (
        rewriting_answers(b"text/event-stream", without_partials),
        {"streaming-events"},
    ),
    "masks ignored": (patching(ignoring_masks), {"edit-changes-only-the-masked"}),
    "created as text": (rewriting_json(created_as_text), {"contract"}),
}

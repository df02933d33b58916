"""Vydra's server, broken once for each check of the kit."""

from __future__ import annotations

from breaking import (
    adding_a_missing_key,
    allowing_overdraft,
    charging_twice_every,
    dropping_headers,
    leaking_a_credit,
    never_refunding,
    patching,
    rewriting_json,
    rewriting_request,
    serving_jpeg,
    squaring_images,
    vague_dates,
)
from starlette.types import Scope

from conformance.runner import BUNDLED_KEY
from conformance.vydra import ASPECT_RATIOS


def vague_missing_prompt(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 400 and body == {"error": "Missing required field: prompt (string)"}:
        return 400, {"error": "prompt is required"}
    return status, body


def forgetting_the_balance_in_402(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, ({**body, "creditsRemaining": 0} if status == 402 else body)


def crashing_on_bad_json(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if status == 400 and "JSON" in str(body.get("error")):
        return 500, {"error": "Internal server error"}
    return status, body


def dropping_duration(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, {k: v for k, v in body.items() if k != "durationMs"}


def ignoring_bad_ratios(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "aspectRatio" or v in ASPECT_RATIOS}


BREAKAGES = {
    "vague missing-prompt error": (
        rewriting_json(vague_missing_prompt),
        {"documented-scenarios", "missing-prompt-400"},
    ),
    "accepts unknown ratios": (
        rewriting_request(ignoring_bad_ratios),
        {"documented-scenarios", "invalid-aspect-ratio-400", "contract", "credits-state-machine"},
    ),
    "500 on bad JSON": (rewriting_json(crashing_on_bad_json), {"invalid-json-400"}),
    "ignores missing auth": (
        adding_a_missing_key(b"authorization", f"Bearer {BUNDLED_KEY}".encode()),
        {"documented-scenarios", "auth-required-401", "contract"},
    ),
    "square images": (patching(squaring_images), {"image-url-serves-the-ratio"}),
    "JPEG labelled PNG": (patching(serving_jpeg), {"image-url-serves-the-ratio"}),
    "no durationMs": (rewriting_json(dropping_duration), {"image-url-serves-the-ratio", "contract"}),
    "takes a credit too many": (
        patching(leaking_a_credit),
        {
            "documented-scenarios",
            "credits-fall-by-the-charge",
            "concurrent-charges-are-exact",
            "refund-after-failure",
            "credits-state-machine",
        },
    ),
    "one charge in twenty taken twice": (
        patching(charging_twice_every(20)),
        {"credits-fall-by-the-charge", "concurrent-charges-are-exact", "credits-state-machine"},
    ),
    "never refunds": (
        patching(never_refunding),
        {"documented-scenarios", "refund-after-failure", "credits-state-machine"},
    ),
    "402 forgets the balance": (
        rewriting_json(forgetting_the_balance_in_402),
        {"documented-scenarios", "insufficient-credits-402"},
    ),
    "lets balances go negative": (
        patching(allowing_overdraft),
        {"documented-scenarios", "insufficient-credits-402", "concurrent-charges-are-exact", "credits-state-machine"},
    ),
    "429 without Retry-After": (dropping_headers(b"retry-after"), {"documented-scenarios", "rate-limit-429"}),
    "no rate-limit headers": (
        dropping_headers(b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset"),
        {"rate-limit-headers", "contract"},
    ),
    "dates that are not dates": (rewriting_json(vague_dates), {"contract"}),
}

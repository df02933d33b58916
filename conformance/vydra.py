"""Vydra's documented behaviour (seed 001), as properties checked against a server.

Everything here comes from the seed and contracts/vydra.yaml, never from the mock's code, so that a
mistake in the mock cannot hide behind the same mistake in the kit.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import given
from hypothesis import strategies as st

import contracts

from .behaviours import Catalogue
from .failures import WrongBody, WrongCharge, WrongHeader, WrongImage, WrongStatus, expect_status
from .pictures import assert_shaped_like, decode
from .session import FAULT_HEADER, Session, describe

CATALOGUE = Catalogue("vydra")

GENERATE = "/api/v1/models/gemini/generate"
ORGANIZATION = "/api/v1/organization"
SCHEMAS = contracts.load("vydra")["components"]["schemas"]
ASPECT_RATIOS: list[str] = SCHEMAS["AspectRatio"]["enum"]
PRICE: int = SCHEMAS["GenerateResponse"]["properties"]["creditsCharged"]["const"]
MISSING_PROMPT = {"error": SCHEMAS["MissingPrompt"]["properties"]["error"]["const"]}
AUTH_CODES = {"MISSING_AUTH", "INVALID_FORMAT", "KEY_NOT_FOUND", "KEY_REVOKED", "KEY_EXPIRED"}

ABSENT = object()  # a field left out of the body, unlike a field sent as null
prompts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=80)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
not_a_prompt = json_scalars.filter(lambda value: not (isinstance(value, str) and value)) | st.lists(
    json_scalars, max_size=2
)


def auth(session: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.target.api_key}"}


def balance(session: Session) -> int:
    response = session.http.get(ORGANIZATION, headers=auth(session))
    expect_status(response, 200)
    return response.json()["creditsRemaining"]


def is_not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@CATALOGUE.behaviour(
    "missing-prompt-400",
    "A body without a valid prompt gets 400 with the seed's exact body",
    "seed 001, Error Responses: Missing Prompt (400)",
)
def missing_prompt(session: Session) -> None:
    @given(
        prompt=st.just(ABSENT) | not_a_prompt,
        extra=st.fixed_dictionaries({}, optional={"aspectRatio": st.sampled_from(ASPECT_RATIOS)}),
    )
    def check(prompt: object, extra: dict) -> None:
        body = extra if prompt is ABSENT else {**extra, "prompt": prompt}
        response = session.http.post(GENERATE, headers=auth(session), json=body)
        expect_status(response, 400)
        WrongBody.unless(response.json() == MISSING_PROMPT, describe(response))

    session.run(check)


@CATALOGUE.behaviour(
    "invalid-aspect-ratio-400",
    "An aspect ratio outside the documented ten gets a 400 with an error message",
    "seed 001, Request Body: aspectRatio (1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9)",
)
def invalid_aspect_ratio(session: Session) -> None:
    @given(prompt=prompts, ratio=json_scalars.filter(lambda r: r not in ASPECT_RATIOS))
    def check(prompt: str, ratio: object) -> None:
        response = session.http.post(GENERATE, headers=auth(session), json={"prompt": prompt, "aspectRatio": ratio})
        expect_status(response, 400)
        WrongBody.unless(isinstance(response.json().get("error"), str), describe(response))

    session.run(check)


@CATALOGUE.behaviour(
    "invalid-json-400",
    "A body that is not valid JSON gets a 400, never a 5xx",
    "contracts/vydra.yaml, generateImage 400",
)
def invalid_json(session: Session) -> None:
    known_bad = st.sampled_from(['{"prompt": "x"', "prompt=x", "{'prompt': 'x'}", ""])

    @given(text=known_bad | st.text(max_size=20).filter(is_not_json))
    def check(text: str) -> None:
        headers = {**auth(session), "Content-Type": "application/json"}
        response = session.http.post(GENERATE, headers=headers, content=text.encode())
        expect_status(response, 400)

    session.run(check)


@CATALOGUE.behaviour(
    "auth-required-401",
    "A missing or malformed Authorization header gets 401 with a documented error code",
    "Vydra docs, Authentication and Errors (401 MISSING_AUTH, INVALID_FORMAT, ...)",
)
def auth_required(session: Session) -> None:
    malformed = st.sampled_from(["", "Bearer", "Basic dXNlcjpwYXNz", "Token abc"]) | st.builds(
        lambda word: f"{word} x", st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
    ).filter(lambda header: not header.lower().startswith("bearer "))

    @given(header=st.none() | malformed)
    def check(header: str | None) -> None:
        headers = {} if header is None else {"Authorization": header}
        response = session.http.post(GENERATE, headers=headers, json={"prompt": "a lighthouse"})
        expect_status(response, 401)
        WrongBody.unless(response.json().get("code") in AUTH_CODES, describe(response))

    session.run(check)


@CATALOGUE.behaviour(
    "image-url-serves-the-ratio",
    "A generation answers with imageUrl, image/png, creditsCharged 5 and durationMs; the URL serves a PNG "
    "shaped like the requested ratio",
    "seed 001, Response and Response Fields",
    paid=True,
)
def image_url_serves_the_ratio(session: Session) -> None:
    @given(prompt=prompts, ratio=st.sampled_from(ASPECT_RATIOS) | st.none())
    def check(prompt: str, ratio: str | None) -> None:
        body = {"prompt": prompt} if ratio is None else {"prompt": prompt, "aspectRatio": ratio}
        response = session.http.post(GENERATE, headers=auth(session), json=body)
        expect_status(response, 200)
        answer = response.json()
        WrongBody.unless(
            answer.get("mimeType") == "image/png", describe(response), expected="image/png", got=answer.get("mimeType")
        )
        WrongCharge.unless(
            answer.get("creditsCharged") == PRICE, describe(response), expected=PRICE, got=answer.get("creditsCharged")
        )
        WrongBody.unless(isinstance(answer.get("durationMs"), int) and answer["durationMs"] >= 0, describe(response))
        image = session.http.get(answer["imageUrl"])
        expect_status(image, 200)
        picture = decode(image.content, answer["imageUrl"])
        WrongImage.unless(
            picture.format == "PNG",
            f"{answer['imageUrl']} is {picture.format}, not PNG",
            expected="PNG",
            got=picture.format,
        )
        assert_shaped_like(picture, ratio or "1:1", ASPECT_RATIOS, answer["imageUrl"])

    session.run(check)


@CATALOGUE.behaviour(
    "credits-fall-by-the-charge",
    "A successful generation lowers the organization's creditsRemaining by exactly creditsCharged (5)",
    "seed 001, Cost: 5 credits/image; Response Fields: creditsCharged",
    paid=True,
)
def credits_fall_by_the_charge(session: Session) -> None:
    @given(prompt=prompts)
    def check(prompt: str) -> None:
        before = balance(session)
        response = session.http.post(GENERATE, headers=auth(session), json={"prompt": prompt})
        expect_status(response, 200)
        after = balance(session)
        WrongCharge.unless(
            before - after == response.json()["creditsCharged"] == PRICE,
            f"balance {before} -> {after} after {describe(response)}",
        )

    session.run(check)


@CATALOGUE.behaviour(
    "rate-limit-headers",
    "Authenticated answers carry X-RateLimit-Limit, -Remaining and -Reset as whole numbers",
    "Vydra docs, Rate Limits: headers on every response",
)
def rate_limit_headers(session: Session) -> None:
    @given(path=st.sampled_from([ORGANIZATION, "/api/v1/models", "/api/v1/account/rate-limits"]))
    def check(path: str) -> None:
        response = session.http.get(path, headers=auth(session))
        values = {
            name: response.headers.get(name, "")
            for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
        }
        WrongHeader.unless(all(v.isdigit() for v in values.values()), f"{describe(response)} headers {values}")
        WrongHeader.unless(int(values["X-RateLimit-Remaining"]) <= int(values["X-RateLimit-Limit"]), str(values))

    session.run(check)


@CATALOGUE.behaviour(
    "insufficient-credits-402",
    "With fewer than 5 credits a generation gets the documented 402 naming the balance, and nothing is charged",
    "seed 001, Error Responses: Insufficient Credits (402)",
    needs_control=True,
)
def insufficient_credits(session: Session) -> None:
    @given(credits=st.integers(0, PRICE - 1), prompt=prompts)
    def check(credits: int, prompt: str) -> None:
        with session.credits_set_to(credits):
            response = session.http.post(GENERATE, headers=auth(session), json={"prompt": prompt})
            expect_status(response, 402)
            expected = {"error": "Insufficient credits", "creditsRequired": PRICE, "creditsRemaining": credits}
            WrongBody.unless(response.json() == expected, describe(response))
            left = balance(session)
            WrongCharge.unless(
                left == credits, f"a refused generation moved the balance from {credits}", expected=credits, got=left
            )

    session.run(check)


@CATALOGUE.behaviour(
    "refund-after-failure",
    "A generation that fails after the charge answers 500 'Failed to generate image' and the credits come back",
    "seed 001, Error Responses: Generation Failed (500); Auto-Refund",
    needs_control=True,
)
def refund_after_failure(session: Session) -> None:
    @given(fault=st.sampled_from(["content-policy", "server-error"]), prompt=prompts)
    def check(fault: str, prompt: str) -> None:
        before = balance(session)
        headers = {**auth(session), FAULT_HEADER: fault}
        response = session.http.post(GENERATE, headers=headers, json={"prompt": prompt})
        expect_status(response, 500)
        body = response.json()
        WrongBody.unless(
            body.get("error") == "Failed to generate image",
            describe(response),
            expected="Failed to generate image",
            got=body.get("error"),
        )
        if fault == "content-policy":
            WrongBody.unless(
                body.get("message") == "Content policy violation",
                describe(response),
                expected="Content policy violation",
                got=body.get("message"),
            )
        after = balance(session)
        WrongCharge.unless(
            after == before, f"balance {before} -> {after} after a failed generation: {describe(response)}"
        )

    session.run(check)


@CATALOGUE.behaviour(
    "rate-limit-429",
    "Too many requests get the documented 429 with Retry-After, and nothing is charged",
    "Vydra docs, Rate Limits: 429 RATE_LIMIT_EXCEEDED with retryAfter and limits",
    needs_control=True,
)
def rate_limited(session: Session) -> None:
    @given(prompt=prompts)
    def check(prompt: str) -> None:
        before = balance(session)
        headers = {**auth(session), FAULT_HEADER: "rate-limit"}
        response = session.http.post(GENERATE, headers=headers, json={"prompt": prompt})
        expect_status(response, 429)
        body = response.json()
        WrongBody.unless(
            body.get("code") == "RATE_LIMIT_EXCEEDED",
            describe(response),
            expected="RATE_LIMIT_EXCEEDED",
            got=body.get("code"),
        )
        WrongHeader.unless(
            response.headers.get("Retry-After", "").isdigit(), f"Retry-After: {response.headers.get('Retry-After')}"
        )
        WrongBody.unless(body.get("retryAfter") == int(response.headers["Retry-After"]), describe(response))
        WrongBody.unless({"type", "limit", "used"} <= set(body.get("limits", {})), describe(response))
        after = balance(session)
        WrongCharge.unless(
            after == before, f"a rate-limited request moved the balance from {before}", expected=before, got=after
        )

    session.run(check)


@CATALOGUE.behaviour(
    "concurrent-charges-are-exact",
    "Concurrent generations succeed exactly as often as the credits allow; the rest get 402; the balance never "
    "goes negative",
    "seed 001, Cost and Insufficient Credits (402)",
    paid=True,
    needs_control=True,
    examples=5,
    calls=12,
)
def concurrent_charges_are_exact(session: Session) -> None:
    @given(affordable=st.integers(0, 6), spare=st.integers(0, PRICE - 1), extra=st.integers(1, 6))
    def check(affordable: int, spare: int, extra: int) -> None:
        with session.credits_set_to(affordable * PRICE + spare):
            statuses = asyncio.run(concurrent_generations(session, affordable + extra))
            WrongCharge.unless(
                statuses.count(200) == affordable, f"{statuses.count(200)} succeeded, {affordable} affordable"
            )
            WrongStatus.unless(statuses.count(402) == extra, f"statuses {sorted(statuses)}")
            left = balance(session)
            WrongCharge.unless(left == spare, f"the balance is not the {spare} left over", expected=spare, got=left)

    session.run(check)


async def concurrent_generations(session: Session, count: int) -> list[int]:
    target = session.target
    async with httpx.AsyncClient(base_url=target.base_url, timeout=120, trust_env=target.trust_env) as client:
        answers = await asyncio.gather(
            *(client.post(GENERATE, headers=auth(session), json={"prompt": f"burst {i}"}) for i in range(count))
        )
    return [answer.status_code for answer in answers]

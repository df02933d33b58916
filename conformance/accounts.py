"""Each profile's Account for the credit machine (credits_machine.py): the paid request it makes, what the
documentation says that costs, a request the service refuses for free, and how it says the balance ran out.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping

import httpx
from hypothesis import strategies as st

from . import gemini, geminigen, llmgateway, openai, vydra
from .credits_machine import Account
from .session import Session

# Forced faults that end a paid request with nothing taken, where the profile's service documents them.
REFUSING_FAULTS = ("server-error", "rate-limit", "insufficient-credits")


def vydra_pay(session: Session, data: st.DataObject, headers: Mapping[str, str]) -> httpx.Response:
    body = {"prompt": data.draw(vydra.prompts, label="prompt")}
    if data.draw(st.booleans(), label="with a ratio"):
        body["aspectRatio"] = data.draw(st.sampled_from(vydra.ASPECT_RATIOS), label="aspectRatio")
    return session.http.post(vydra.GENERATE, headers=vydra.auth(session) | dict(headers), json=body)


def vydra_refuse(session: Session, data: st.DataObject) -> httpx.Response:
    body = data.draw(st.sampled_from([{}, {"prompt": ""}, {"prompt": "a fox", "aspectRatio": "7:3"}]), label="body")
    return session.http.post(vydra.GENERATE, headers=vydra.auth(session), json=body)


VYDRA = Account(
    pay=vydra_pay,
    cost=lambda response: vydra.PRICE,
    refuse=vydra_refuse,
    short=402,
    most=vydra.PRICE,
    faults=REFUSING_FAULTS,
    source="seed 001: creditsCharged 5 a generation, 402 Insufficient credits, GET /organization's creditsRemaining",
    balance=vydra.balance,
)


def llmgateway_price(request: dict) -> int:
    return request.get("n", 1) * next(iter(llmgateway.MODELS[request["model"]]["price"].values()))


def llmgateway_pay(session: Session, data: st.DataObject, headers: Mapping[str, str]) -> httpx.Response:
    body = {"prompt": data.draw(llmgateway.prompts, label="prompt"), "model": data.draw(llmgateway.cheap_models),
            "n": data.draw(st.integers(1, 2), label="n")}  # fmt: skip
    return session.http.post(llmgateway.GENERATIONS, headers=llmgateway.auth(session) | dict(headers), json=body)


def llmgateway_refuse(session: Session, data: st.DataObject) -> httpx.Response:
    model = data.draw(llmgateway.cheap_models)
    body = data.draw(st.sampled_from([{"model": model}, {"model": model, "prompt": "a fox", "n": 0}]), label="body")
    return session.http.post(llmgateway.GENERATIONS, headers=llmgateway.auth(session), json=body)


LLMGATEWAY = Account(
    pay=llmgateway_pay,
    cost=lambda response: llmgateway_price(json.loads(response.request.content)),
    refuse=llmgateway_refuse,
    short=402,
    most=max(llmgateway_price({"model": model, "n": 2}) for model in llmgateway.IMAGE_MODELS if model != "auto"),
    faults=(*REFUSING_FAULTS, "overloaded"),
    source="contracts/llmgateway.yaml x-models prices; research/apis.md §3.5: 402 billing_error",
)

GEMINIGEN = Account(
    pay=lambda session, data, headers: session.http.post(
        geminigen.GENERATE, headers=geminigen.auth(session) | dict(headers), data=data.draw(geminigen.forms)
    ),
    cost=lambda response: response.json()["used_credit"],
    refuse=lambda session, data: session.http.post(
        geminigen.GENERATE,
        headers=geminigen.auth(session),
        data={"model": data.draw(st.sampled_from(geminigen.MODELS))},
    ),
    short=402,
    most=geminigen.SEED_PRICE * 10,  # the seed prices one generation at 10; none is documented at ten times that
    faults=("rate-limit", "insufficient-credits"),  # content-policy and server-error fail the job, later
    source="seed 000: used_credit, 402 NOT_ENOUGH_CREDIT; research/apis.md §4.3",
)


def gemini_account(profile: str) -> Account:
    f = gemini.facts(profile)
    # At the model's default size: its first image-token figure, thoughts, and a short prompt's tokens.
    most_tokens = max(
        f.image_tokens(model, None) + f.models[model].get("thoughtsTokens", 0) for model in f.image_models
    )

    def pay(session: Session, data: st.DataObject, headers: Mapping[str, str]) -> httpx.Response:
        model = data.draw(st.sampled_from(f.image_models), label="model")
        body = gemini.ask(data.draw(gemini.prompts, label="prompt"), responseModalities=["TEXT", "IMAGE"])
        return gemini.call(session, model, body, headers=dict(headers))

    def refuse(session: Session, data: st.DataObject) -> httpx.Response:
        model = data.draw(st.sampled_from(f.image_models), label="model")
        body = data.draw(st.sampled_from([{}, {"contents": []}, {"contents": "a fox"}]), label="body")
        return gemini.call(session, model, body)

    def cost(response: httpx.Response) -> int:
        return math.ceil(response.json().get("usageMetadata", {}).get("totalTokenCount", 0) / f.credit_tokens)

    return Account(
        pay=pay,
        cost=cost,
        refuse=refuse,
        short=f.refusals["quota"]["status"],
        most=math.ceil((most_tokens + 1000) / f.credit_tokens),
        faults=(*REFUSING_FAULTS, "overloaded"),
        source=f"contracts/{profile}.yaml x-credit-tokens and x-refusals (quota)",
    )


def openai_pay(session: Session, data: st.DataObject, headers: Mapping[str, str]) -> httpx.Response:
    body = {**OPENAI_CHEAP, "prompt": data.draw(openai.prompts, label="prompt"), "n": data.draw(st.integers(1, 2))}
    return openai.post(session, body, dict(headers))


def openai_refuse(session: Session, data: st.DataObject) -> httpx.Response:
    body = data.draw(st.sampled_from([{"model": "dall-e-2"}, {**OPENAI_CHEAP, "prompt": "a fox", "n": 11}]))
    return openai.post(session, body)


OPENAI_CHEAP = openai.CHEAPEST
OPENAI = Account(
    pay=openai_pay,
    cost=lambda response: (
        json.loads(response.request.content).get("n", 1)
        * openai.MODELS[OPENAI_CHEAP["model"]]["price"][OPENAI_CHEAP["quality"]][OPENAI_CHEAP["size"]]
    ),
    refuse=openai_refuse,
    short=429,  # insufficient_quota
    most=2 * openai.MODELS[OPENAI_CHEAP["model"]]["price"][OPENAI_CHEAP["quality"]][OPENAI_CHEAP["size"]],
    faults=(*REFUSING_FAULTS, "content-policy", "overloaded"),
    source="contracts/openai.yaml x-models prices; research/beyond.md §A: 429 insufficient_quota",
)

ACCOUNTS: dict[str, Callable[[str], Account]] = {
    "vydra": lambda profile: VYDRA,
    "openai_images": lambda profile: LLMGATEWAY,
    "geminigen": lambda profile: GEMINIGEN,
    "gemini": gemini_account,
    "openai": lambda profile: OPENAI,
}

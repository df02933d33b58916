"""The credit ledger under load: hundreds of concurrent paid requests, for every profile that charges."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

BURST = 200  # concurrent requests
AFFORDABLE = 37  # of them, the credits pay for this many


@dataclass(frozen=True)
class Paid:
    """A paid request of a profile, and how the service refuses one when the credits are short."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    refused: int = 402

    def send(self, client: httpx.AsyncClient, prompt: str, fault: str | None = None) -> Any:
        headers = self.headers | ({"X-Mock-Fault": fault} if fault else {})
        if self.form is not None:
            return client.post(self.path, headers=headers, data={**self.form, "prompt": prompt})
        return client.post(self.path, headers=headers, json=ask(self.body, prompt))


def ask(body: dict[str, Any] | None, prompt: str) -> dict[str, Any]:
    if body is None:
        return {"contents": [{"parts": [{"text": prompt}]}]}
    return {**body, "prompt": prompt}


def paid(profile: str, key: str) -> Paid:
    bearer, goog = {"Authorization": f"Bearer {key}"}, {"x-goog-api-key": key}
    gemini = f"/{profile}/v1beta/models/gemini-2.5-flash-image:generateContent"
    return {
        "vydra": Paid("/vydra/api/v1/models/gemini/generate", bearer, {}),
        "geminigen": Paid("/geminigen/uapi/v1/generate_image", {"x-api-key": key}, form={"model": "imagen-4"}),
        "llmgateway": Paid("/llmgateway/v1/images/generations", bearer, {"model": "gemini-2.5-flash-image"}),
        "google": Paid(gemini, goog, refused=429),
        "vastnum": Paid(gemini, bearer, refused=403),
        "crazyrouter": Paid(gemini, bearer, refused=403),
        "gemini": Paid(gemini, goog, refused=429),
    }[profile]


# A fault each profile answers after taking the credits, so that the charge is refunded; and its outcome.
REFUNDED_FAULT = {
    "vydra": ("server-error", 500),
    "geminigen": ("content-policy", "failed job"),
    "llmgateway": ("server-error", 502),
}
PROFILES = ["vydra", "geminigen", "llmgateway", "google", "vastnum", "crazyrouter", "gemini"]


def price_of(client: httpx.Client, profile: str) -> int:
    """What one request costs, measured: a probe on a fresh key."""
    client.put("/_mock/accounts/probe-key", json={"credits": 10_000}).raise_for_status()
    asyncio.run(burst(client.base_url, paid(profile, "probe-key"), 1))
    return 10_000 - account(client, "probe-key")["credits"]


def account(client: httpx.Client, key: str) -> dict[str, Any]:
    return client.get(f"/_mock/accounts/{key}").raise_for_status().json()


async def burst(base_url: httpx.URL, request: Paid, count: int, faults: int = 0, fault: str | None = None) -> Counter:
    """`count` requests at once (the first `faults` with a forced fault), each with a prompt of its own; how
    many got each status ("failed job" for a GeminiGen job that ended in status 3)."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        answers = await asyncio.gather(
            *(request.send(client, f"burst {i}", fault if i < faults else None) for i in range(count))
        )
    return Counter(outcome(answer) for answer in answers)


def outcome(answer: httpx.Response) -> int | str:
    failed_job = answer.status_code == 200 and answer.json().get("status") == 3
    return "failed job" if failed_job else answer.status_code


@pytest.mark.parametrize("profile", PROFILES)
def test_concurrent_paid_requests_succeed_exactly_as_the_credits_allow(serve, profile):
    client = serve(sync_jobs=True)
    price = price_of(client, profile)
    spare = price - 1
    client.put("/_mock/accounts/burst-key", json={"credits": AFFORDABLE * price + spare}).raise_for_status()

    statuses = asyncio.run(burst(client.base_url, paid(profile, "burst-key"), BURST))

    assert price > 0
    assert statuses == Counter({200: AFFORDABLE, paid(profile, "burst-key").refused: BURST - AFFORDABLE}), statuses
    after = account(client, "burst-key")
    assert after["credits"] == spare
    assert after["charged"] - after["refunded"] == AFFORDABLE * price


@pytest.mark.parametrize("profile", list(REFUNDED_FAULT))
def test_refunds_under_load_are_each_accounted_for(serve, profile):
    client = serve(sync_jobs=True)
    price = price_of(client, profile)
    # Enough for every request, so that each forced one is charged and refunded whichever order they reach the
    # server in (402s under load are the test above's).
    start = BURST * price
    client.put("/_mock/accounts/burst-key", json={"credits": start}).raise_for_status()

    fault, failed = REFUNDED_FAULT[profile]

    statuses = asyncio.run(burst(client.base_url, paid(profile, "burst-key"), BURST, 50, fault))

    after = account(client, "burst-key")
    succeeded = statuses[200]
    assert statuses[failed] == 50, statuses
    assert after["credits"] == start - price * succeeded >= 0
    assert after["charged"] - after["refunded"] == price * succeeded
    assert after["refunded"] >= 50 * price


def test_the_burst_catches_a_ledger_that_lets_balances_go_negative():
    """The check above can fail: against a ledger that overdraws, more requests succeed than the credits pay."""
    from breaking import allowing_overdraft, mock_app, patching

    from conformance.runner import BUNDLED_KEY
    from mockserver.background import BackgroundServer

    app = patching(allowing_overdraft)(mock_app())
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as client:
        client.put(f"/_mock/accounts/{BUNDLED_KEY}", json={"credits": AFFORDABLE * 5}).raise_for_status()
        statuses = asyncio.run(burst(client.base_url, paid("vydra", BUNDLED_KEY), BURST))

    assert statuses[200] > AFFORDABLE

"""The kit's state machines: they pass against the mock (test_conformance.py), catch a fault that comes and goes,
print the requests that replay a failure, and keep to the free rules where the target is not a mock."""

from __future__ import annotations

import json

import httpx
import pytest
from breakages_geminigen import regressing_once
from breaking import charging_twice_every, leaking_a_credit, mock_app, patching, rewriting_json, state_of
from starlette.types import Receive, Scope, Send

from conformance import Target, run_check
from conformance.runner import BUNDLED_CREDITS, BUNDLED_KEY, PROFILES_CHECKED
from mockserver.background import BackgroundServer

PROFILES = PROFILES_CHECKED  # the profiles the kit has checks for
REPLAYED = "the requests that led here, to replay:"


def machine_verdict(app, profile: str, name: str, **options):
    with BackgroundServer(app) as server:
        target = Target(profile, f"{server.url}/{profile}", BUNDLED_KEY, disposable=True)
        (verdict,) = run_check(target, examples=10, only={name}, **options).verdicts
    return verdict


@pytest.mark.parametrize("profile", PROFILES)
def test_the_credits_machine_catches_one_charge_in_twenty_taken_twice(profile):
    verdict = machine_verdict(patching(charging_twice_every(20))(mock_app()), profile, "credits-state-machine")

    assert (verdict.status, verdict.kinds) == ("fail", ("charge",)), verdict.detail
    assert REPLAYED in verdict.detail


def test_the_jobs_machine_catches_a_job_going_back_once():
    verdict = machine_verdict(rewriting_json(regressing_once())(mock_app()), "geminigen", "jobs-state-machine")

    assert (verdict.status, verdict.kinds) == ("fail", ("job",)), verdict.detail
    assert "went from (2, 100) to (1, 50)" in verdict.detail


def test_a_shrunk_failure_prints_requests_that_replay_it():
    broken = patching(leaking_a_credit)
    verdict = machine_verdict(broken(mock_app()), "vydra", "credits-state-machine")
    trail = verdict.detail.split(REPLAYED + "\n")[1].splitlines()
    requests = [json.loads(line) for line in trail if line.startswith("{")]

    assert [r["method"] for r in requests] == ["PUT", "POST"]  # the key's credits set, then one generation
    app = broken(mock_app())
    with BackgroundServer(app) as server, httpx.Client() as client:
        for request in requests:
            url = httpx.URL(request["url"].replace("[redacted]", BUNDLED_KEY))
            url = url.copy_with(port=httpx.URL(server.url).port)
            headers = {k: v.replace("[redacted]", BUNDLED_KEY) for k, v in request["headers"].items()}
            client.request(request["method"], url, headers=headers, content=request["body"].encode())
    assert state_of(app).ledger.find(BUNDLED_KEY).balance == 1_000_000 - 5 - 1  # the seed's price, and the leak


def without_control(app):
    """The mock with its control API hidden: a server the kit must treat as a real service."""

    async def hidden(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_mock"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return hidden


@pytest.mark.parametrize("budget", [0, 2])
def test_against_a_real_service_the_credits_machine_pays_only_what_the_budget_allows(budget):
    app = mock_app()
    verdict = machine_verdict(without_control(app), "vydra", "credits-state-machine", budget=budget)
    account = state_of(app).ledger.find(BUNDLED_KEY)

    assert verdict.status == "pass", verdict.detail
    assert account.charged - account.refunded == 5 * budget  # seed 001's price, once for each request bought
    assert sum(1 for e in verdict.exchanges if e.billable and e.status == 200) == budget


def test_against_a_real_service_the_credits_machine_still_catches_a_charged_refusal():
    app = mock_app()

    async def billing_bad_bodies(scope: Scope, receive: Receive, send: Send) -> None:
        async def charged(message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:
                ledger = state_of(app).ledger
                ledger.set_balance(BUNDLED_KEY, ledger.find(BUNDLED_KEY).balance - 1)
            await send(message)

        await app(scope, receive, charged)

    verdict = machine_verdict(without_control(billing_bad_bodies), "vydra", "credits-state-machine", budget=0)

    assert (verdict.status, verdict.kinds) == ("fail", ("charge",)), verdict.detail


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "vydra"])
def test_without_a_balance_to_read_the_credits_machine_says_so(profile):
    verdict = machine_verdict(without_control(mock_app()), profile, "credits-state-machine", budget=0)

    assert verdict.status == "skip"
    assert "reports no balance" in verdict.detail


def test_against_a_real_service_the_kit_reads_the_balance_first_and_says_what_it_may_spend():
    app = mock_app()
    notes: list[str] = []
    with BackgroundServer(without_control(app)) as server:
        target = Target("vydra", f"{server.url}/vydra", BUNDLED_KEY)
        report = run_check(target, examples=2, budget=3, schema=False, on_start=notes.append)
    left = state_of(app).ledger.find(BUNDLED_KEY).balance

    assert notes == [f"the key holds {BUNDLED_CREDITS} credits; the run sends at most 3 paid request(s), "
                     "which cost at most 15 credits"]  # fmt: skip
    assert report.balances == (BUNDLED_CREDITS, left)
    assert BUNDLED_CREDITS - left == 5 * report.budget.spent > 0

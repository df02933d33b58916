"""The conformance kit: it passes against the mock, and each check fails against a server broken in
exactly the way that check exists to catch, and nowhere else."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance import Target, run_check
from conformance.runner import BUNDLED_CREDITS, BUNDLED_KEY, behaviours_of, bundled_mock
from conformance.vydra import ASPECT_RATIOS
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer
from mockserver.ledger import Ledger
from mockserver.state import State

EXAMPLES = 10
ALL_CHECKS = {b.name for b in behaviours_of("vydra")}
CONTROL_CHECKS = {b.name for b in behaviours_of("vydra") if b.needs_control}

JsonRewrite = Callable[[Scope, int, dict], tuple[int, dict]]


def mock_app():
    return create_app(Settings(strict_keys=True, accounts={BUNDLED_KEY: BUNDLED_CREDITS}))


def state_of(app) -> State:
    return app.state.mock


def failing_checks(app: ASGIApp, **options) -> set[str]:
    with BackgroundServer(app) as server:
        target = Target("vydra", f"{server.url}/vydra", BUNDLED_KEY)
        report = run_check(target, examples=EXAMPLES, **options)
    assert not [v for v in report.verdicts if v.status == "error"], [v.detail for v in report.verdicts]
    return {v.behaviour.name for v in report.verdicts if v.status == "fail"}


# Ways to break a server. Each takes the mock's app and returns a broken one.


def rewriting_json(rewrite: JsonRewrite) -> Callable[[ASGIApp], ASGIApp]:
    """Break the answers: pass every JSON response through `rewrite(scope, status, body)`."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            start: dict = {}
            body = bytearray()

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                    return
                body.extend(message.get("body", b""))
                if message.get("more_body"):
                    return
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                status, content = start["status"], bytes(body)
                if dict(headers).get(b"content-type", b"").startswith(b"application/json"):
                    status, changed = rewrite(scope, status, json.loads(content))
                    content = json.dumps(changed).encode()
                headers.append((b"content-length", str(len(content)).encode()))
                await send({**start, "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content})

            await app(scope, receive, capture)

        return broken

    return wrap


def rewriting_request(rewrite: Callable[[dict], dict]) -> Callable[[ASGIApp], ASGIApp]:
    """Break the reading of requests: pass every JSON object a client sends through `rewrite`."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "POST":
                return await app(scope, receive, send)
            message = await receive()
            try:
                body = json.loads(message.get("body", b""))
                if isinstance(body, dict):
                    message = {**message, "body": json.dumps(rewrite(body)).encode()}
            except ValueError:
                pass
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return message
                return await receive()

            await app(scope, replay, send)

        return broken

    return wrap


def adding_header(name: bytes, value: Callable[[Scope], bytes | None]) -> Callable[[ASGIApp], ASGIApp]:
    """Break authentication: give requests a header the client did not send."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and value(scope) is not None:
                kept = [(k, v) for k, v in scope["headers"] if k != name]
                scope = {**scope, "headers": [*kept, (name, value(scope))]}
            await app(scope, receive, send)

        return broken

    return wrap


def dropping_headers(*names: bytes) -> Callable[[ASGIApp], ASGIApp]:
    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            async def filtered(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [(k, v) for k, v in message["headers"] if k.lower() not in names]}
                await send(message)

            await app(scope, receive, filtered)

        return broken

    return wrap


def patching(patch: Callable[[State], None]) -> Callable[[ASGIApp], ASGIApp]:
    """Break the server's insides: change its state objects."""

    def wrap(app: ASGIApp) -> ASGIApp:
        patch(state_of(app))
        return app

    return wrap


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


def vague_dates(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, ({**body, "createdAt": "yesterday"} if "createdAt" in body else body)


def ignoring_bad_ratios(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "aspectRatio" or v in ASPECT_RATIOS}


def squaring_images(state: State) -> None:
    render = state.renderer.render

    async def square(spec) -> bytes:
        return await render(replace(spec, width=1024, height=1024))

    state.renderer.render = square


def serving_jpeg(state: State) -> None:
    render = state.renderer.render

    async def jpeg(spec) -> bytes:
        return await render(replace(spec, format="jpeg"))

    state.renderer.render = jpeg


def leaking_a_credit(state: State) -> None:
    ledger: Ledger = state.ledger
    charge = ledger.charge

    def leaky(api_key: str, amount: int):
        taken = charge(api_key, amount)
        ledger.set_balance(api_key, max(0, ledger.find(api_key).balance - 1))
        return taken

    ledger.charge = leaky


def never_refunding(state: State) -> None:
    state.ledger.refund = lambda charge: None


def allowing_overdraft(state: State) -> None:
    ledger: Ledger = state.ledger
    charge = ledger.charge

    def overdraw(api_key: str, amount: int):
        short = max(0, amount - ledger.find(api_key).balance)
        ledger.set_balance(api_key, ledger.find(api_key).balance + short)
        taken = charge(api_key, amount)
        ledger.set_balance(api_key, ledger.find(api_key).balance - short)
        return taken

    ledger.charge = overdraw


def the_bundled_key(scope: Scope) -> bytes | None:
    headers = dict(scope["headers"])
    if headers.get(b"authorization", b"").lower().startswith(b"bearer "):
        return None
    return f"Bearer {BUNDLED_KEY}".encode()


BREAKAGES = {
    "vague missing-prompt error": (rewriting_json(vague_missing_prompt), {"missing-prompt-400"}),
    "accepts unknown ratios": (rewriting_request(ignoring_bad_ratios), {"invalid-aspect-ratio-400", "contract"}),
    "500 on bad JSON": (rewriting_json(crashing_on_bad_json), {"invalid-json-400"}),
    "ignores missing auth": (adding_header(b"authorization", the_bundled_key), {"auth-required-401", "contract"}),
    "square images": (patching(squaring_images), {"image-url-serves-the-ratio"}),
    "JPEG labelled PNG": (patching(serving_jpeg), {"image-url-serves-the-ratio"}),
    "no durationMs": (rewriting_json(dropping_duration), {"image-url-serves-the-ratio", "contract"}),
    "takes a credit too many": (
        patching(leaking_a_credit),
        {"credits-fall-by-the-charge", "concurrent-charges-are-exact", "refund-after-failure"},
    ),
    "never refunds": (patching(never_refunding), {"refund-after-failure"}),
    "402 forgets the balance": (rewriting_json(forgetting_the_balance_in_402), {"insufficient-credits-402"}),
    "lets balances go negative": (
        patching(allowing_overdraft),
        {"insufficient-credits-402", "concurrent-charges-are-exact"},
    ),
    "429 without Retry-After": (dropping_headers(b"retry-after"), {"rate-limit-429"}),
    "no rate-limit headers": (
        dropping_headers(b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset"),
        {"rate-limit-headers", "contract"},
    ),
    "dates that are not dates": (rewriting_json(vague_dates), {"contract"}),
}


def test_every_check_passes_against_the_mock():
    assert failing_checks(mock_app()) == set()


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_each_breakage_fails_exactly_its_checks(breakage):
    breaking, expected = BREAKAGES[breakage]

    assert failing_checks(breaking(mock_app())) == expected


def test_every_check_is_proven_by_some_breakage():
    proven = set().union(*(expected for _, expected in BREAKAGES.values()))

    assert proven == ALL_CHECKS


def test_an_open_keys_mock_passes_and_the_report_says_what_was_left_out():
    with BackgroundServer(create_app(Settings())) as server:
        report = run_check(Target("vydra", server.url, "any-key-at-all"), examples=3, only={"contract"})

    (verdict,) = report.verdicts
    assert verdict.status == "pass"
    assert "--strict-keys" in verdict.detail


def test_a_server_that_claims_strict_keys_but_accepts_any_key_fails_the_contract():
    claiming_strict = rewriting_json(
        lambda scope, status, body: (status, {**body, "strict_keys": True} if "strict_keys" in body else body)
    )

    assert failing_checks(claiming_strict(create_app(Settings())), only={"contract"}) == {"contract"}


def test_failing_inputs_are_reported_even_after_a_schemathesis_run():
    with BackgroundServer(mock_app()) as healthy:
        run_check(Target("vydra", f"{healthy.url}/vydra", BUNDLED_KEY), examples=2, only={"contract"})
    with BackgroundServer(patching(never_refunding)(mock_app())) as broken:
        report = run_check(
            Target("vydra", f"{broken.url}/vydra", BUNDLED_KEY), examples=5, only={"refund-after-failure"}
        )

    (verdict,) = report.verdicts
    assert verdict.status == "fail"
    assert "fault='content-policy'" in verdict.detail or "fault='server-error'" in verdict.detail


def test_free_only_leaves_out_every_paid_check_and_charges_nothing():
    app = mock_app()
    with BackgroundServer(app) as server:
        report = run_check(Target("vydra", f"{server.url}/vydra", BUNDLED_KEY), examples=3, free_only=True)

    skipped = {v.behaviour.name for v in report.verdicts if v.status == "skip"}
    assert skipped == {b.name for b in behaviours_of("vydra") if b.paid}
    assert report.count("fail") == report.count("error") == 0
    account = state_of(app).ledger.find(BUNDLED_KEY)
    assert account.charged == account.refunded


def test_checks_that_need_control_are_skipped_on_a_server_that_is_not_a_mock():
    app = mock_app()

    async def without_admin(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_mock"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    with BackgroundServer(without_admin) as server:
        report = run_check(Target("vydra", f"{server.url}/vydra", BUNDLED_KEY), examples=3, schema=False)

    skipped = {v.behaviour.name for v in report.verdicts if v.status == "skip"}
    assert skipped == CONTROL_CHECKS
    assert report.count("fail") == report.count("error") == 0


def test_the_command_passes_on_the_mock_and_fails_on_a_broken_server(monkeypatch):
    passing = run_cli("check", "--profile", "vydra", "--examples", "5")
    broken = patching(never_refunding)(mock_app())
    with BackgroundServer(broken) as server:
        monkeypatch.setenv("VYDRA_TEST_KEY", BUNDLED_KEY)
        failing = run_cli(
            "check",
            "--profile",
            "vydra",
            "--base-url",
            f"{server.url}/vydra",
            "--api-key-env",
            "VYDRA_TEST_KEY",
            "--examples",
            "5",
            "--no-schema",
        )

    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "12 passed" in passing.stdout
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "FAIL   refund-after-failure" in failing.stdout
    assert "after a failed generation" in failing.stdout
    assert "source: seed 001, Error Responses: Generation Failed (500); Auto-Refund" in failing.stdout
    assert BUNDLED_KEY not in failing.stdout + failing.stderr


def test_the_command_needs_a_key_for_a_base_url():
    result = run_cli("check", "--profile", "vydra", "--base-url", "http://127.0.0.1:9", "--api-key-env", "UNSET_VAR_X")

    assert result.returncode == 2
    assert "UNSET_VAR_X" in result.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True, text=True, timeout=300)


def test_the_bundled_mock_is_strict_and_funded():
    with bundled_mock("vydra") as target:
        stranger = httpx.get(f"{target.base_url}/api/v1/organization", headers={"Authorization": "Bearer stranger"})
        funded = httpx.get(f"{target.origin}/_mock/accounts/{BUNDLED_KEY}").json()

    assert stranger.status_code == 401
    assert funded["credits"] == BUNDLED_CREDITS
    assert target.base_url.endswith("/vydra")
    assert BUNDLED_KEY not in repr(target)

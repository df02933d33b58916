"""Ways to break a server, for showing that each check of the kit catches the deviation it exists for."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance import Target, run_check
from conformance.runner import BUNDLED_KEY, bundled_settings
from mockserver import create_app
from mockserver.background import BackgroundServer
from mockserver.pipeline.body import read_body, replaying
from mockserver.state import State
from mockserver.state.ledger import Ledger

EXAMPLES = 10

JsonRewrite = Callable[[Scope, int, Any], tuple[int, Any]]
BodyRewrite = Callable[[Scope, int, bytes], tuple[int, bytes]]
Breakage = Callable[[ASGIApp], ASGIApp]


def mock_app():
    return create_app(bundled_settings())


def state_of(app) -> State:
    return app.state.mock


def failing_checks(profile: str, app: ASGIApp, **options) -> set[str]:
    """The checks of `profile` that fail against `app`; none may end in an error."""
    return set(failures(profile, app, **options))


def failures(profile: str, app: ASGIApp, **options) -> dict[str, str]:
    """What each check of `profile` that fails against `app` says; none may end in an error."""
    with BackgroundServer(app) as server:
        target = Target(profile, f"{server.url}/{profile}", BUNDLED_KEY, disposable=True)
        report = run_check(target, examples=EXAMPLES, **options)
    assert not [v for v in report.verdicts if v.status == "error"], [v.detail for v in report.verdicts]
    return {v.behaviour.name: v.detail for v in report.verdicts if v.status == "fail"}


# Ways to break a server. Each takes the mock's app and returns a broken one.


def rewriting_answers(media_type: bytes, rewrite: BodyRewrite) -> Breakage:
    """Break the answers: pass every response of `media_type` through `rewrite(scope, status, content)`."""

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
                if dict(headers).get(b"content-type", b"").startswith(media_type):
                    status, content = rewrite(scope, status, content)
                headers.append((b"content-length", str(len(content)).encode()))
                await send({**start, "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content})

            await app(scope, receive, capture)

        return broken

    return wrap


def rewriting_json(rewrite: JsonRewrite) -> Breakage:
    """Break the answers: pass every JSON response through `rewrite(scope, status, body)`."""

    def rewrite_content(scope: Scope, status: int, content: bytes) -> tuple[int, bytes]:
        status, changed = rewrite(scope, status, json.loads(content))
        return status, json.dumps(changed).encode()

    return rewriting_answers(b"application/json", rewrite_content)


def rewriting_body(rewrite: Callable[[bytes], bytes]) -> Breakage:
    """Break the reading of requests: pass every POST body of the service (not of the mock's control API), read
    whole, through `rewrite`."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].startswith("/_mock/"):
                return await app(scope, receive, send)
            body, rest = await read_body(scope, receive, None)
            await app(scope, replaying(rewrite(body), rest, receive), send)

        return broken

    return wrap


def rewriting_request(rewrite: Callable[[dict], dict]) -> Breakage:
    """Break the reading of requests: pass every JSON object a client sends through `rewrite`."""

    def rewrite_json(body: bytes) -> bytes:
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        return json.dumps(rewrite(parsed)).encode() if isinstance(parsed, dict) else body

    return rewriting_body(rewrite_json)


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


# Breakages of the server's insides, the same for every profile.


def drawing_with(**changes: Any) -> Callable[[State], None]:
    """Break the drawing: every image drawn with `changes` made to what was asked (its size, format, mask, ...)."""

    def patch(state: State) -> None:
        render = state.renderer.render

        async def changed(spec, **options) -> bytes:
            return await render(replace(spec, **changes), **options)

        state.renderer.render = changed

    return patch


squaring_images = drawing_with(width=1024, height=1024)
serving_jpeg = drawing_with(format="jpeg")
ignoring_masks = drawing_with(mask=None)
never_transparent = drawing_with(transparent=False)


def leaking_a_credit(state: State) -> None:
    ledger: Ledger = state.ledger
    charge = ledger.charge

    def leaky(api_key: str, amount: int):
        taken = charge(api_key, amount)
        ledger.set_balance(api_key, max(0, ledger.find(api_key).balance - 1))
        return taken

    ledger.charge = leaky


def charging_twice_every(nth: int) -> Callable[[State], None]:
    """Every `nth` paid request charged a second time, as a retry inside the service would."""

    def patch(state: State) -> None:
        ledger: Ledger = state.ledger
        charge = ledger.charge
        charges = itertools.count(1)

        def sometimes_twice(api_key: str, amount: int):
            taken = charge(api_key, amount)
            if next(charges) % nth == 0:
                ledger.set_balance(api_key, max(0, ledger.find(api_key).balance - amount))
            return taken

        ledger.charge = sometimes_twice

    return patch


charging_twice = charging_twice_every(1)


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


def adding_a_missing_key(header: bytes, value: bytes) -> Breakage:
    """Break authentication: a request that lacks the key gets the bundled one."""
    return adding_header(header, lambda scope: None if header in dict(scope["headers"]) else value)


def vague_dates(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, {k: "yesterday" if k in ("createdAt", "created_at") else v for k, v in body.items()}


def doubling_charges(state: State) -> None:
    ledger: Ledger = state.ledger
    charge = ledger.charge
    ledger.charge = lambda api_key, amount: charge(api_key, 2 * amount)


def rewriting_scope(rewrite: Callable[[Scope], Scope]) -> Breakage:
    """Break the reading of requests: change the path, query or headers before the server sees them."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            await app(rewrite(scope) if scope["type"] == "http" else scope, receive, send)

        return broken

    return wrap


def widening_images(state: State) -> None:
    render = state.renderer.render

    async def wider(spec, **options) -> bytes:
        return await render(replace(spec, width=spec.width + 8), **options)

    state.renderer.render = wider

"""The one money rule every dialect uses (pipeline/endpoint.py, Call.charged): a charge for the block, refunded on
any failure inside it, refused whole when the balance is short; and settled by the pipeline once the whole answer
has gone (with --data-dir, a charge not settled is undone at the next start)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.responses import Response
from starlette.types import Message

from mockserver import PROFILES, Settings, create_app
from mockserver.pipeline.endpoint import Call, Reject
from mockserver.state import State

KEY = "money-key"


@pytest.fixture
def call() -> Iterator[Call]:
    state = State(Settings(accounts={KEY: 10}, strict_keys=True))
    yield Call(request=None, body=b"", state=state, profile=PROFILES["vydra"], route=None)  # type: ignore[arg-type]
    state.close()


def refused(refusal) -> Response:
    return Response(f"{refusal.required} wanted, {refusal.balance} left", 402)


def balance(call: Call) -> int:
    return call.state.ledger.find(KEY).balance


def test_a_charge_that_ends_well_is_kept_for_the_pipeline_to_settle(call):
    with call.charged(KEY, 4, refused) as charge:
        assert balance(call) == 6

    assert balance(call) == 6
    assert call.charges == [charge]


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("a bug"), Reject(Response(status_code=500)), asyncio.CancelledError()],
    ids=["error", "forced fault", "client gone"],
)
def test_any_failure_inside_the_block_gives_the_credits_back(call, failure):
    with pytest.raises(type(failure)), call.charged(KEY, 4, refused):
        raise failure

    account = call.state.ledger.find(KEY)
    assert (account.balance, account.charged, account.refunded) == (10, 4, 4)


def test_too_few_credits_end_the_call_with_the_services_refusal_and_take_nothing(call):
    with pytest.raises(Reject) as rejected, call.charged(KEY, 11, refused):
        pytest.fail("the block must not run")

    assert (rejected.value.response.status_code, rejected.value.response.body) == (402, b"11 wanted, 10 left")
    assert (balance(call), call.charges) == (10, [])


def generate(app, send) -> None:
    """One Vydra generation through the app, its answer handed to `send`."""
    headers = [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")]
    scope = {"type": "http", "method": "POST", "path": "/vydra/api/v1/models/gemini/generate", "root_path": "",
             "scheme": "http", "query_string": b"", "server": ("127.0.0.1", 8000), "headers": headers}  # fmt: skip
    messages = [{"type": "http.request", "body": b'{"prompt": "a fox"}', "more_body": False}]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    asyncio.run(app(scope, receive, send))


def pending_charges(folder: Path) -> int:
    with sqlite3.connect(folder / "state.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM charges").fetchone()[0]


def test_a_charge_is_settled_and_its_request_journalled_before_the_last_of_its_answer_goes(tmp_path):
    app = create_app(Settings(accounts={KEY: 10}, data_dir=str(tmp_path)))
    journal, seen_at_the_end = app.state.mock.journal, []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            seen_at_the_end.append(([entry.status for entry in journal.entries()], pending_charges(tmp_path)))

    generate(app, send)
    app.state.mock.close()

    assert seen_at_the_end == [([200], 0)]  # a client asking the moment its answer ends finds both done


def test_a_charge_whose_answer_the_server_could_not_take_is_refunded(tmp_path):
    app = create_app(Settings(accounts={KEY: 10}, data_dir=str(tmp_path)))

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("the client went away")

    with pytest.raises(OSError):
        generate(app, send)
    account = app.state.mock.ledger.find(KEY)
    app.state.mock.close()

    assert (account.balance, account.refunded, pending_charges(tmp_path)) == (10, account.charged, 0)
    restarted = State(Settings(accounts={KEY: 10}, data_dir=str(tmp_path)))
    assert restarted.ledger.find(KEY).balance == 10  # refunded once
    restarted.close()

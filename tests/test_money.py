"""The one money rule every dialect uses (pipeline/endpoint.py, Call.charged): a charge for the block, refunded on
any failure inside it, refused whole when the balance is short, settled by the pipeline once answered."""

from __future__ import annotations

import asyncio

import pytest
from starlette.responses import Response

from mockserver import PROFILES, Settings
from mockserver.pipeline.endpoint import Call, Reject
from mockserver.state import State

KEY = "money-key"


@pytest.fixture
def call() -> Call:
    state = State(Settings(accounts={KEY: 10}, strict_keys=True))
    return Call(request=None, body=b"", state=state, profile=PROFILES["vydra"], route=None)  # type: ignore[arg-type]


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

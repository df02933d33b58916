"""The credit ledger as a state machine: paid and refused requests, forced faults, top-ups, clock moves and
resets in any order, and after every step the key's balance must be what the documented prices leave, and
never negative.

Each profile says how its credits are spent and read in an Account: its module builds one from its own
documentation, so that the machine knows nothing of any service.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from .behaviours import Behaviour, NotApplicable
from .failures import WrongCharge, WrongStatus
from .machines import Machine
from .session import FAULT_HEADER, Session

PLENTY = 1_000_000  # credits that pay for any run of the machine many times over
STEPS = 30  # rules in one example
EXAMPLES = 10
CLOCK_STEPS_SECONDS = [1, 60, 3600, 86_400]


@dataclass(frozen=True)
class Account:
    """How one profile's credits are spent and read, from its documentation."""

    # A valid paid request drawn from `data`, with the extra headers given (a forced fault).
    pay: Callable[[Session, st.DataObject, Mapping[str, str]], httpx.Response]
    # What an answered paid request took, by the documented price (or the answer's own account of it).
    cost: Callable[[httpx.Response], int]
    # A request the service refuses without charging (a bad body), drawn from `data`.
    refuse: Callable[[Session, st.DataObject], httpx.Response]
    short: int  # the status that refuses a request the balance cannot pay
    most: int  # the most one paid request as `pay` draws it may cost
    faults: tuple[str, ...]  # forced faults that end a paid request with nothing taken
    source: str  # where the prices and refusals are documented
    # The balance as the service itself reports it, free; None where it has no such endpoint.
    balance: Callable[[Session], int] | None = None


class CreditsMachine(Machine):
    account: ClassVar[Account]

    def __init__(self) -> None:
        super().__init__()
        if self.controllable:
            self.top_up_to(PLENTY)
        self.expected = self.balance()

    def balance(self) -> int:
        """The key's balance: the mock's ledger, or what the service reports (check_credits sees that it can)."""
        if self.controllable or self.account.balance is None:
            return self.session.mock_balance()
        return self.account.balance(self.session)

    def top_up_to(self, credits: int) -> None:
        self.control("PUT", f"/accounts/{self.session.target.api_key}", json={"credits": credits})
        self.expected = credits

    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        if not self.may_pay():
            return
        before = self.expected
        with self.session.spending():
            response = self.sent(self.account.pay(self.session, data, {}))
        if response.status_code == 200:
            cost = self.account.cost(response)
            if not 0 < cost <= before:
                self.fail(WrongCharge, f"a request costing {cost} answered with {before} credits", response=response)
            self.expected -= cost
        elif response.status_code != self.account.short:
            self.fail(WrongStatus, "a paid request neither answered nor refused for want of credit",
                      expected=[200, self.account.short], got=response.status_code, response=response)  # fmt: skip
        elif before >= self.account.most:
            self.fail(WrongStatus, f"refused for want of credit with {before}, more than any such request costs",
                      expected=200, got=response.status_code, response=response)  # fmt: skip

    @rule(data=st.data())
    def refuse(self, data: st.DataObject) -> None:
        response = self.sent(self.account.refuse(self.session, data))
        if response.is_success:
            self.fail(WrongStatus, "a request the documentation refuses was answered", response=response)

    @precondition(lambda self: self.controllable)
    @rule(data=st.data())
    def force_a_fault(self, data: st.DataObject) -> None:
        fault = data.draw(st.sampled_from(self.account.faults), label="fault")
        response = self.sent(self.account.pay(self.session, data, {FAULT_HEADER: fault}))
        if response.is_success:
            self.fail(WrongStatus, f"a request forced to fail with {fault} was answered", response=response)

    @precondition(lambda self: self.controllable)
    @rule(credits=st.sampled_from([0, PLENTY]) | st.integers(1, 50))
    def top_up(self, credits: int) -> None:
        self.top_up_to(credits)

    @precondition(lambda self: self.controllable)
    @rule(seconds=st.sampled_from(CLOCK_STEPS_SECONDS))
    def advance_the_clock(self, seconds: int) -> None:
        self.control("POST", "/clock", json={"advance_seconds": seconds})

    @precondition(lambda self: self.resettable)
    @rule()
    def reset(self) -> None:
        self.control("POST", "/reset")
        self.top_up_to(PLENTY)  # a reset gives the key its configured balance back; the run's is set again

    @invariant()
    def balance_is_the_model(self) -> None:
        found = self.balance()
        if found != self.expected or found < 0:
            self.fail(WrongCharge, f"the balance is {found}; the requests so far leave {self.expected}",
                      expected=self.expected, got=found)  # fmt: skip


def credits_behaviour(account: Account) -> Behaviour:
    return Behaviour(
        name="credits-state-machine",
        summary="Paid, refused and failed requests, top-ups, clock moves and resets in any order: after every step "
        "the balance is what the documented prices leave, never negative",
        source=account.source,
        check=lambda session: check_credits(session, account),
        examples=EXAMPLES,
    )


def check_credits(session: Session, account: Account) -> str | None:
    if not session.controllable and account.balance is None:
        raise NotApplicable("the service reports no balance, and the target is not an imagegen-mock")
    CreditsMachine.run(session, steps=STEPS, account=account)
    return None if session.controllable else "the free rules, and paid ones while the budget lasted"

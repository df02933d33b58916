"""The credit ledger: atomic charges, exact refunds, never negative, under any concurrency."""

from __future__ import annotations

import asyncio
import sys
import threading

import httpx
import pytest

from mockserver.state.clock import Clock
from mockserver.state.ledger import InsufficientCredits, Ledger


def ledger(credits: int = 100, strict: bool = False, preset: dict[str, int] | None = None) -> Ledger:
    return Ledger(Clock(), credits, strict, preset or {})


def test_an_unseen_key_opens_an_account_with_the_default_balance():
    book = ledger(credits=7)

    assert book.find("k") is None
    assert book.find_or_open("k").balance == 7
    assert book.find("k").balance == 7


def test_strict_mode_knows_only_preset_keys_and_keys_given_a_balance():
    book = ledger(strict=True, preset={"known": 3})

    assert book.find_or_open("stranger") is None
    assert book.find_or_open("known").balance == 3
    book.set_balance("stranger", 9)
    assert book.find("stranger").balance == 9


def test_charge_takes_the_amount_and_refund_gives_it_back_once():
    book = ledger(credits=10)

    charge = book.charge("k", 4)
    assert book.find("k").balance == 6
    book.refund(charge)
    book.refund(charge)

    account = book.find("k")
    assert (account.balance, account.charged, account.refunded) == (10, 4, 4)


def test_a_charge_larger_than_the_balance_takes_nothing():
    book = ledger(credits=4)

    with pytest.raises(InsufficientCredits) as refusal:
        book.charge("k", 5)

    assert (refusal.value.required, refusal.value.balance) == (5, 4)
    assert book.find("k").balance == 4


def test_reset_restores_preset_balances_and_forgets_the_rest():
    book = ledger(preset={"known": 3})
    book.charge("known", 2)
    book.charge("other", 2)

    book.reset()

    assert book.find("known").balance == 3
    assert book.find("other") is None


def test_threads_racing_for_credits_never_overdraw_or_double_charge():
    book = ledger(credits=5 * 50 + 3)
    successes: list[int] = []
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for _ in range(20):
            try:
                charge = book.charge("k", 5)
            except InsufficientCredits:
                continue
            successes.append(1)
            if len(successes) % 7 == 0:  # some generations fail and are refunded
                book.refund(charge)
                successes.pop()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    usual_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so that a missing lock shows
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(usual_interval)

    account = book.find("k")
    assert account.balance == 253 - 5 * len(successes)
    assert account.balance >= 0
    assert account.charged - account.refunded == 5 * len(successes)


def test_concurrent_paid_requests_succeed_exactly_as_often_as_credits_allow(server):
    """End to end: no await may come between the balance check and the debit of a generation."""
    key, price, affordable, fired = "concurrent-key", 5, 40, 120

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            await client.post("/_mock/reset")
            await client.put(f"/_mock/accounts/{key}", json={"credits": affordable * price + 3})
            headers = {"Authorization": f"Bearer {key}"}
            return await asyncio.gather(
                *(
                    client.post("/api/v1/models/gemini/generate", headers=headers, json={"prompt": f"p{i % 4}"})
                    for i in range(fired)
                )
            )

    answers = asyncio.run(fire())

    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == affordable
    assert statuses.count(402) == fired - affordable
    assert all(a.json()["creditsRemaining"] < price for a in answers if a.status_code == 402)
    account = httpx.get(f"{server.url}/_mock/accounts/{key}").json()
    assert (account["credits"], account["charged"], account["refunded"]) == (3, affordable * price, 0)


def test_a_charge_taken_before_a_reset_is_not_refunded_after_it():
    book = ledger(credits=10)
    charge = book.charge("k", 4)

    book.reset()
    book.find_or_open("k")
    book.refund(charge)

    assert book.find("k").balance == 10


def test_a_key_longer_than_any_services_is_nobodys():
    ledger = Ledger(Clock(), 100, strict=False, preset={})

    assert ledger.find_or_open("k" * 512) is not None
    assert ledger.find_or_open("k" * 513) is None
    assert ledger.find("k" * 513) is None


def test_idle_opened_accounts_are_forgotten_beyond_the_limit_but_never_one_given_a_balance():
    ledger = Ledger(Clock(), 100, strict=False, preset={}, max_opened=3)
    ledger.set_balance("given", 7)
    for key in ("a", "b", "c"):
        ledger.find_or_open(key)
    ledger.find_or_open("a")  # used again: now the most recent

    ledger.find_or_open("d")
    ledger.find_or_open("e")

    assert {key for key in ("given", "a", "b", "c", "d", "e") if ledger.find(key)} == {"given", "a", "d", "e"}
    assert ledger.find("given").balance == 7


def test_a_charge_whose_account_was_forgotten_is_refunded_to_nobody():
    ledger = Ledger(Clock(), 100, strict=False, preset={}, max_opened=1)
    charge = ledger.charge("first", 10)
    ledger.find_or_open("second")

    ledger.refund(charge)

    assert ledger.find("first") is None

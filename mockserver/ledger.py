"""Accounts and their credits: every API key is an account with a balance.

Charging is atomic: whatever the concurrency, a balance never goes below zero, a charge is taken
once, and a refund gives back exactly one charge, once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .clock import Clock


class InsufficientCredits(Exception):
    def __init__(self, required: int, balance: int) -> None:
        super().__init__(f"{required} credits required, {balance} remaining")
        self.required = required
        self.balance = balance


@dataclass(frozen=True)
class Account:
    id: str
    balance: int
    charged: int
    refunded: int
    created_at: float
    updated_at: float


@dataclass
class Charge:
    api_key: str
    amount: int
    generation: int  # of the ledger: a charge taken before a reset is never refunded after it
    refunded: bool = False


def account_id(api_key: str) -> str:
    """A stable, safe-to-show name for an API key."""
    return "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


class Ledger:
    def __init__(self, clock: Clock, default_credits: int, strict: bool, preset: Mapping[str, int]) -> None:
        self._clock = clock
        self._default_credits = default_credits
        self._strict = strict
        self._preset = dict(preset)
        self._accounts: dict[str, Account] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self.reset()

    def reset(self) -> None:
        """Forget every account but those of the config file, which get their starting balances back."""
        with self._lock:
            self._accounts.clear()
            self._generation += 1
        for api_key, credits in self._preset.items():
            self.set_balance(api_key, credits)

    def find_or_open(self, api_key: str) -> Account | None:
        """The key's account; in open mode an unseen key opens one with the default balance."""
        with self._lock:
            return self._get_or_open(api_key)

    def find(self, api_key: str) -> Account | None:
        """The key's account if it has one, opening nothing."""
        with self._lock:
            return self._accounts.get(api_key)

    def accounts(self) -> list[Account]:
        """Every account, oldest first."""
        with self._lock:
            return sorted(self._accounts.values(), key=lambda account: account.created_at)

    def set_balance(self, api_key: str, credits: int) -> Account:
        with self._lock:
            now = self._clock.now()
            current = self._accounts.get(api_key)
            if current is None:
                current = Account(account_id(api_key), credits, 0, 0, now, now)
            self._accounts[api_key] = replace(current, balance=credits, updated_at=now)
            return self._accounts[api_key]

    def charge(self, api_key: str, amount: int) -> Charge:
        """Take `amount` credits, or raise InsufficientCredits and take nothing."""
        with self._lock:
            account = self._get_or_open(api_key)
            if account is None:
                raise KeyError(api_key)
            if account.balance < amount:
                raise InsufficientCredits(amount, account.balance)
            self._update(api_key, balance=account.balance - amount, charged=account.charged + amount)
            return Charge(api_key, amount, self._generation)

    def refund(self, charge: Charge) -> None:
        """Give back a charge; refunding the same charge again does nothing."""
        with self._lock:
            if charge.refunded or charge.generation != self._generation:
                return
            charge.refunded = True
            account = self._accounts[charge.api_key]
            self._update(
                charge.api_key,
                balance=account.balance + charge.amount,
                refunded=account.refunded + charge.amount,
            )

    def _get_or_open(self, api_key: str) -> Account | None:
        account = self._accounts.get(api_key)
        if account is None and not self._strict:
            now = self._clock.now()
            account = Account(account_id(api_key), self._default_credits, 0, 0, now, now)
            self._accounts[api_key] = account
        return account

    def _update(self, api_key: str, **changes: int) -> None:
        self._accounts[api_key] = replace(self._accounts[api_key], updated_at=self._clock.now(), **changes)

"""Accounts and their credits: every API key is an account with a balance.

Charging is atomic: whatever the concurrency, a balance never goes below zero, a charge is taken
once, and a refund gives back exactly one charge, once. With a store, every change is written
through, and a charge stays pending there until its request has been answered (`settle`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace

from .clock import Clock
from .metrics import Metrics
from .store import Store

FIRST_ERA = 0  # of a ledger opened from a store, and of the charges restored with it
# Longer than any service's keys (Google's are 39 characters, OpenAI's about 200): such a key is nobody's.
MAX_KEY_LENGTH = 512


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
    era: int  # of the ledger, which every reset ends: a charge taken before a reset is never refunded after it
    refunded: bool = False
    pending_id: int | str | None = None  # its row in the store until its request is answered; its id in Redis


def account_id(api_key: str) -> str:
    """A stable, safe-to-show name for an API key."""
    return "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


class Ledger:
    def __init__(
        self,
        clock: Clock,
        default_credits: int,
        strict: bool,
        preset: Mapping[str, int],
        store: Store | None = None,
        max_opened: int = 10_000,
        metrics: Metrics | None = None,
    ) -> None:
        """`max_opened`: accounts opened by a key's first request that are remembered, the least recently used
        forgotten first; an account given a balance (by the control API or the config file) is never forgotten."""
        self._clock = clock
        self._default_credits = default_credits
        self._strict = strict
        self._preset = dict(preset)
        self._accounts: dict[str, Account] = {}
        self._opened: OrderedDict[str, None] = OrderedDict()  # the forgettable ones, least recently used first
        self._max_opened = max_opened
        self._lock = threading.RLock()
        self._store = store
        self._era = FIRST_ERA
        self._metrics = metrics or Metrics()
        if store is None:
            self.reset()
            return
        given = {row["api_key"] for row in store.rows("SELECT api_key FROM given")}
        for row in store.rows("SELECT * FROM accounts ORDER BY updated_at"):
            self._accounts[row["api_key"]] = Account(*tuple(row)[1:])
            if row["api_key"] not in given:
                self._opened[row["api_key"]] = None
        for api_key, credits in self._preset.items():
            if api_key not in self._accounts:
                self.set_balance(api_key, credits)

    def reset(self) -> None:
        """Forget every account but those of the config file, which get their starting balances back."""
        with self._writing() as db:
            self._accounts.clear()
            self._opened.clear()
            self._era += 1
            if db:
                db.execute("DELETE FROM accounts")
                db.execute("DELETE FROM charges")
                db.execute("DELETE FROM given")
        for api_key, credits in self._preset.items():
            self.set_balance(api_key, credits)

    def find_or_open(self, api_key: str) -> Account | None:
        """The key's account; in open mode an unseen key opens one with the default balance (not one longer than
        any service's keys)."""
        if len(api_key) > MAX_KEY_LENGTH:
            return None
        with self._lock:
            account = self._accounts.get(api_key)
            if account is not None and api_key in self._opened:
                self._opened.move_to_end(api_key)
        if account is not None:
            return account
        with self._writing():
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
        """Give the key this balance; its account is never forgotten from now on."""
        with self._writing() as db:
            now = self._clock.now()
            current = self._accounts.get(api_key)
            if current is None:
                current = Account(account_id(api_key), credits, 0, 0, now, now)
            self._accounts[api_key] = replace(current, balance=credits, updated_at=now)
            self._opened.pop(api_key, None)
            self._save(api_key)
            if db:
                db.execute("INSERT OR IGNORE INTO given VALUES (?)", (api_key,))
            return self._accounts[api_key]

    def charge(self, api_key: str, amount: int) -> Charge:
        """Take `amount` credits, or raise InsufficientCredits and take nothing."""
        with self._writing() as db:
            account = self._get_or_open(api_key)
            if account is None:
                raise KeyError(api_key)
            if account.balance < amount:
                raise InsufficientCredits(amount, account.balance)
            self._update(api_key, account.balance - amount, account.charged + amount, account.refunded)
            self._metrics.charged.inc(amount)
            charge = Charge(api_key, amount, self._era)
            if db:
                charge.pending_id = db.execute("INSERT INTO charges VALUES (NULL, ?, ?)", (api_key, amount)).lastrowid
            return charge

    def refund(self, charge: Charge) -> None:
        """Give back a charge; refunding the same charge again does nothing."""
        with self._writing():
            if charge.refunded or charge.era != self._era:
                return
            charge.refunded = True
            account = self._accounts.get(charge.api_key)
            if account is None:  # forgotten while its request ran: nothing to give back to
                return
            self._update(
                charge.api_key, account.balance + charge.amount, account.charged, account.refunded + charge.amount
            )
            self._metrics.refunded.inc(charge.amount)
            self._settle(charge)

    def settle(self, charges: list[Charge]) -> None:
        """The charges' request has been answered: a restart no longer refunds them."""
        if self._store is None:  # nothing to undo at a restart: nothing to settle
            return
        with self._writing():
            for charge in charges:
                self._settle(charge)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection | None]:
        """The ledger's lock, and with a store one transaction for everything done under it."""
        if self._store is None:
            with self._lock:
                yield None
            return
        with self._store.transaction() as db, self._lock:
            yield db

    def _get_or_open(self, api_key: str) -> Account | None:
        account = self._accounts.get(api_key)
        if account is None and not self._strict:
            now = self._clock.now()
            account = Account(account_id(api_key), self._default_credits, 0, 0, now, now)
            self._accounts[api_key] = account
            self._opened[api_key] = None
            self._save(api_key)
            self._forget_idle()
        return account

    def _forget_idle(self) -> None:
        while len(self._opened) > self._max_opened:
            api_key, _ = self._opened.popitem(last=False)
            del self._accounts[api_key]
            if self._store is not None:
                with self._store.transaction() as db:
                    db.execute("DELETE FROM accounts WHERE api_key = ?", (api_key,))

    def _update(self, api_key: str, balance: int, charged: int, refunded: int) -> None:
        account = self._accounts[api_key]  # made anew rather than replace()d: twice as fast, on every charge
        self._accounts[api_key] = Account(account.id, balance, charged, refunded, account.created_at, self._clock.now())
        self._save(api_key)

    def _save(self, api_key: str) -> None:
        if self._store is not None:
            with self._store.transaction() as db:
                row = (api_key, *vars(self._accounts[api_key]).values())  # astuple() would deep-copy
                db.execute("REPLACE INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def _settle(self, charge: Charge) -> None:
        if self._store is not None and charge.pending_id is not None:
            with self._store.transaction() as db:
                db.execute("DELETE FROM charges WHERE id = ?", (charge.pending_id,))
            charge.pending_id = None

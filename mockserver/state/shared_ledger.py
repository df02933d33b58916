"""The ledger in Redis, for servers that share one (state/shared.py): each account a hash, each charge and
refund one atomic script, so that across every server a balance never goes below zero and a charge is
refunded at most once. A charge stays pending under its server's name until its answer has been sent.

Accounts a key's first request opens are kept as long as the era (Redis' memory is the bound, not
--accounts-max-count).
"""

from __future__ import annotations

from collections.abc import Mapping

from .clock import Clock
from .ledger import MAX_KEY_LENGTH, Account, Charge, InsufficientCredits, account_id
from .metrics import Metrics
from .shared import PREFIX, RECORD_SECONDS, UNAVAILABLE, SharedState

# ARGV: prefix, api_key, strict (0/1), default balance, account id, now. The account's fields, or nothing.
OPEN = """
local function open(prefix, era, api_key, strict, default, id, now)
  local account = prefix .. era .. ':account:' .. api_key
  if redis.call('EXISTS', account) == 0 then
    if strict == '1' then return nil end
    redis.call('HSET', account, 'id', id, 'balance', default, 'charged', 0, 'refunded', 0, 'created_at', now,
               'updated_at', now)
    redis.call('ZADD', prefix .. era .. ':accounts', now, api_key)
  end
  return account
end
"""
FIELDS = ("id", "balance", "charged", "refunded", "created_at", "updated_at")
FIND_OR_OPEN = (
    OPEN
    + """
local era = redis.call('GET', ARGV[1] .. 'era') or '0'
local account = open(ARGV[1], era, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if not account then return nil end
return redis.call('HMGET', account, 'id', 'balance', 'charged', 'refunded', 'created_at', 'updated_at')
"""
)
SET_BALANCE = (
    OPEN
    + """
local era = redis.call('GET', ARGV[1] .. 'era') or '0'
local account = open(ARGV[1], era, ARGV[2], '0', ARGV[7], ARGV[5], ARGV[6])
redis.call('HSET', account, 'balance', ARGV[7], 'updated_at', ARGV[6])
return redis.call('HMGET', account, 'id', 'balance', 'charged', 'refunded', 'created_at', 'updated_at')
"""
)
# ARGV as OPEN's, then the amount, the server and the charge's id. {1, era}; {0} for no account; {-1, balance};
# {2} for a charge given up before it came (its id refunded: REFUND).
CHARGE = (
    OPEN
    + """
local prefix = ARGV[1]
local charge = prefix .. 'charge:' .. ARGV[9]
if redis.call('EXISTS', charge) == 1 then return {2} end
local era = redis.call('GET', prefix .. 'era') or '0'
local account = open(prefix, era, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if not account then return {0} end
local amount = tonumber(ARGV[7])
local balance = tonumber(redis.call('HGET', account, 'balance'))
if balance < amount then return {-1, balance} end
redis.call('HINCRBY', account, 'balance', -amount)
redis.call('HINCRBY', account, 'charged', amount)
redis.call('HSET', account, 'updated_at', ARGV[6])
redis.call('HSET', charge, 'api_key', ARGV[2], 'amount', amount, 'era', era, 'state', 'pending', 'server', ARGV[8])
redis.call('SADD', prefix .. 'pending:' .. ARGV[8], ARGV[9])
return {1, era}
"""
)
# ARGV: prefix, charge id, now, seconds a finished charge is kept. 1 if it was given back. A charge not (yet) there is
# marked refunded, so that if it comes late (its trip timed out on the way) it takes nothing.
REFUND = """
local prefix = ARGV[1]
local charge = prefix .. 'charge:' .. ARGV[2]
local fields = redis.call('HMGET', charge, 'api_key', 'amount', 'era', 'state', 'server')
redis.call('HSET', charge, 'state', 'refunded')
redis.call('EXPIRE', charge, ARGV[4])
if not fields[4] or fields[4] == 'refunded' then return 0 end
redis.call('SREM', prefix .. 'pending:' .. fields[5], ARGV[2])
local account = prefix .. fields[3] .. ':account:' .. fields[1]
if fields[3] ~= (redis.call('GET', prefix .. 'era') or '0') or redis.call('EXISTS', account) == 0 then return 0 end
redis.call('HINCRBY', account, 'balance', fields[2])
redis.call('HINCRBY', account, 'refunded', fields[2])
redis.call('HSET', account, 'updated_at', ARGV[3])
return 1
"""
# ARGV: prefix, seconds a finished charge is kept, then the charge ids.
SETTLE = """
local prefix = ARGV[1]
for i = 3, #ARGV do
  local charge = prefix .. 'charge:' .. ARGV[i]
  local fields = redis.call('HMGET', charge, 'state', 'server')
  if fields[1] == 'pending' then
    redis.call('HSET', charge, 'state', 'settled')
    redis.call('EXPIRE', charge, ARGV[2])
    redis.call('SREM', prefix .. 'pending:' .. fields[2], ARGV[i])
  end
end
return 0
"""


class SharedLedger:
    """Ledger's interface (state/ledger.py), over Redis."""

    def __init__(
        self, shared: SharedState, clock: Clock, default_credits: int, strict: bool, preset: Mapping[str, int],
        metrics: Metrics,
    ) -> None:  # fmt: skip
        self._shared = shared
        self._clock = clock
        self._default_credits = default_credits
        self._strict = strict
        self._preset = dict(preset)
        self._metrics = metrics
        self._find_or_open, self._set_balance = shared.script(FIND_OR_OPEN), shared.script(SET_BALANCE)
        self._charge, self._refund, self._settle = shared.script(CHARGE), shared.script(REFUND), shared.script(SETTLE)
        for api_key, credits in self._preset.items():  # as a store's ledger does: kept if already there
            if self.find(api_key) is None:
                self.set_balance(api_key, credits)

    def reset(self) -> None:
        """Forget every account (the shared state's new era) but the config file's, back at their balances."""
        self._shared.reset()
        for api_key, credits in self._preset.items():
            self.set_balance(api_key, credits)

    def find_or_open(self, api_key: str) -> Account | None:
        if len(api_key) > MAX_KEY_LENGTH:
            return None
        return self._account(self._find_or_open(args=self._opening(api_key, self._strict)))

    def find(self, api_key: str) -> Account | None:
        return self._account(self._find_or_open(args=self._opening(api_key, strict=True)))

    def accounts(self) -> list[Account]:
        """Every account, oldest first."""
        era = self._shared.era()
        keys = self._shared.redis.zrange(self._shared.era_key(era, "accounts"), 0, -1)
        pipe = self._shared.redis.pipeline(transaction=False)
        for api_key in keys:
            pipe.hmget(self._shared.era_key(era, f"account:{api_key}"), FIELDS)
        return [account for fields in pipe.execute() if (account := self._account(fields))]

    def set_balance(self, api_key: str, credits: int) -> Account:
        account = self._account(self._set_balance(args=[*self._opening(api_key, strict=False), credits]))
        assert account is not None  # the script opens it
        return account

    def charge(self, api_key: str, amount: int) -> Charge:
        """Take `amount` credits, or raise InsufficientCredits and take nothing. If Redis cannot be reached, the charge
        is given back once it can: Redis may have taken it, and the answer been lost."""
        charge_id = self._shared.step_id()
        try:
            taken = self._charge(args=[*self._opening(api_key, self._strict), amount, self._shared.server, charge_id])
        except UNAVAILABLE:
            self._give_back_later(charge_id, amount, unseen=True)
            raise
        if taken[0] == 0:
            raise KeyError(api_key)
        if taken[0] == -1:
            raise InsufficientCredits(amount, int(taken[1]))
        self._metrics.charged.inc(amount)
        return Charge(api_key, amount, int(taken[1]), pending_id=charge_id)

    def refund(self, charge: Charge) -> None:
        """Give back a charge; refunding the same charge again, on any server, does nothing. While Redis cannot be
        reached, it is given back once it can."""
        if charge.refunded or charge.pending_id is None:
            return
        charge.refunded = True
        try:
            given_back = self._refund(args=self._refunding(charge.pending_id))
        except UNAVAILABLE:
            self._give_back_later(charge.pending_id, charge.amount)
            raise
        self._count_refund(charge.amount, given_back)

    def settle(self, charges: list[Charge]) -> None:
        """The charges' request has been answered: a server's death no longer refunds them, once the settlement has
        gone to Redis with this server's next round trip (the journal's entry of the request; any, while Redis is
        gone)."""
        pending = [charge.pending_id for charge in charges if charge.pending_id is not None and not charge.refunded]
        if pending:
            self._settle.later(args=[PREFIX, RECORD_SECONDS, *pending], kept=True)

    def _give_back_later(self, charge_id: str, amount: int, unseen: bool = False) -> None:
        """Refund with the next trip that reaches Redis. A charge whose answer was lost (`unseen`) and that Redis took
        is counted then, with its refund, as the account counts it."""
        self._refund.later(
            args=self._refunding(charge_id), kept=True,
            then=lambda given_back: self._count_refund(amount, given_back, unseen),
        )  # fmt: skip

    def _count_refund(self, amount: int, given_back: int, unseen: bool = False) -> None:
        if given_back:
            if unseen:
                self._metrics.charged.inc(amount)
            self._metrics.refunded.inc(amount)

    def _refunding(self, charge_id: str) -> list[object]:
        return [PREFIX, charge_id, self._clock.now(), RECORD_SECONDS]

    def _opening(self, api_key: str, strict: bool) -> list[object]:
        return [PREFIX, api_key, int(strict), self._default_credits, account_id(api_key), self._clock.now()]

    @staticmethod
    def account_of_hash(flat: list[str]) -> Account | None:
        """The account an account's hash (flat, as HGETALL gives it) holds; None for an empty one."""
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        return SharedLedger._account([fields.get(name) for name in FIELDS])

    @staticmethod
    def _account(fields: list[str | None] | None) -> Account | None:
        if not fields or fields[0] is None:
            return None
        identity, balance, charged, refunded, created_at, updated_at = fields
        return Account(identity, int(balance), int(charged), int(refunded), float(created_at), float(updated_at))

"""A client's attempts at one logical call, read from the journal: what it retried, how long it waited between
tries, and the charges it caused twice.

Two requests are attempts at one call when they come from the same key to the same endpoint and either carry the
same Idempotency-Key, or the later one says it is a retry (the Stainless SDKs' x-stainless-retry-count above 0),
or, with neither, carry the same body within RETRY_WINDOW_SECONDS of the earlier one's answer. The waits are on
the mock's clock: moving it between two attempts counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .faults import RETRY_AFTER_HEADERS
from .journal import Recorded

RETRY_WINDOW_SECONDS = 120.0  # openai's SDKs give up on waits longer than this


@dataclass
class LogicalCall:
    profile: str | None
    method: str
    endpoint: str
    account: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    ended: float = 0.0  # when its latest attempt's answer ended

    @property
    def duplicate_charge(self) -> bool:
        """Whether the client sent it again after an attempt had been charged and answered in full, and paid
        again."""
        paid_in_full = False
        for attempt in self.attempts:
            if paid_in_full and attempt["charged"]:
                return True
            paid_in_full = paid_in_full or (attempt["charged"] > 0 and attempt["complete"])
        return False

    def as_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "method": self.method, "endpoint": self.endpoint, "account": self.account,
                "retries": len(self.attempts) - 1, "charged": sum(a["charged"] for a in self.attempts),
                "duplicate_charge": self.duplicate_charge, "attempts": self.attempts}  # fmt: skip


def logical_calls(entries: Iterable[Recorded]) -> list[LogicalCall]:
    """The journal's requests grouped into calls, oldest first."""
    calls: list[LogicalCall] = []
    open_calls: dict[tuple, LogicalCall] = {}
    for entry in entries:
        shown = entry.as_json()
        if shown["account"] is None:
            continue
        headers = shown["headers"]
        identity = headers.get("idempotency-key") or json.dumps(shown["body"], sort_keys=True)
        place = (shown["account"], entry.method, entry.endpoint, identity)
        retry_count = headers.get("x-stainless-retry-count")
        started = entry.time - entry.duration_ms / 1000
        earlier = open_calls.get(place)
        if earlier is None or not is_retry(retry_count, "idempotency-key" in headers, started - earlier.ended):
            earlier = LogicalCall(entry.profile, entry.method, entry.endpoint, shown["account"])
            open_calls[place] = earlier
            calls.append(earlier)
        waited = None if not earlier.attempts else round((started - earlier.ended) * 1000, 3)
        earlier.attempts.append({"id": entry.id, "status": entry.status, "fault": entry.fault,
                                 "complete": entry.complete, "charged": shown["charged"], "waited_ms": waited,
                                 "asked_wait": asked_wait(entry)})  # fmt: skip
        earlier.ended = entry.time
    return calls


def is_retry(retry_count: str | None, idempotent: bool, waited: float) -> bool:
    if retry_count is not None:
        return retry_count != "0"
    return idempotent or waited <= RETRY_WINDOW_SECONDS


def asked_wait(entry: Recorded) -> dict[str, str] | None:
    """The wait the answer asked for, as it said it: its retry-after-ms and Retry-After headers, if any."""
    asked = {name.decode(): value.decode("latin-1") for name, value in entry.response_headers
             if name.lower() in RETRY_AFTER_HEADERS}  # fmt: skip
    return asked or None

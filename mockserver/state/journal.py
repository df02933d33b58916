"""The request journal: what every client sent and what it got back, secrets redacted, bounded.

Requests are written to it by the pipeline (pipeline/journal.py), webhook deliveries by state/webhooks.py."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

from ..wire.jsonio import parse_json
from ..wire.keys import REDACTED, api_key_of, hidden, is_secret_header, is_secret_query
from .bounded import BoundedMap
from .clock import iso
from .ledger import Charge, account_id


@dataclass(frozen=True)
class Entry:
    id: int
    time: str
    profile: str | None
    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    headers: dict[str, str]
    account: str | None
    body: Any
    status: int
    duration_ms: float
    response: Any
    kind: str = "request"  # or "webhook": a call the mock made to a client's URL

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def footprint(self) -> int:
        """The bytes it holds, roughly (for the journal's budget)."""
        return len(repr(self))


class Journal:
    """The latest entries, within a count and a byte budget (the oldest dropped first)."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self._entries: BoundedMap[int, Entry | Recorded] = BoundedMap(size, max_bytes, lambda e: e.footprint)
        self._lock = threading.Lock()
        self._next_id = 1

    def next_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id - 1

    def add(self, entry: Entry | Recorded) -> None:
        self._entries.put(entry.id, entry)

    def entries(self, profile: str | None = None, path: str | None = None) -> list[Entry | Recorded]:
        return matching(self._entries.values(), profile, path)

    def clear(self) -> None:
        self._entries.clear()


def matching(entries: list[Entry | Recorded], profile: str | None, path: str | None) -> list[Entry | Recorded]:
    """The entries of `profile` (all with None), and of `path` (as it came, or as its endpoint's documented path)."""
    if profile is not None:
        entries = [e for e in entries if e.profile == profile]
    if path is not None:
        entries = [e for e in entries if path in (e.path, e.endpoint)]
    return entries


def describe_body(content_type: str, raw: bytes, size: int, limit: int) -> Any:
    """The request or response body as a client test wants to see it: parsed where it can be.

    `raw` holds at least the first `limit` + 1 bytes of a body of `size` bytes.
    """
    if not size:
        return None
    if size > limit:
        return {"omitted_bytes": size, "content_type": content_type}
    if "json" in content_type:
        try:
            return parse_json(raw)
        except ValueError:
            pass
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("latin-1")))
    if content_type.startswith(("image/", "multipart/", "application/octet-stream")):
        return {"omitted_bytes": size, "content_type": content_type}
    return raw.decode("utf-8", errors="replace")


@dataclass(slots=True)  # not frozen: a frozen dataclass costs the request more to make
class Recorded:
    """A request as it came, kept raw: made readable (parsed, redacted) only when the journal is read, so that
    recording costs the request almost nothing."""

    id: int
    time: float
    profile: str | None
    method: str
    path: str
    endpoint: str
    raw_headers: list[tuple[bytes, bytes]]
    query_string: bytes
    body: bytes | dict[str, Any]  # the first body_limit + 1 bytes; a multipart form, its fields and files
    body_size: int
    status: int | None  # None: no answer began (a transport fault broke the connection first)
    duration_ms: float
    response_headers: list[tuple[bytes, bytes]]
    response: bytes
    response_size: int
    body_limit: int
    keys: tuple[str, ...] = ()  # the API keys the service read from the request, hidden wherever they appear
    fault: str | None = None  # the fault forced on it
    complete: bool = True  # whether the whole answer went
    charges: tuple[Charge, ...] = ()  # what it was charged (read when the journal is: a refund may come later)

    @property
    def footprint(self) -> int:
        """The bytes it holds, roughly (for the journal's budget): headers, query, what it kept of both bodies."""
        headers = sum(len(name) + len(value) for name, value in (*self.raw_headers, *self.response_headers))
        body = len(self.body) if isinstance(self.body, bytes) else len(repr(self.body))
        return headers + len(self.query_string) + body + len(self.response)

    def as_json(self) -> dict[str, Any]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.raw_headers}
        query = dict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))
        answer_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.response_headers}
        api_key = api_key_of(headers, query)
        # A key is hidden wherever it is: under a secret name, and as any value equal to one the request gave.
        secrets = frozenset(key for key in (*self.keys, api_key) if key)
        body = self.body if isinstance(self.body, dict) else describe_body(
            headers.get("content-type", ""), self.body, self.body_size, self.body_limit
        )  # fmt: skip
        answer = describe_body(
            answer_headers.get("content-type", ""), self.response, self.response_size, self.body_limit
        )
        return {
            "id": self.id,
            "time": iso(self.time),
            "profile": self.profile,
            "method": self.method,
            "path": self.path,
            "endpoint": self.endpoint,
            "query": hidden({k: REDACTED if is_secret_query(k) else v for k, v in query.items()}, secrets),
            "headers": hidden({k: REDACTED if is_secret_header(k) else v for k, v in headers.items()}, secrets),
            "account": account_id(api_key) if api_key else None,
            "body": hidden(body, secrets),
            "status": self.status,
            "duration_ms": self.duration_ms,
            "response": hidden(answer, secrets),
            "kind": "request",
            "fault": self.fault,
            "complete": self.complete,
            "charged": sum(charge.amount for charge in self.charges if not charge.refunded),
        }

"""The request journal: what every client sent and what it got back, secrets redacted, bounded."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .clock import iso
from .credentials import api_key_of, is_secret_header, is_secret_query
from .jsonio import parse_json
from .ledger import account_id

if TYPE_CHECKING:
    from .state import State

REDACTED = "[redacted]"


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


class Journal:
    def __init__(self, size: int) -> None:
        self._entries: deque[Entry | Recorded] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._next_id = 1

    def next_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id - 1

    def add(self, entry: Entry | Recorded) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, profile: str | None = None, path: str | None = None) -> list[Entry | Recorded]:
        with self._lock:
            found = list(self._entries)
        if profile is not None:
            found = [e for e in found if e.profile == profile]
        if path is not None:
            found = [e for e in found if path in (e.path, e.endpoint)]
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


async def read_whole_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the request body up front (the journal wants it even if the app never reads it), and
    give the app a receive that hands the same body over again."""
    chunks = []
    message: Message = {"more_body": True}
    while message.get("more_body", False):
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
    body = b"".join(chunks)
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    if message["type"] != "http.request":
        pending.append(message)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return body, replay


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


def kept_body(headers: list[tuple[bytes, bytes]], body: bytes, limit: int) -> bytes | dict[str, Any]:
    """What the journal keeps of a request body: a multipart form described now (its files are not kept),
    anything else as its first `limit` + 1 bytes."""
    content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
    if content_type.startswith("multipart/form-data") and body:
        return form_fields(content_type, body)
    return body[: limit + 1]


def form_fields(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart form as a test wants to see it: its text fields, and each file described (not kept)."""
    message = BytesParser(policy=default_policy).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    uploads = []
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition") or ""
        content = part.get_payload(decode=True) or b""
        if part.get_filename() is None:
            fields[name] = content.decode("utf-8", errors="replace")
        else:
            uploads.append({"field": name, "filename": part.get_filename(), "content_type": part.get_content_type(),
                            "bytes": len(content)})  # fmt: skip
    return {"fields": fields, "files": uploads}


class JournalMiddleware:
    """Records every request that reaches a service (everything except the admin API)."""

    def __init__(self, app: ASGIApp, state: State, route_of: Callable[[str], tuple[str | None, str]]) -> None:
        self.app = app
        self.state = state
        self.body_limit = state.settings.journal_body_kib * 1024
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        received, receive = await read_whole_body(receive)
        sent = bytearray()
        sent_size = 0
        response_start: dict[str, Any] = {}

        async def recording_send(message: Message) -> None:
            nonlocal sent_size
            if message["type"] == "http.response.start":
                response_start.update(message)
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                sent_size += len(chunk)
                sent.extend(chunk[: self.body_limit + 1 - len(sent)])
            await send(message)

        scope["imagegen.profile"], scope["imagegen.endpoint"] = self.route_of(scope["path"])
        try:
            await self.app(scope, receive, recording_send)
        finally:
            entry = self._entry(scope, received, (bytes(sent), sent_size), response_start, started)
            self.state.journal.add(entry)

    def _entry(
        self, scope: Scope, received: bytes, sent: tuple[bytes, int], start: dict[str, Any], started: float
    ) -> Recorded:
        return Recorded(
            id=self.state.journal.next_id(),
            time=self.state.clock.now(),
            profile=scope["imagegen.profile"],
            method=scope["method"],
            path=scope["path"],
            endpoint=scope["imagegen.endpoint"],
            raw_headers=scope["headers"],
            query_string=scope.get("query_string", b""),
            body=kept_body(scope["headers"], received, self.body_limit),
            body_size=len(received),
            status=start.get("status", 500),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            response_headers=start.get("headers", []),
            response=sent[0],
            response_size=sent[1],
            body_limit=self.body_limit,
        )


@dataclass(frozen=True, slots=True)
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
    status: int
    duration_ms: float
    response_headers: list[tuple[bytes, bytes]]
    response: bytes
    response_size: int
    body_limit: int

    def as_json(self) -> dict[str, Any]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.raw_headers}
        query = dict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))
        answer_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.response_headers}
        api_key = api_key_of(headers, query)
        return {
            "id": self.id,
            "time": iso(self.time),
            "profile": self.profile,
            "method": self.method,
            "path": self.path,
            "endpoint": self.endpoint,
            "query": {k: REDACTED if is_secret_query(k) else v for k, v in query.items()},
            "headers": {k: REDACTED if is_secret_header(k) else v for k, v in headers.items()},
            "account": account_id(api_key) if api_key else None,
            "body": self.body
            if isinstance(self.body, dict)
            else describe_body(headers.get("content-type", ""), self.body, self.body_size, self.body_limit),
            "status": self.status,
            "duration_ms": self.duration_ms,
            "response": describe_body(
                answer_headers.get("content-type", ""), self.response, self.response_size, self.body_limit
            ),
            "kind": "request",
        }

"""What came and what went, written to the journal (state/journal.py) for every request but the control API's:
the request as it came, with the body the pipeline read, and the answer's status, headers and first bytes.

An entry is kept raw, as bytes; it is made readable (parsed, redacted) only when the journal is read, so
that recording costs the request almost nothing.
"""

from __future__ import annotations

import time

from starlette.types import Message, Scope, Send

from ..state import State
from ..state.journal import Recorded, kept_body
from .routing import Destination


class Capture:
    """The answer as it is sent: its status and headers, the first bytes of its body, and whether all of it
    went."""

    def __init__(self, send: Send, limit: int) -> None:
        self._send = send
        self._limit = limit
        self.start: Message = {}
        self.body = bytearray()
        self.size = 0
        self.complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            self.size += len(chunk)
            self.body.extend(chunk[: self._limit + 1 - len(self.body)])
        await self._send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True


def record(state: State, scope: Scope, destination: Destination, body: bytes, answer: Capture, started: float) -> None:
    limit = state.settings.journal_body_kib * 1024
    state.journal.add(
        Recorded(
            id=state.journal.next_id(),
            time=state.clock.now(),
            profile=destination.profile.name if destination.profile else None,
            method=scope["method"],
            path=scope["path"],
            endpoint=destination.path,
            raw_headers=scope["headers"],
            query_string=scope.get("query_string", b""),
            body=kept_body(scope["headers"], body, limit),
            body_size=len(body),
            status=answer.start.get("status", 500),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            response_headers=answer.start.get("headers", []),
            response=bytes(answer.body),
            response_size=answer.size,
            body_limit=limit,
        )
    )

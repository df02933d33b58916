"""What came and what went, written to the journal (state/journal.py) for every request but the control API's:
the request as it came, with the body the pipeline read (a multipart form as the endpoint read it, once), and
the answer's status, headers and first bytes.

An entry is kept raw, as bytes; it is made readable (parsed, redacted) only when the journal is read, so
that recording costs the request almost nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message, Scope, Send

from ..state import State
from ..state.journal import Recorded
from .body import replaying
from .endpoint import Call
from .routing import Destination

# A form no endpoint read is read within these limits, as generous as any service's: past them it is refused,
# and the journal says why, instead of taking a hostile form apart.
FORM_LIMITS = {"max_files": 32, "max_fields": 64}


class Capture:
    """The answer as it is sent: its status and headers, the first bytes of its body, and whether all of it went;
    `ending` is awaited just before its last message goes (dispatch.py writes the journal then), which is taken for
    gone unless the server refuses it."""

    def __init__(self, send: Send, limit: int, ending: Callable[[], Awaitable[None]]) -> None:
        self._send = send
        self._limit = limit
        self._ending = ending
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
            if not message.get("more_body", False):
                self.complete = True
                await self._ending()
        try:
            await self._send(message)
        except BaseException:
            self.complete = False  # the server could not take it: the client went away
            raise


async def record(
    state: State, scope: Scope, destination: Destination, body: bytes, answer: Capture, started: float,
    call: Call | None,
) -> None:  # fmt: skip
    """Journal the request; `call` is its endpoint's, if one answered it (what it read of a form, the keys)."""
    limit = state.settings.journal_body_kib * 1024
    kept = await kept_body(scope, body, call.form_read if call else None, limit)
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
            body=kept,
            body_size=len(body),
            status=answer.start.get("status"),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            response_headers=answer.start.get("headers", []),
            response=bytes(answer.body),
            response_size=answer.size,
            body_limit=limit,
            keys=tuple(call.keys) if call else (),
            fault=call.fault if call else None,
            complete=answer.complete,
            charges=tuple(call.charges) if call else (),
        )
    )


async def kept_body(
    scope: Scope, body: bytes, form: FormData | HTTPException | None, limit: int
) -> bytes | dict[str, Any]:
    """What the journal keeps of a request body: a multipart form described (its files are not kept), as its
    endpoint read it or, if none did, as the journal reads it within the same limits; anything else as its first
    `limit` + 1 bytes."""
    if not body or not Headers(scope=scope).get("content-type", "").startswith("multipart/form-data"):
        return body[: limit + 1]
    if form is None:
        form = await read_form(scope, body)
    if isinstance(form, HTTPException):
        return {"fields": {}, "files": [], "refused": form.detail}
    try:
        return described(form, limit)
    finally:
        await form.close()


async def read_form(scope: Scope, body: bytes) -> FormData | HTTPException:
    async def gone() -> Message:
        return {"type": "http.disconnect"}

    try:
        return await Request(scope, replaying(body, [], gone)).form(**FORM_LIMITS)
    except HTTPException as refused:
        return refused


def described(form: FormData, limit: int) -> dict[str, Any]:
    """A form as a test wants to see it: its text fields (each cut to `limit` characters), each file described."""
    fields, files = {}, []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            files.append({"field": name, "filename": value.filename, "content_type": value.content_type,
                          "bytes": value.size})  # fmt: skip
        else:
            fields[name] = value if len(value) <= limit else value[:limit] + f"… ({len(value)} characters)"
    return {"fields": fields, "files": files}

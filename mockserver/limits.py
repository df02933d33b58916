"""The largest request body the mock reads: anything larger is answered 413 (in the service's own format)
before any of it is kept, whether its length was declared or not."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int, answer: Callable[[Scope, int], Response]) -> None:
        self.app = app
        self.limit = limit
        self.answer = answer  # the 413 of the service the path belongs to

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        try:
            if int(declared or b"0") > self.limit:
                raise TooLarge
            body, rest = await bounded_body(receive, self.limit)
        except (TooLarge, ValueError):
            await self.answer(scope, self.limit)(scope, receive, send)
            return
        await self.app(scope, replaying(body, rest), send)


async def bounded_body(receive: Receive, limit: int) -> tuple[bytes, list[Message]]:
    """The whole body, or TooLarge past `limit` bytes; and any message that came after it (a disconnect)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []


def replaying(body: bytes, rest: list[Message]) -> Receive:
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}, *rest]

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    return receive

"""The transport faults (forced.py names them): the connection broken, stalled or garbled instead of answered.

They need the connection itself, which the mock's own server (connections.py) hands every request as the ASGI
extension CONNECTION; served any other way (another ASGI server, an in-process test client) they are refused.
The faults that break an answer on its way run the endpoint first: whatever it charged is refunded, as the
answer never arrived whole (dispatch.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..state.faults import Forced

CONNECTION = "imagegen_mock.connection"
BEFORE_THE_ANSWER = frozenset({"connection-reset", "stall-before-headers", "not-http"})
NOT_HTTP = b"\x00\xff\x15\x03imagegen-mock: not HTTP\r\n\r\n"
SLOW_PIECES = 20
EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")  # a server-sent event ends with a blank line; Google's end in CRLF
GONE_SECONDS = 1.0  # how long to wait for the server to notice a connection the mock closed


def connection_of(scope: Scope) -> asyncio.Transport | None:
    return scope.get("extensions", {}).get(CONNECTION)


class Broken:
    """The ASGI answer of a transport fault: `answer` (the endpoint's, None for the faults that come before it),
    broken as the fault says; the faults that wait, wait `hold_seconds` or until the client gives up."""

    def __init__(self, forced: Forced, answer: ASGIApp | None, hold_seconds: float) -> None:
        self.fault = forced.name
        self.answer = answer
        self.hold_seconds = hold_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = connection_of(scope)
        assert connection is not None, "a transport fault is taken only where the connection is at hand"
        if self.fault == "connection-reset":
            reset(connection)
        elif self.fault == "not-http":
            connection.write(NOT_HTTP)
            connection.close()
        elif self.fault == "stall-before-headers":
            await until_gone(receive, self.hold_seconds)
            connection.close()
        else:
            assert self.answer is not None
            await self.answer(scope, receive, Breaking(self, connection, receive, send).send)
        await until_gone(receive, GONE_SECONDS)  # else the server takes the unfinished answer for the app's failure


class Breaking:
    """A `send` that breaks the answer passing through it."""

    def __init__(self, broken: Broken, connection: asyncio.Transport, receive: Receive, send: Send) -> None:
        self.fault = broken.fault
        self.hold_seconds = broken.hold_seconds
        self.connection = connection
        self.receive = receive
        self.pass_on = send
        self.streamed = False  # whether the answer is server-sent events

    async def send(self, message: Message) -> None:
        if self.connection.is_closing():
            return
        if message["type"] == "http.response.start":
            self.streamed = any(
                name == b"content-type" and value.startswith(b"text/event-stream") for name, value in message["headers"]
            )
            await self.pass_on(message)
            if self.fault == "disconnect-after-headers":
                self.connection.close()
            return
        body, more = message.get("body", b""), message.get("more_body", False)
        if self.fault == "slow-body":
            await self.trickle(body, more)
            return
        await self.pass_on({"type": "http.response.body", "body": self.first_part(body), "more_body": True})
        if self.fault == "stall-midway":
            await until_gone(self.receive, self.hold_seconds)
        self.connection.close()

    def first_part(self, body: bytes) -> bytes:
        """What arrives of a body before the break: a stall's first event, else half of it."""
        first_event = EVENT_END.search(body)
        if self.fault == "stall-midway" and self.streamed and first_event:
            return body[: first_event.end()]
        return body[: len(body) // 2]

    async def trickle(self, body: bytes, more: bool) -> None:
        size = -(-len(body) // SLOW_PIECES) or 1
        for start in range(0, len(body), size):
            await asyncio.sleep(self.hold_seconds / SLOW_PIECES)
            await self.pass_on({"type": "http.response.body", "body": body[start : start + size], "more_body": True})
        if not more:
            await self.pass_on({"type": "http.response.body", "body": b"", "more_body": False})


def reset(connection: asyncio.Transport) -> None:
    """Close the connection with a TCP RST: lingering for no time makes the close a reset."""
    connection.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.abort()


async def until_gone(receive: Receive, seconds: float) -> None:
    """Wait until the client has gone, for `seconds` at most."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass

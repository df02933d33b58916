"""A request's body, read once and whole, within the limit on its size; and a receive that hands the same
body to whoever reads it next (the handler, or Starlette's form parser).

A body larger than the limit is refused before any of it is kept, whether its length was declared or not.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope


class TooLarge(Exception):
    pass


async def read_body(scope: Scope, receive: Receive, limit: int | None) -> tuple[bytes, list[Message]]:
    """The whole body, or TooLarge past `limit` bytes (None: no limit); and any message that came after it
    (a disconnect)."""
    if limit is not None and declared_length(scope) > limit:
        raise TooLarge
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []


def declared_length(scope: Scope) -> int:
    """The Content-Length the request declares (its last, if several), 0 if none or empty."""
    declared = b"0"
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value or b"0"
    try:
        return int(declared)
    except ValueError:
        raise TooLarge from None  # no length the mock can trust


def replaying(body: bytes, rest: list[Message], receive: Receive) -> Receive:
    """A receive that gives the body read and what came after it, then passes on to `receive`."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}, *rest]

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay

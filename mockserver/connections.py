"""The connections `imagegen-mock serve` keeps: a request's head (its line and headers) has --head-timeout-seconds
to arrive, counted from the connection's opening or the end of its last answer, and at most --max-connections
are open at once; past that, the one that has waited longest for a head is closed to make room.

Without them a client that trickles its headers, or opens connections and sends nothing, holds them forever: with a
1,024 open-files limit, 1,100 such connections left the server unable to accept any other.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .pipeline.transport import CONNECTION
from .settings import Settings, SettingsError

TURNS = itertools.count()
SPARE_FILES = 64  # open files the server needs beside its connections: the store, the workers, the log


def bound_socket(host: str, port: int, shared_port: bool = False) -> socket.socket:
    """A TCP socket bound to the port (0: a free one); with `shared_port`, one every process serving the mock binds
    too (SO_REUSEPORT), so that the kernel spreads the connections across those that listen. IPPROTO_TCP, not 0:
    asyncio sets TCP_NODELAY on accepted connections only when the listening socket says TCP, and without it every
    answer waits ~40 ms for a delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared_port:
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    bound.bind((host, port))
    return bound


class ConnectionProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, handing every request its connection (the ASGI extension CONNECTION), which the
    transport faults break."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {CONNECTION: self.transport}  # type: ignore[typeddict-unknown-key]


class GuardedProtocol(ConnectionProtocol):
    head_seconds: float = 20.0
    max_connections: int = 1000

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.head_timer: asyncio.TimerHandle | None = None
        self.waiting_turn: int | None = None  # when it began to wait for a head, in order of beginning
        super().connection_made(transport)
        self.wait_for_a_head()
        # Counted without those being closed: a closed one stays in the set until its connection_lost runs.
        kept = [c for c in self.connections if not c.transport.is_closing()]
        if len(kept) > self.max_connections:
            waiting = [c for c in kept if getattr(c, "waiting_turn", None) is not None]
            oldest = min(waiting, key=lambda c: c.waiting_turn, default=self)
            oldest.transport.close()

    def on_headers_complete(self) -> None:
        self.stop_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        answered = self.cycle is None or self.cycle.response_complete  # not a pipelined request begun at once
        if answered and not self.transport.is_closing():
            self.wait_for_a_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_waiting()
        super().connection_lost(exc)

    def wait_for_a_head(self) -> None:
        self.stop_waiting()
        self.waiting_turn = next(TURNS)  # not the loop's time: connections accepted together share it
        self.head_timer = self.loop.call_later(self.head_seconds, self.transport.close)

    def stop_waiting(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
        self.head_timer = self.waiting_turn = None


def guarded_protocol(settings: Settings) -> type[HttpToolsProtocol]:
    """The HTTP protocol for uvicorn, with the settings' bounds; the open-files limit raised to fit them."""
    needed = settings.max_connections + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SettingsError(
                f"max_connections: {settings.max_connections} connections need {needed} open files, and this "
                f"process may open {hard} (ulimit -n): give a lower --max-connections"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    bounds = {"head_seconds": settings.head_timeout_seconds, "max_connections": settings.max_connections}
    return type("GuardedProtocol", (GuardedProtocol,), bounds)

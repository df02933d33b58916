"""The pipeline: every request passes here once, in this order.

1. routing (routing.py): which service the path belongs to, if any;
2. the body (body.py), read once and whole within --max-request-mib, else 413 in that service's envelope;
3. a recorded answer (replay.py), with --replay, if one matches the request;
4. the endpoint (endpoint.py): latency, forced faults, charges, the answer; a path the service does not
   have gets its 404 or 405 (or a redirect), as Starlette's router gives them;
5. the charges settled as the last of the answer goes, or refunded if it never did (a transport fault broke it);
6. the journal (journal.py): what came and what went, written with the settlement, before that last message.

The control API (/_mock/) takes only the body limit; the generated files and paths of no service go on to
the app's own routes, journalled.
"""

from __future__ import annotations

import contextlib
import time

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..state import State
from ..state.ledger import Charge
from ..state.shared import UNAVAILABLE
from ..wire.jsonio import JSONResponse
from .body import TooLarge, read_body, replaying
from .endpoint import Call, run
from .journal import Capture, record
from .replay import Recordings
from .routing import Destination, Found, Services, route_path, slash_toggled

CONTROL_PREFIX = "/_mock"


class Pipeline:
    def __init__(self, app: ASGIApp, services: Services, state: State, recordings: Recordings | None) -> None:
        self.app = app  # the control API, the files, and answers for paths of no service
        self.services = services
        self.state = state
        self.recordings = recordings
        self.limit = state.settings.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = route_path(scope)
        destination = None if path.startswith(CONTROL_PREFIX) else self.services.destination(path)
        if destination is None or destination.profile is None:  # a service's call reads them as it begins
            self.state.read_afresh()
        try:
            body, rest = await read_body(scope, receive, self.limit)
        except TooLarge:
            await too_large(destination, self.limit)(scope, receive, send)
            return
        receive = replaying(body, rest, receive)
        if destination is None:
            await self.app(scope, receive, send)
            return
        exchange = Exchange(self.state, scope, send, destination, body, started)
        try:
            await self.answer(exchange, receive)
        finally:
            await exchange.end()
            if destination.profile is not None:
                seconds = time.perf_counter() - started
                call, status = exchange.call, exchange.sent.start.get("status")
                endpoint, fault = (call.endpoint, call.fault) if call else (None, None)
                self.state.metrics.answered(destination.profile.name, endpoint, status, seconds, fault)

    async def answer(self, exchange: Exchange, receive: Receive) -> None:
        """Answer the request; the exchange keeps the call of the endpoint that answered it, if one did."""
        scope, destination, body, send = exchange.scope, exchange.destination, exchange.body, exchange.sent.send
        recorded = self.recordings.answer(scope, body) if self.recordings else None
        if recorded is not None:
            await recorded(scope, receive, send)
            return
        profile = destination.profile
        if profile is None:
            await self.app(scope, receive, send)
            return
        found = self.services.find(destination, scope["method"])
        if not isinstance(found, Found):
            await no_such_endpoint(self.services, destination, found, scope)(scope, receive, send)
            return
        if destination.prefix:  # as Starlette's Mount would see it: the prefix is part of the root
            root_path = scope.get("root_path", "")
            scope["app_root_path"] = scope.get("app_root_path", root_path)
            scope["root_path"] = root_path + destination.prefix
        scope["path_params"] = found.params
        exchange.call = call = Call(Request(scope, receive), body, self.state, profile, found.route)
        response = await run(call)
        await response(scope, receive, send)


class Exchange:
    """A request to a service and its answer, and what the answer leaves behind: the charges settled (refunded if
    it broke off) and the journal's entry. Those are written as the answer's last message goes, before it: a client
    that asks another server on the same Redis the moment its answer ends finds them there."""

    def __init__(
        self, state: State, scope: Scope, send: Send, destination: Destination, body: bytes, started: float
    ) -> None:
        self.state, self.scope, self.destination, self.body, self.started = state, scope, destination, body, started
        self.sent = Capture(send, state.settings.journal_body_kib * 1024, ending=self.leave_behind)
        self.call: Call | None = None
        self._left = False

    async def leave_behind(self) -> None:
        """Settle the charges, or refund them if the answer broke off, and journal the request."""
        self._left = True
        if self.charges:  # with a shared state, settled in the journal's round trip
            with contextlib.suppress(*UNAVAILABLE):  # left pending: never charged twice, refunded if it dies
                settle_or_refund(self.state, self.charges, self.sent.complete)
        with contextlib.suppress(*UNAVAILABLE):  # a journal in Redis cannot keep what came while it was gone
            await record(self.state, self.scope, self.destination, self.body, self.sent, self.started, self.call)

    async def end(self) -> None:
        """Once the answer is over: what it leaves behind, if its end never came; if its end came but the server
        could not take it, the charges settled are refunded (each ledger refunds a settled charge)."""
        if not self._left:
            await self.leave_behind()
        elif not self.sent.complete:
            with contextlib.suppress(*UNAVAILABLE):
                settle_or_refund(self.state, self.charges, answered=False)

    @property
    def charges(self) -> list[Charge]:
        return self.call.charges if self.call else []


def settle_or_refund(state: State, charges: list[Charge], answered: bool) -> None:
    if answered:
        state.ledger.settle(charges)
    else:
        for charge in charges:
            state.ledger.refund(charge)


def too_large(destination: Destination | None, limit: int) -> Response:
    """The 413 of the service the path belongs to (the control API's own for the rest)."""
    message = f"The request body is larger than the limit of {limit} bytes"
    if destination is None or destination.profile is None:
        return JSONResponse({"error": message}, 413)
    return destination.profile.error(413, message)


def no_such_endpoint(services: Services, destination: Destination, allowed: frozenset[str], scope: Scope) -> Response:
    """For a path the service does not have, what Starlette's router answers, in the service's envelope: 405 for a
    method its path does not take, a redirect where the path with its trailing slash toggled is one (or is the
    bare prefix, /vydra), else 404."""
    assert destination.profile is not None
    if allowed:
        message = f"Method Not Allowed: {scope['method']} {Request(scope).url.path}"
        return destination.profile.error(405, message, {"Allow": ", ".join(sorted(allowed))})
    bare = route_path(scope) == destination.prefix
    if bare or (destination.path != "/" and services.has(destination.profile, slash_toggled(destination.path))):
        return RedirectResponse(str(URL(scope={**scope, "path": slash_toggled(scope["path"])})))
    return destination.profile.error(404, f"Not Found: {scope['method']} {Request(scope).url.path}")

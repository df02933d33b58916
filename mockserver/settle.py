"""Charges become final once the client has its answer: until then a restart refunds them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .endpoints import CHARGES
from .ledger import Ledger


class SettleMiddleware:
    def __init__(self, app: ASGIApp, ledger: Ledger) -> None:
        self.app = app
        self.ledger = ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_then_settle(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body") and CHARGES in scope:
                self.ledger.settle(scope.pop(CHARGES))

        await self.app(scope, receive, send_then_settle)

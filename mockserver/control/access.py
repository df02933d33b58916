"""Who may drive the control API: a client that names this machine (or a host --allowed-hosts names), never a
browser page of another origin, and with --admin-token only who gives the token.

A web page the user happens to open can send simple POSTs to loopback, and a name it controls can be
rebound to 127.0.0.1 (DNS rebinding). The first carries its page's `Origin` (and `Sec-Fetch-Site`); the
second names its own host in `Host`. curl, the SDKs, the kit and the pytest plugin send neither, and the
dashboard is the control API's own origin.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ..wire.hosts import is_loopback
from ..wire.jsonio import JSONResponse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AdminTokenMiddleware:
    """With a token set, the control API answers only who gives it: `Authorization: Bearer <token>`,
    `X-Admin-Token: <token>`, or `?token=` (for the dashboard, which a browser opens by its URL)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token or self.given(scope):
            await self.app(scope, receive, send)
            return
        refusal = JSONResponse({"error": "the control API needs the admin token (--admin-token)"}, 401)
        await refusal(scope, receive, send)

    def given(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        offered = [headers.get(b"x-admin-token", b""), headers.get(b"authorization", b"").removeprefix(b"Bearer ")]
        offered += [v.encode() for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k == "token"]
        return any(hmac.compare_digest(candidate, self.token) for candidate in offered)


class SameOriginMiddleware:
    """Refuses, with 403, a request that names a host other than this machine's (or one of `allowed_hosts`), and
    a browser's request that would change something from a page of another origin."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self.problem(scope) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"error": problem}, 403)(scope, receive, send)

    def problem(self, scope: Scope) -> str | None:
        headers = {name: value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get(b"host", "")
        if host and not self.known(hostname(host), scope):
            return (
                f"the control API answers to this machine's names, not {hostname(host)!r}; name it in "
                "--allowed-hosts to allow it"
            )
        if scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get(b"origin")
        cross_site = headers.get(b"sec-fetch-site", "same-origin") not in ("same-origin", "none")
        if cross_site or (origin is not None and urlsplit(origin).netloc != host):
            return "the control API takes no request that would change it from a web page of another origin"
        return None

    def known(self, name: str, scope: Scope) -> bool:
        server = scope.get("server") or ("",)
        return is_loopback(name) or name == str(server[0]).lower() or name in self.allowed_hosts


def hostname(host: str) -> str:
    """The name of a Host header's value, without its port, in lower case."""
    return (urlsplit(f"//{host}").hostname or "").lower()

"""The mock server: every profile under its own prefix and at the root, the admin API, the files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from .admin import create_admin
from .endpoints import ServiceRoute, log
from .files import FILES_PREFIX
from .journal import JournalMiddleware
from .jsonio import JSONResponse
from .limits import BodyLimitMiddleware
from .profiles import PROFILES
from .recordings import ReplayMiddleware, load
from .settings import Settings
from .settle import SettleMiddleware
from .state import MIB, State

# A clock advance finishes due jobs at once; this ticker finishes them as real time passes.
TICK_SECONDS = 1.0


def create_app(settings: Settings | None = None) -> Starlette:
    state = State(settings or Settings())
    root_routes: list[tuple[BaseRoute, str]] = [
        (route, profile.name)
        for profile in PROFILES.values()
        if profile.at_root
        for route in profile.dialect.routes(profile, state)
    ]

    namespaces = {namespace(route.path): profile for route, profile in root_routes}  # type: ignore[attr-defined]

    def route_of(path: str) -> tuple[str | None, str]:
        """The profile a path belongs to, and the path as that service documents it."""
        first, _, rest = path[1:].partition("/")
        if first in PROFILES:
            return first, "/" + rest
        for route, profile in root_routes:
            if route.path_regex.match(path):  # type: ignore[attr-defined]
                return profile, path
        return namespaces.get(namespace(path)), path

    mounted = {p.name: p.dialect.routes(p, state) for p in PROFILES.values()}
    endpoints = {
        profile: {route.documented: route.faults for route in routes if isinstance(route, ServiceRoute)}
        for profile, routes in mounted.items()
    }
    app = Starlette(
        routes=[
            Mount("/_mock", app=create_admin(state, endpoints)),
            Route(FILES_PREFIX + "{name:path}", serve_file, methods=["GET"]),
            *(Mount(f"/{name}", routes=routes) for name, routes in mounted.items()),
            *(route for route, _ in root_routes),
        ],
        middleware=[
            Middleware(
                BodyLimitMiddleware, limit=int(state.settings.max_request_mib * MIB), answer=too_large(route_of)
            ),
            Middleware(JournalMiddleware, state=state, route_of=route_of),
            *(
                [Middleware(ReplayMiddleware, recordings=load(Path(state.settings.replay)))]
                if state.settings.replay
                else []
            ),
            *([Middleware(SettleMiddleware, ledger=state.ledger)] if state.store else []),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=partial(running_jobs, state),
    )
    app.state.mock = state
    return app


def too_large(route_of: Callable[[str], tuple[str | None, str]]) -> Callable[[Scope, int], Response]:
    """The 413 of the service a path belongs to (the control API's own for the rest)."""

    def answer(scope: Scope, limit: int) -> Response:
        message = f"The request body is larger than the limit of {limit} bytes"
        profile = PROFILES.get(route_of(scope["path"])[0] or "")
        return profile.error(413, message) if profile else JSONResponse({"error": message}, 413)

    return answer


def namespace(path: str) -> str:
    """The first two segments of a path, such as /api/v1: a service's own part of the root."""
    return "/".join(path.split("/")[:3])


@asynccontextmanager
async def running_jobs(state: State, app: Starlette) -> AsyncIterator[None]:
    ticker = asyncio.create_task(finish_jobs_on_time(state))
    try:
        yield
    finally:
        ticker.cancel()
        state.webhooks.clear()
        state.renderer.workers.close()
        if state.store:
            state.store.close()


async def finish_jobs_on_time(state: State) -> None:
    while True:
        due_in = state.jobs.seconds_to_next()
        await asyncio.sleep(TICK_SECONDS if due_in is None else min(TICK_SECONDS, max(0.0, due_in)))
        try:
            state.jobs.settle()
        except Exception:  # the ticker must outlive any one job
            log.exception("finishing due jobs failed")


async def serve_file(request: Request) -> Response:
    state: State = request.app.state.mock
    file = state.files.get(request.path_params["name"], state.clock.now())
    if file is None:
        return JSONResponse({"error": "File not found or expired"}, 404)
    return Response(file.content, media_type=file.media_type, headers={"Cache-Control": "public, max-age=3600"})


async def http_error(request: Request, exc: Exception) -> Response:
    """404 and 405 from routing, in the envelope of the service the path belongs to."""
    assert isinstance(exc, HTTPException)
    message = f"{exc.detail}: {request.method} {request.url.path}"
    profile = PROFILES.get(request.scope.get("imagegen.profile") or "")
    if profile is None:
        return JSONResponse({"error": message}, exc.status_code, headers=exc.headers)
    return profile.error(exc.status_code, message, exc.headers)

"""The mock server: the state, every profile's routes behind the pipeline, the control API, the files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from .control.admin import create_admin
from .dialects.profiles import PROFILES
from .pipeline.dispatch import Pipeline
from .pipeline.replay import Recordings
from .pipeline.routing import Profile, Services
from .settings import Settings
from .state import State
from .state.files import FILES_PREFIX
from .state.shared import UNAVAILABLE, unreachable
from .wire.jsonio import JSONResponse

# A clock advance finishes due jobs at once; this ticker finishes them as real time passes.
TICK_SECONDS = 1.0

log = logging.getLogger("imagegen_mock")


def create_app(settings: Settings | None = None, profiles: Mapping[str, Profile] = PROFILES) -> Starlette:
    """The mock, serving `profiles` (by default the table of dialects/profiles.py)."""
    state = State(settings or Settings())
    services = Services(profiles, state)
    recordings = Recordings(Path(state.settings.replay)) if state.settings.replay else None
    app = Starlette(
        routes=[
            Mount("/_mock", app=create_admin(state, services)),
            Route(FILES_PREFIX + "{name:path}", serve_file, methods=["GET"]),
        ],
        middleware=[Middleware(Pipeline, services=services, state=state, recordings=recordings)],
        exception_handlers={HTTPException: http_error},
        lifespan=partial(running_jobs, state),
    )
    app.state.mock = state
    return app


@asynccontextmanager
async def running_jobs(state: State, app: Starlette) -> AsyncIterator[None]:
    ticker = asyncio.create_task(finish_jobs_on_time(state))
    try:
        yield
    finally:
        ticker.cancel()
        state.close()


async def finish_jobs_on_time(state: State) -> None:
    while True:
        await asyncio.sleep(seconds_to_next_tick(state))
        try:
            state.jobs.settle()
        except UNAVAILABLE:  # the shared state is gone for now: its jobs are finished once it is back
            continue
        except Exception:  # the ticker must outlive any one job
            log.exception("finishing due jobs failed")


def seconds_to_next_tick(state: State) -> float:
    try:
        due_in = state.jobs.seconds_to_next()
    except UNAVAILABLE:
        return TICK_SECONDS
    return TICK_SECONDS if due_in is None else min(TICK_SECONDS, max(0.0, due_in))


async def serve_file(request: Request) -> Response:
    state: State = request.app.state.mock
    try:
        file = state.files.get(request.path_params["name"], state.clock.now())
    except UNAVAILABLE as gone:
        return JSONResponse({"error": unreachable(gone)}, 503)
    if file is None:
        return JSONResponse({"error": "File not found or expired"}, 404)
    return Response(file.content, media_type=file.media_type, headers={"Cache-Control": "public, max-age=3600"})


async def http_error(request: Request, exc: Exception) -> Response:
    """404 and 405 for paths of no service (those of a service get its own, from the pipeline)."""
    assert isinstance(exc, HTTPException)
    message = f"{exc.detail}: {request.method} {request.url.path}"
    return JSONResponse({"error": message}, exc.status_code, headers=exc.headers)

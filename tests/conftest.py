from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

pytest_plugins = ["pytester"]

# Loopback only: a proxy the machine's environment names must not carry the tests' requests to the mock
# (httpx and requests would send even 127.0.0.1 through it), nor those of the processes the tests start.
for variable in ("http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(variable, None)
    os.environ.pop(variable.upper(), None)

# litellm fetches its model price list from the network when imported, unless told to use the one it ships.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

# A forced 'timeout' holds a request this long in the tests, so they stay quick.
TEST_TIMEOUT_SECONDS = 0.05


@pytest.fixture(scope="session")
def test_state() -> Iterator[Callable[[int], str | None]]:
    """With IMAGEGEN_MOCK_TEST_STATE=redis, the --state of a mock on a redis-server of the tests' own, given a
    database of it for that mock alone; else None (in memory)."""
    if os.environ.get("IMAGEGEN_MOCK_TEST_STATE") != "redis":
        yield lambda database: None
        return
    from benchmarks.servers import redis_server

    with redis_server() as redis:
        yield lambda database: f"{redis.url.rsplit('/', 1)[0]}/{database}"


@pytest.fixture(scope="session")
def server(test_state) -> Iterator[BackgroundServer]:
    """The mock most tests share; with IMAGEGEN_MOCK_TEST_STATE=redis, its state kept in Redis."""
    app = create_app(Settings(timeout_seconds=TEST_TIMEOUT_SECONDS, state=test_state(0)))
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    """A client of the shared mock, which starts each test freshly reset."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/_mock/reset").raise_for_status()
        yield http


@pytest.fixture
def serve() -> Iterator[Callable[..., httpx.Client]]:
    """Start a mock with particular settings; returns a client of it."""
    with ExitStack() as stack:

        def start(**settings) -> httpx.Client:
            settings.setdefault("timeout_seconds", TEST_TIMEOUT_SECONDS)
            running = stack.enter_context(BackgroundServer(create_app(Settings(**settings))))
            return stack.enter_context(httpx.Client(base_url=running.url, timeout=30))

        yield start

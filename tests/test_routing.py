"""Routing (pipeline/routing.py) decides once which service a request's path belongs to, and answers as Starlette's
router would: below an ASGI root path too, redirecting a toggled trailing slash, in the service's envelope."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.types import Message

from mockserver import Settings, create_app

APP = create_app(Settings())


def answer(
    path: str, root_path: str = "", method: str = "GET", raw_path: bytes | None = None
) -> tuple[int, dict, dict]:
    """The app's status, headers and JSON body for one request, sent as an ASGI server sends it."""
    scope = {"type": "http", "method": method, "path": root_path + path, "root_path": root_path, "scheme": "http",
             "query_string": b"", "server": ("127.0.0.1", 8000), "headers": [(b"authorization", b"Bearer k")],
             "raw_path": raw_path or (root_path + path).encode()}  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(APP(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], headers, json.loads(body) if body else {}


@pytest.mark.parametrize("path", ["/vydra/api/v1/health", "/api/v1/health", "/_mock/health"])
def test_a_path_below_the_servers_root_path_is_routed_below_it(path):
    status, _, body = answer(path, root_path="/mock")

    assert (status, body["status"]) == (200, "ok")


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/vydra/api/v1/health/", "/vydra/api/v1/health"),
        ("/api/v1/health/", "/api/v1/health"),
        ("/google/v1beta/models/", "/google/v1beta/models"),
        ("/vydra", "/vydra/"),
    ],
)
def test_a_toggled_trailing_slash_redirects_as_starlette_does(path, location):
    status, headers, _ = answer(path)

    assert (status, headers["location"]) == (307, f"http://127.0.0.1:8000{location}")


def test_an_unknown_path_of_a_service_is_its_404_naming_the_path_as_sent():
    status, _, body = answer("/vydra/api/v1/a?b", raw_path=b"/vydra/api/v1/a%3Fb")

    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert body["error"] == "Not Found: GET /vydra/api/v1/a%3Fb"


def test_a_method_the_path_does_not_take_is_its_405_with_allow():
    status, headers, body = answer("/vydra/api/v1/health", method="DELETE")

    assert (status, headers["allow"], body["code"]) == (405, "GET, HEAD", "METHOD_NOT_ALLOWED")

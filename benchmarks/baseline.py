"""The baseline: a bare Starlette POST route on the same server settings as the mock (research/perf-baseline.md).

It parses the JSON body, checks the prompt, and answers a small JSON, as a mock with no behaviour would.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def generate(request: Request) -> JSONResponse:
    body = await request.json()
    if not isinstance(body.get("prompt"), str):
        return JSONResponse({"error": "prompt"}, 400)
    return JSONResponse({"created": 1700000000, "data": [{"url": "http://127.0.0.1/x.png", "revised_prompt": "a cat"}]})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/generate", generate, methods=["POST"]), Route("/health", health)])

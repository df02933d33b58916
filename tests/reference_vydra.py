"""A small Vydra written from seed 001 and Vydra's documentation alone, sharing no code with the mock.

The kit passes against it; so a mistake the mock and the kit share cannot hide behind the mock alone.
It keeps its accounts in a dict, draws one-colour PNGs of 64 pixels per ratio unit, and knows nothing
of faults: it is a faithful, boring service.
"""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]  # seed 001, aspectRatio
PRICE = 5  # seed 001, Cost: 5 credits per image
PER_MINUTE = 60


class Vydra:
    def __init__(self, keys: dict[str, int]) -> None:
        self.credits = dict(keys)
        self.images: dict[str, bytes] = {}
        self.requests: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1/models/gemini/generate", self.generate, methods=["POST"]),
                Route("/api/v1/organization", self.organization, methods=["GET"]),
                Route("/api/v1/account/rate-limits", self.rate_limits, methods=["GET"]),
                Route("/api/v1/models", self.models, methods=["GET"]),
                Route("/api/v1/health", self.health, methods=["GET"]),
                Route("/images/{name}", self.image, methods=["GET"]),
            ]
        )

    def key_of(self, request: Request) -> str | Response:
        header = request.headers.get("authorization")
        if header is None:
            return problem(401, "Missing Authorization header", "MISSING_AUTH")
        scheme, _, key = header.partition(" ")
        if scheme != "Bearer" or not key.strip():
            return problem(401, "Authorization must be: Bearer <api key>", "INVALID_FORMAT")
        if key.strip() not in self.credits:
            return problem(401, "Unknown API key", "KEY_NOT_FOUND")
        return key.strip()

    def counted(self, key: str, response: Response) -> Response:
        now = time.time()
        with self.lock:
            recent = [t for t in self.requests.get(key, []) if t > now - 60] + [now]
            self.requests[key] = recent
        response.headers["X-RateLimit-Limit"] = str(PER_MINUTE)
        response.headers["X-RateLimit-Remaining"] = str(max(0, PER_MINUTE - len(recent)))
        response.headers["X-RateLimit-Reset"] = str(int(recent[0] + 60))
        return response

    async def generate(self, request: Request) -> Response:
        key = self.key_of(request)
        if isinstance(key, Response):
            return key
        started = time.monotonic()
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self.counted(key, problem(400, "The body is not valid JSON", "INVALID_INPUT"))
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return self.counted(key, JSONResponse({"error": "Missing required field: prompt (string)"}, 400))
        ratio = body.get("aspectRatio", "1:1")
        if ratio not in RATIOS:
            return self.counted(key, problem(400, f"aspectRatio must be one of {', '.join(RATIOS)}", "INVALID_INPUT"))
        with self.lock:
            if self.credits[key] < PRICE:
                refusal = {
                    "error": "Insufficient credits",
                    "creditsRequired": PRICE,
                    "creditsRemaining": self.credits[key],
                }
                return self.counted(key, JSONResponse(refusal, 402))
            self.credits[key] -= PRICE
            name = f"{len(self.images)}.png"
            self.images[name] = picture(ratio)
        answer = {
            "imageUrl": f"{request.base_url}images/{name}",
            "mimeType": "image/png",
            "creditsCharged": PRICE,
            "durationMs": round((time.monotonic() - started) * 1000),
        }
        return self.counted(key, JSONResponse(answer))

    async def organization(self, request: Request) -> Response:
        key = self.key_of(request)
        if isinstance(key, Response):
            return key
        stamp = datetime.now(UTC).isoformat()
        org = {"id": "org_1", "name": "Reference", "plan": "creator", "creditsRemaining": self.credits[key],
               "createdAt": stamp, "updatedAt": stamp}  # fmt: skip
        return self.counted(key, JSONResponse(org))

    async def rate_limits(self, request: Request) -> Response:
        key = self.key_of(request)
        if isinstance(key, Response):
            return key
        used = len(self.requests.get(key, []))
        window = {"used": used, "limit": PER_MINUTE}
        body = {
            "plan": "creator",
            "limits": {"rpm": PER_MINUTE, "rph": 1500, "rpd": 20000, "concurrent": 10},
            "usage": {"minute": window, "hour": {"used": used, "limit": 1500}, "day": {"used": used, "limit": 20000}},
            "timestamp": datetime.now(UTC).isoformat(),
        }
        return self.counted(key, JSONResponse(body))

    async def models(self, request: Request) -> Response:
        key = self.key_of(request)
        if isinstance(key, Response):
            return key
        active = request.query_params.get("isActive")
        if active not in (None, "true", "false"):
            return self.counted(key, problem(400, "isActive is true or false", "INVALID_INPUT"))
        model = {"slug": "gemini-image-generate", "name": "Gemini 2.0 Flash", "provider": "google",
                 "modelId": "gemini-2.0-flash-exp-image-generation", "creditsPerUnit": PRICE, "pricingUnit": "image",
                 "isActive": True}  # fmt: skip
        listed = [model] if active != "false" and request.query_params.get("provider", "google") == "google" else []
        return self.counted(key, JSONResponse({"data": listed, "count": len(listed)}))

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def image(self, request: Request) -> Response:
        content = self.images.get(request.path_params["name"])
        return Response(content, media_type="image/png") if content else problem(404, "No such image", "NOT_FOUND")


def problem(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code, "details": {}}, status)


def picture(ratio: str) -> bytes:
    width, height = (int(side) * 64 for side in ratio.split(":"))
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 200)).save(out, "PNG")
    return out.getvalue()

"""How new-api (QuantumNous/new-api, the gateway behind vastnum) speaks around the Gemini API it relays: its request
ids, its envelope for what Google answered, its 404 for a route it lacks, and its lists of models. Sources: the
repository as mirrored in zyqfork/new-api (2026-08), cited function by function (research/fidelity.md V1-V9).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.responses import Response

from ..pipeline.endpoint import Call
from ..wire.jsonio import JSONResponse, parse_json

MODEL_CREATED = 1626777600  # the `created` it gives every model in OpenAI's list (controller/model.go)


def request_id(call: Call) -> str:
    """Its id of the request, one per request (common/utils.go: GetTimeString, the time to the second and its
    nanoseconds, then GetRandomString(8)), such as 20250419005218728504438sobUtpYO."""
    held = getattr(call.request.state, "new_api_id", None)
    if held is None:
        now = call.state.clock.now()
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
        held = call.request.state.new_api_id = f"{stamp}{int(now * 1e9) % 10**9}{call.state.ids.hex(8)}"
    return held


def invalid_url(request_line: str) -> Response:
    """Its answer to a path (or a method) it has no route for: Gin's NoRoute, relay.RelayNotFound."""
    error = {"message": f"Invalid URL ({request_line})", "type": "invalid_request_error", "param": "", "code": ""}
    return JSONResponse({"error": error}, 404)


def relayed(call: Call, response: Response) -> Response:
    """An error Google answered, as new-api hands it on: parsed as an OpenAI error (service/error.go,
    RelayErrorHandler: Google's numeric code kept, its status and details dropped), typed upstream_error
    (types/error.go, WithOpenAIError), its message masked and naming the request (controller/relay.go). The HTTP
    status stays Google's. Any other answer passes as it is."""
    error = google_error_of(response)
    if error is None:
        return response
    message = f"{masked(error['message'])} (request id: {request_id(call)})"
    body = {"message": message, "type": "upstream_error", "param": "", "code": error["code"]}
    return JSONResponse({"error": body}, response.status_code)


def google_error_of(response: Response) -> dict[str, Any] | None:
    if response.status_code < 400 or response.media_type != "application/json":
        return None
    error = parse_json(response.body).get("error")
    return error if isinstance(error, dict) and "status" in error else None


# common/str.go (MaskSensitiveInfo): what an error's message must not show of the upstream.
URL = re.compile(r"(http|https)://[^\s/$.?#].[^\s]*")
DOMAIN = re.compile(r"\b(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}\b")
IP = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


def masked(text: str) -> str:
    """URLs down to their scheme, the domain's last label and one *** a path segment or query value; other
    domains down to their last label; IP addresses to ***.***.***.***."""
    text = URL.sub(lambda found: masked_url(found.group()), text)
    text = DOMAIN.sub(lambda found: masked_domain(found.group()), text)
    return IP.sub("***.***.***.***", text)


def masked_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    labels = parts.netloc.split(".")
    masked = f"{parts.scheme}://" + ("***." + ".".join(tail_of(labels)) if len(labels) > 1 else "***")
    if parts.path == "/":
        masked += "/"
    elif parts.path:
        masked += "/" + "/".join("***" if segment else "" for segment in parts.path.strip("/").split("/"))
    if parts.query:
        masked += "?" + "&".join(f"{name}=***" for name in dict(parse_qsl(parts.query, keep_blank_values=True)))
    return masked


def masked_domain(domain: str) -> str:
    labels = domain.split(".")
    tail = tail_of(labels)
    return ".".join(["***"] * max(1, len(labels) - len(tail)) + tail)


def tail_of(labels: list[str]) -> list[str]:
    """What of a domain stays: its last label, or two for a country's second level (co.uk)."""
    if len(labels) >= 2 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return labels[-2:]
    return labels[-1:]


# Its lists of models (controller/model.go, ListModels): of the same names, in the format the caller speaks.


def gemini_models(names: Iterable[str]) -> dict[str, Any]:
    """Gemini's format: each model by its bare name, displayName the same, every other field of
    relaykit/dto/pricing.go's GeminiModel null, and no paging."""
    empty = ("baseModelId", "version", "description", "inputTokenLimit", "outputTokenLimit",
             "supportedGenerationMethods", "thinking", "temperature", "maxTemperature", "topP", "topK")  # fmt: skip
    models = [{"name": name, "displayName": name} | dict.fromkeys(empty) for name in names]
    return {"models": models, "nextPageToken": None}


def openai_models(names: Iterable[str]) -> dict[str, Any]:
    data = [{"id": name, "object": "model", "created": MODEL_CREATED, "owned_by": "custom"} for name in names]
    return {"success": True, "data": data, "object": "list"}

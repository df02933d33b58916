"""The official openai SDK for Node (npm), unchanged but for its base URL, against the openai and azure profiles:
what the Python SDK's tests prove, seen by the other official client. It runs where tests/node's packages are
installed (`npm ci --prefix tests/node`, as .ci/run does); elsewhere it is skipped."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import contracts
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

NODE = Path(__file__).parent / "node"
KEY, POOR = "sk-node-sdk-test-key-0001", "sk-node-sdk-no-credits-01"
CREDITS = 100_000
MODELS = contracts.models("openai")

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE / "node_modules" / "openai").is_dir(),
    reason="the Node packages of tests/node are not installed (npm ci --prefix tests/node)",
)


def png(width: int, height: int, alpha: int = 255) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (20, 40, 160, alpha)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    for name, image in {"tall.png": png(64, 96), "wide.png": png(96, 64), "square.png": png(256, 256),
                        "mask.png": png(256, 256, alpha=0)}.items():  # fmt: skip
        (folder / name).write_bytes(image)
    return folder


@pytest.fixture(scope="module")
def mock() -> BackgroundServer:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: CREDITS, POOR: 0}))) as server:
        yield server


def run(server: BackgroundServer, inputs: Path, *cases: str) -> dict[str, Any]:
    done = subprocess.run(["node", str(NODE / "openai_images.mjs"), server.url, KEY, POOR, str(inputs), *cases],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(done.stdout)


def spent(server: BackgroundServer, during) -> int:
    before = httpx.get(f"{server.url}/_mock/accounts/{KEY}").json()["credits"]
    during()
    return before - httpx.get(f"{server.url}/_mock/accounts/{KEY}").json()["credits"]


def test_generations_edits_and_variations_answer_what_the_sdk_reads(mock, inputs):
    seen = run(mock, inputs, "generate", "url", "edit", "editSeveral", "editMasked", "variations")

    assert seen["generate"] == {"size": [1536, 1024], "outputTokens": MODELS["gpt-image-1-mini"]["image_tokens"][
        "low"]["1536x1024"]}  # fmt: skip
    assert seen["url"] == {"size": [1792, 1024], "revised": "string"}
    assert seen["edit"] == {"size": [1024, 1536]}  # auto: the size nearest the input's shape
    assert seen["editSeveral"]["size"] == [1536, 1024]  # the first input's shape
    assert seen["editSeveral"]["inputTokens"] > 0
    assert seen["editMasked"] == {"size": [256, 256]}
    assert seen["variations"] == {"sizes": [[256, 256], [256, 256]]}


def test_a_generation_costs_openais_price_for_its_model_size_and_quality(mock, inputs):
    cost = spent(mock, lambda: run(mock, inputs, "generate"))

    assert cost == MODELS["gpt-image-1-mini"]["price"]["low"]["1536x1024"]


def test_streams_of_images_and_of_the_responses_tool_are_the_events_the_sdk_iterates(mock, inputs):
    seen = run(mock, inputs, "stream", "responses", "responsesStream", "failedMidStream")

    assert seen["stream"]["events"] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert seen["responses"] == {"type": "image_generation_call", "status": "completed", "size": [1024, 1536]}
    assert seen["responsesStream"]["events"] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.image_generation_call.in_progress", "response.image_generation_call.generating",
        "response.image_generation_call.partial_image", "response.image_generation_call.completed",
        "response.output_item.done", "response.completed",
    ]  # fmt: skip
    # the SDK raises on the stream's error event, before any completed one
    assert (seen["failedMidStream"]["raised"], seen["failedMidStream"]["code"]) == ("APIError", "moderation_blocked")


def test_azure_openai_and_the_raw_response_headers(mock, inputs):
    seen = run(mock, inputs, "azure", "rawHeaders")

    assert seen["azure"] == {"size": [1024, 1024]}
    assert seen["rawHeaders"]["requestID"].startswith("req_")
    assert seen["rawHeaders"]["took"].isdigit() and seen["rawHeaders"]["images"] == 1


def test_every_refusal_is_the_error_class_the_sdk_maps_its_status_to(mock, inputs):
    seen = run(mock, inputs, "unknownKey", "noCredits", "badRequest", "moderated", "rateLimited", "serverError")
    shown = {case: (error["raised"], error["status"], error["code"]) for case, error in seen.items()}

    assert shown == {
        "unknownKey": ("AuthenticationError", 401, "invalid_api_key"),
        "noCredits": ("RateLimitError", 429, "insufficient_quota"),
        "badRequest": ("BadRequestError", 400, "invalid_value"),
        "moderated": ("BadRequestError", 400, "moderation_blocked"),
        "rateLimited": ("RateLimitError", 429, "rate_limit_exceeded"),
        "serverError": ("InternalServerError", 500, None),
    }
    assert seen["badRequest"]["param"] == "size"
    assert all(error["requestID"].startswith("req_") for error in seen.values())


# Its retries (openai/client.js: shouldRetry, retryRequest, calculateDefaultRetryTimeoutMillis), with its default of
# two, each wait it asks for recorded by openai_retries.mjs instead of waited.


def retried(server: BackgroundServer, *faults: dict[str, Any]) -> dict[str, Any]:
    """What one generation through the queued `faults` came to, and the waits the SDK asked for."""
    httpx.post(f"{server.url}/_mock/reset").raise_for_status()
    httpx.put(f"{server.url}/_mock/accounts/{KEY}", json={"credits": CREDITS}).raise_for_status()
    for fault in faults:
        httpx.post(f"{server.url}/_mock/faults", json={"profile": "openai", **fault}).raise_for_status()
    done = subprocess.run(["node", str(NODE / "openai_retries.mjs"), server.url, KEY],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return json.loads(done.stdout)


def sent(server: BackgroundServer) -> list[dict[str, Any]]:
    return httpx.get(f"{server.url}/_mock/requests", params={"path": "/v1/images/generations"}).json()["requests"]


@pytest.mark.parametrize("fault", ["connection-reset", "stall-before-headers", "not-http"])
def test_node_retries_a_broken_connection_twice_on_its_own_backoff(mock, fault):
    seen = retried(mock, {"fault": fault, "times": 2, "seconds": 0.05})

    assert seen["images"] == 1
    first, second = seen["waits"]
    assert 375 <= first <= 500 and 750 <= second <= 1000  # 0.5 s, then 1 s, less up to a quarter of jitter
    assert [entry["headers"]["x-stainless-retry-count"] for entry in sent(mock)] == ["0", "1", "2"]


def test_node_waits_any_retry_after_even_minutes_unlike_python(mock):
    """openai-python gives up on a wait over two minutes; the Node SDK waits it out."""
    seen = retried(mock, {"fault": "rate-limit", "retry_after": 300})

    assert (seen["images"], seen["waits"]) == (1, [300_000])


def test_node_retries_insufficient_quota_as_any_429(mock):
    seen = retried(mock, {"fault": "insufficient-credits", "retry_after": 0.01})

    assert (seen["images"], seen["waits"]) == (1, [10])


def test_node_waits_until_the_date_a_retry_after_names(mock):
    seen = retried(mock, {"fault": "rate-limit", "retry_after": 2, "retry_after_as": "http-date"})

    [wait] = seen["waits"]
    assert 1900 < wait <= 3000  # until the second the date names begins: 2 s, rounded up to a whole second


@pytest.mark.parametrize("fault", ["disconnect-after-headers", "truncated-body"])
def test_node_does_not_retry_an_answer_that_breaks_after_its_headers(mock, fault):
    """The status was read and accepted before the body broke: fetch's TypeError reaches the caller unwrapped."""
    seen = retried(mock, {"fault": fault})

    assert (seen["raised"], seen["message"], seen["waits"]) == ("TypeError", "terminated", [])
    [entry] = sent(mock)
    assert (entry["fault"], entry["charged"]) == (fault, 0)

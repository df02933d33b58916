"""The Vercel AI SDK's google.image() (Node), unchanged but for its base URL: Imagen's predict and a Gemini image
model's generateContent. It runs where tests/node's packages are installed (`npm ci --prefix tests/node`, as
.ci/run does); elsewhere it is skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver import create_app
from mockserver.background import BackgroundServer
from mockserver.settings import Settings

NODE = Path(__file__).parent / "node"
KEY = "vercel-key"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE / "node_modules" / "ai").is_dir(),
    reason="the Node packages of tests/node are not installed (npm ci --prefix tests/node)",
)


@pytest.fixture(scope="module")
def google_url() -> Iterator[str]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: 10_000}))) as server:
        yield f"{server.url}/google/v1beta"


def generate_images(base_url: str, key: str, *asks: str) -> list[dict]:
    """Each ask is model,n,aspectRatio; the script's JSON, one result an ask."""
    done = subprocess.run(["node", str(NODE / "google_image.mjs"), base_url, key, *asks],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return json.loads(done.stdout)


def test_google_image_draws_with_imagen_and_with_gemini(google_url):
    imagen, gemini = generate_images(google_url, KEY, "imagen-4.0-generate-001,2,16:9", "gemini-2.5-flash-image,1,3:2")

    assert imagen["images"] == [{"mediaType": "image/png", "size": [1408, 768]}] * 2
    assert gemini["images"] == [{"mediaType": "image/png", "size": [1248, 832]}]


def test_google_image_reads_google_s_errors(google_url):
    [unknown_model] = generate_images(google_url, KEY, "imagen-9,1,1:1")
    [unknown_key] = generate_images(google_url, "stranger", "imagen-4.0-generate-001,1,1:1")

    assert unknown_model["status"] == 404 and "models/imagen-9 is not found" in unknown_model["error"]
    assert unknown_key["status"] == 400 and unknown_key["error"] == "API key not valid. Please pass a valid API key."

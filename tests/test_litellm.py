"""litellm, as its users call Imagen through it (`gemini/imagen-*`), pointed at a served mock unchanged but for
its base URL."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import litellm
import pytest
from PIL import Image

from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "litellm-key"


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: 1_000}))) as server:
        yield server.url


def imagen(mock_url: str, **options) -> object:
    return litellm.image_generation(
        model="gemini/imagen-4.0-generate-001", prompt="a fox", api_base=f"{mock_url}/v1beta", api_key=KEY, **options
    )


def test_image_generation_gets_n_images_at_imagens_size_and_pays_for_each(mock_url):
    before = httpx.get(f"{mock_url}/_mock/accounts/{KEY}").json()["credits"]
    response = imagen(mock_url, n=3)

    sizes = [Image.open(io.BytesIO(base64.b64decode(image.b64_json))).size for image in response.data]
    assert sizes == [(1024, 1024)] * 3
    assert httpx.get(f"{mock_url}/_mock/accounts/{KEY}").json()["credits"] == before - 3 * 4
    (sent,) = httpx.get(f"{mock_url}/_mock/requests", params={"limit": 1}).json()["requests"]
    assert sent["path"] == "/v1beta/models/imagen-4.0-generate-001:predict"
    assert sent["body"] == {"instances": [{"prompt": "a fox"}], "parameters": {"sampleCount": 3}}


def test_a_forced_rate_limit_is_litellms_rate_limit_error(mock_url):
    fault = {"profile": "gemini", "fault": "rate-limit", "times": 1}
    httpx.post(f"{mock_url}/_mock/faults", json=fault).raise_for_status()

    with pytest.raises(litellm.RateLimitError):
        imagen(mock_url, num_retries=0)

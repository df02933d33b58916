"""The official openai SDK, pointed at a served mock's /v1: generations, edits with files and masks, errors."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import openai
import pytest
from PIL import Image

import contracts
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "openai-sdk-test-key"
MODEL = "gemini-2.5-flash-image"


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: 10_000}))) as server:
        yield server.url


def sdk(mock_url: str, key: str = KEY, **options) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{mock_url}/v1", max_retries=0, **options)


def decoded(item) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(item.b64_json)))


def png(size=(300, 200), colour=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_generate_three_images(mock_url):
    answer = sdk(mock_url).images.generate(model=MODEL, prompt="a red fox in the snow", n=3, size="1536x1024")

    images = [decoded(item) for item in answer.data]
    assert [(image.format, image.size) for image in images] == [("PNG", (1248, 832))] * 3
    assert len({item.b64_json for item in answer.data}) == 3
    assert {item.revised_prompt for item in answer.data} == {"a red fox in the snow"}


def test_edit_one_file(mock_url):
    answer = sdk(mock_url).images.edit(model=MODEL, image=("in.png", png(), "image/png"), prompt="add a hat", n=2)

    assert [decoded(item).size for item in answer.data] == [(1248, 832)] * 2


def test_edit_a_list_of_files(mock_url):
    files = [("a.png", png((200, 300)), "image/png"), ("b.png", png(), "image/png")]

    answer = sdk(mock_url).images.edit(model=MODEL, image=files, prompt="put them together")

    assert [decoded(item).size for item in answer.data] == [(832, 1248)]  # the first image's shape


def test_edit_with_a_mask_changes_only_the_masked_region(mock_url, tmp_path):
    source = tmp_path / "room.png"
    source.write_bytes(png((1024, 1024), (200, 40, 40)))
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 1024, 300))  # the top may change
    mask.save(tmp_path / "mask.png")

    with source.open("rb") as image, (tmp_path / "mask.png").open("rb") as mask_file:
        answer = sdk(mock_url).images.edit(model=MODEL, image=image, mask=mask_file, prompt="a window at the top")

    edited = decoded(answer.data[0]).convert("RGB")
    assert edited.getpixel((512, 700)) == (200, 40, 40)
    assert edited.getpixel((512, 100)) != (200, 40, 40)


def test_a_rejected_request_is_the_sdks_bad_request_error(mock_url):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk(mock_url).images.generate(model=MODEL, prompt="a fox", response_format="url")

    assert raised.value.status_code == 400
    assert (
        raised.value.body["message"]
        == 'Invalid request parameters: response_format: Invalid literal value, expected "b64_json"'
    )
    assert raised.value.type == "invalid_request_error"


def test_an_unknown_key_is_the_sdks_authentication_error(mock_url):
    with pytest.raises(openai.AuthenticationError) as raised:
        sdk(mock_url, key="nobody").images.generate(model=MODEL, prompt="a fox")

    assert (raised.value.status_code, raised.value.code) == (401, "invalid_api_key")
    assert raised.value.body["message"].startswith("Unauthorized: Invalid LLMGateway API token.")


def test_a_forced_rate_limit_is_the_sdks_rate_limit_error(mock_url):
    client = sdk(mock_url, default_headers={"X-Mock-Fault": "rate-limit"})

    with pytest.raises(openai.RateLimitError) as raised:
        client.images.generate(model=MODEL, prompt="a fox")

    assert raised.value.response.headers["retry-after"] == "12"


def test_models_list_gives_the_gateways_models(mock_url):
    gateway = openai.OpenAI(api_key=KEY, base_url=f"{mock_url}/llmgateway/v1")
    listed = {model.id: model for model in gateway.models.list()}

    assert set(listed) == set(contracts.models("llmgateway"))
    assert "image" in listed["gemini-2.5-flash-image"].architecture["output_modalities"]


def test_models_list_at_the_root_is_openais_format_of_the_roots_models(mock_url):
    root = openai.OpenAI(api_key=KEY, base_url=f"{mock_url}/v1")
    listed = [model.id for model in root.models.list()]

    assert set(listed) == set(contracts.models("gemini"))

"""The official google-genai SDK, pointed at a served mock: images, streaming, listing and errors."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "sdk-test-key"


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: 10_000}))) as server:
        yield server.url


def sdk(base_url: str, key: str = KEY, **options) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url, **options))


@pytest.mark.parametrize(("model", "config", "size"), [
    ("gemini-2.5-flash-image", types.ImageConfig(aspect_ratio="16:9"), (1344, 768)),
    ("gemini-3-pro-image-preview", types.ImageConfig(aspect_ratio="2:3", image_size="2K"), (1696, 2528)),
])  # fmt: skip
def test_generate_content_returns_an_image_the_sdk_decodes_at_the_exact_size(mock_url, model, config, size):
    client = sdk(mock_url)  # held: the SDK closes its connections when the client object goes
    response = client.models.generate_content(
        model=model,
        contents="a red fox in the snow",
        config=types.GenerateContentConfig(response_modalities=["IMAGE"], image_config=config),
    )

    [part] = response.candidates[0].content.parts
    assert part.inline_data.mime_type == "image/png"
    assert Image.open(io.BytesIO(part.inline_data.data)).size == size
    usage = response.usage_metadata
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + (usage.thoughts_token_count or 0)
    )
    assert bool(usage.thoughts_token_count) == model.startswith("gemini-3")  # 3 Pro Image thinks


def test_the_strict_profile_takes_every_field_the_sdk_sends_at_the_root(mock_url):
    """service_tier goes to the request's root (models.py, _GenerateContentConfig_to_mldev), beside
    systemInstruction, safetySettings, tools and toolConfig."""
    client = sdk(f"{mock_url}/google")
    response = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents="a red fox in the snow",
        config=types.GenerateContentConfig(
            service_tier="flex",
            system_instruction="draw plainly",
            safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HATE_SPEECH", threshold="BLOCK_NONE")],
            response_modalities=["TEXT"],
        ),
    )

    assert response.text


def test_an_edit_sent_as_the_sdk_sends_an_image(mock_url):
    source = io.BytesIO()
    Image.new("RGB", (300, 400), (10, 20, 200)).save(source, "PNG")

    client = sdk(mock_url)
    response = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents=[types.Part.from_bytes(data=source.getvalue(), mime_type="image/png"), "make it brighter"],
    )

    images = [p for p in response.candidates[0].content.parts if p.inline_data]
    assert Image.open(io.BytesIO(images[0].inline_data.data)).size == (864, 1184)  # 3:4, the input's shape
    assert response.text.startswith("Here is the edited image")


def test_streaming_yields_the_text_then_the_image(mock_url):
    client = sdk(mock_url)
    chunks = list(
        client.models.generate_content_stream(model="gemini-2.5-flash-image", contents="a lighthouse at dusk")
    )

    assert chunks[0].text.startswith("Here is your image")
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].candidates[0].content.parts[0].inline_data.mime_type == "image/png"


def test_imagen_draws_what_generate_images_asks_for(mock_url):
    client = sdk(mock_url)
    config = types.GenerateImagesConfig(
        number_of_images=2, aspect_ratio="16:9", image_size="2K", output_mime_type="image/jpeg"
    )
    response = client.models.generate_images(model="imagen-4.0-generate-001", prompt="a lighthouse", config=config)

    images = [Image.open(io.BytesIO(generated.image.image_bytes)) for generated in response.generated_images]
    assert [(image.format, image.size) for image in images] == [("JPEG", (2816, 1536))] * 2
    assert {generated.image.mime_type for generated in response.generated_images} == {"image/jpeg"}


def test_imagen_images_kept_back_are_named_with_their_reason(mock_url):
    client = sdk(mock_url, headers={"X-Mock-Fault": "content-policy"})
    config = types.GenerateImagesConfig(number_of_images=1, include_rai_reason=True)
    response = client.models.generate_images(model="imagen-4.0-fast-generate-001", prompt="x", config=config)

    (kept_back,) = response.generated_images
    assert kept_back.image.image_bytes is None and "filtered" in kept_back.rai_filtered_reason


def test_count_tokens_counts_the_prompt_as_generate_content_does(mock_url):
    client = sdk(mock_url)
    prompt = "a red fox in the snow, " * 10
    counted = client.models.count_tokens(model="gemini-2.5-flash-image", contents=prompt)
    generated = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents=prompt,
        config=types.GenerateContentConfig(response_modalities=["TEXT"]),
    )

    assert counted.total_tokens == generated.usage_metadata.prompt_token_count > 0


def test_the_sdk_lists_every_model_through_the_pages(mock_url):
    client = sdk(mock_url)
    names = [model.name for model in client.models.list(config={"page_size": 2})]

    assert {"models/gemini-3-pro-image-preview", "models/imagen-4.0-generate-001"} <= set(names)
    assert len(names) == len(set(names)) == 10


def test_an_unknown_model_is_the_sdks_404(mock_url):
    client = sdk(mock_url)
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model="gemini-9-ultra", contents="x")

    assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")


def test_an_unknown_key_is_the_sdks_400_with_googles_reason(mock_url):
    client = sdk(f"{mock_url}/google", key="nobody", api_version="v1beta")

    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model="gemini-2.5-flash-image", contents="x")

    assert (raised.value.code, raised.value.status) == (400, "INVALID_ARGUMENT")
    assert raised.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_a_forced_outage_is_the_sdks_server_error(mock_url):
    client = sdk(mock_url, headers={"X-Mock-Fault": "overloaded"}, retry_options=types.HttpRetryOptions(attempts=1))

    with pytest.raises(errors.ServerError) as raised:
        client.models.generate_content(model="gemini-2.5-flash-image", contents="x")

    assert (raised.value.code, raised.value.status) == (503, "UNAVAILABLE")

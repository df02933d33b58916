"""Images through chat completions, as LLM Gateway (beside the text) and Crazyrouter (Markdown in the content) serve
them: driven by the official openai SDK and by litellm's `completion`, unchanged but for the base URL."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator

import httpx
import litellm
import openai
import pytest
from PIL import Image

from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "chat-images-key"
FLASH = "gemini-2.5-flash-image"
PROMPT = [{"role": "user", "content": "a lighthouse at dusk"}]
MARKDOWN_IMAGE = re.compile(r"!\[image\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")
LLM_GATEWAY, CRAZYROUTER = "/v1", "/crazyrouter/v1"


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: 0}))) as server:
        yield server.url


@pytest.fixture(autouse=True)
def funded(mock_url: str) -> None:
    httpx.put(f"{mock_url}/_mock/accounts/{KEY}", json={"credits": 1000}).raise_for_status()


def sdk(mock_url: str, service: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{mock_url}{service}", max_retries=0)


def credits(mock_url: str) -> int:
    return httpx.get(f"{mock_url}/_mock/accounts/{KEY}").json()["credits"]


def force(mock_url: str, profile: str, fault: str) -> None:
    httpx.post(f"{mock_url}/_mock/faults", json={"profile": profile, "fault": fault}).raise_for_status()


def image_of(data_url: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix) :])))


def png_url(size: tuple[int, int]) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


# LLM Gateway: the image beside the text, on message.images.


def test_llm_gateway_answers_the_image_beside_the_text_and_charges_the_images_price(mock_url):
    answer = sdk(mock_url, LLM_GATEWAY).chat.completions.create(model=FLASH, messages=PROMPT)

    message = answer.choices[0].message
    (image,) = message.images
    assert image["type"] == "image_url"
    assert image_of(image["image_url"]["url"]).size == (1024, 1024)
    assert message.content == "Here is your image: a lighthouse at dusk"
    assert answer.model == f"google-ai-studio/{FLASH}" and answer.id.startswith("chatcmpl-")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.metadata["requested_model"] == FLASH
    assert credits(mock_url) == 1000 - 4


def test_llm_gateway_reads_image_config_and_edits_the_image_url_it_is_given(mock_url):
    client = sdk(mock_url, LLM_GATEWAY)
    wide = client.chat.completions.create(
        model=FLASH, messages=PROMPT, extra_body={"image_config": {"aspect_ratio": "16:9"}}
    )
    parts = [{"type": "text", "text": "add a hat"}, {"type": "image_url", "image_url": {"url": png_url((300, 200))}}]
    edit = [{"role": "user", "content": parts}]
    edited = client.chat.completions.create(model=FLASH, messages=edit)

    assert image_of(wide.choices[0].message.images[0]["image_url"]["url"]).size == (1344, 768)
    assert image_of(edited.choices[0].message.images[0]["image_url"]["url"]).size == (1248, 832)  # its 3:2 kept
    assert edited.choices[0].message.content == "Here is the edited image: add a hat"


def test_llm_gateway_streams_the_text_then_the_image_then_the_finish_and_done(mock_url):
    chunks = list(sdk(mock_url, LLM_GATEWAY).chat.completions.create(model=FLASH, messages=PROMPT, stream=True))

    assert [chunk.object for chunk in chunks] == ["chat.completion.chunk"] * 3
    assert chunks[0].choices[0].delta.content == "Here is your image: a lighthouse at dusk"
    assert image_of(chunks[1].choices[0].delta.images[0]["image_url"]["url"]).size == (1024, 1024)
    assert [chunk.choices[0].finish_reason for chunk in chunks] == [None, None, "stop"]
    assert chunks[-1].usage.completion_tokens > 1000 and chunks[0].usage is None
    raw = httpx.post(f"{mock_url}/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                     json={"model": FLASH, "messages": PROMPT, "stream": True})  # fmt: skip
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")


def test_llm_gateway_a_text_model_answers_text_at_its_text_price(mock_url):
    answer = sdk(mock_url, LLM_GATEWAY).chat.completions.create(model="gpt-4o-mini", messages=PROMPT)

    assert answer.choices[0].message.content == "(mock) You asked: a lighthouse at dusk"
    assert getattr(answer.choices[0].message, "images", None) is None
    assert answer.model == "openai/gpt-4o-mini"
    assert credits(mock_url) == 1000 - 1


def test_llm_gateway_a_filtered_prompt_finishes_content_filter_and_costs_nothing(mock_url):
    force(mock_url, "llmgateway", "content-policy")

    answer = sdk(mock_url, LLM_GATEWAY).chat.completions.create(model=FLASH, messages=PROMPT)

    assert answer.choices[0].finish_reason == "content_filter"
    assert answer.choices[0].message.content is None
    assert getattr(answer.choices[0].message, "images", None) is None
    assert credits(mock_url) == 1000


def test_llm_gateway_refuses_in_its_own_words_and_charges_nothing(mock_url):
    client = sdk(mock_url, LLM_GATEWAY)
    with pytest.raises(openai.BadRequestError, match="Invalid request parameters: messages: Required"):
        client.chat.completions.create(model=FLASH, messages=None)
    with pytest.raises(openai.BadRequestError, match="Requested model gpt-9 not supported"):
        client.chat.completions.create(model="gpt-9", messages=PROMPT)
    with pytest.raises(openai.AuthenticationError):
        sdk(mock_url, LLM_GATEWAY, key="not-a-key").chat.completions.create(model=FLASH, messages=PROMPT)
    httpx.put(f"{mock_url}/_mock/accounts/{KEY}", json={"credits": 3}).raise_for_status()
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model=FLASH, messages=PROMPT)
    assert refused.value.status_code == 402 and refused.value.code == "billing_error"
    assert credits(mock_url) == 3


# Crazyrouter: the image as Markdown in the content.


def test_crazyrouter_answers_the_image_as_markdown_after_the_text(mock_url):
    answer = sdk(mock_url, CRAZYROUTER).chat.completions.create(model=FLASH, messages=PROMPT)

    content = answer.choices[0].message.content
    text, image = content.split("\n")
    assert text == "Here is your image: a lighthouse at dusk"
    (data,) = MARKDOWN_IMAGE.fullmatch(image).groups()
    assert Image.open(io.BytesIO(base64.b64decode(data))).size == (1024, 1024)
    assert answer.model == FLASH and answer.choices[0].finish_reason == "stop"
    assert credits(mock_url) == 1000 - 2  # as generateContent: a credit per started thousand tokens


def test_crazyrouter_streams_the_same_content_in_pieces(mock_url):
    client = sdk(mock_url, CRAZYROUTER)
    whole = client.chat.completions.create(model=FLASH, messages=PROMPT).choices[0].message.content

    chunks = list(client.chat.completions.create(model=FLASH, messages=PROMPT, stream=True))

    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == whole
    assert len(chunks) == 3 and chunks[-1].choices[0].finish_reason == "stop"


def test_crazyrouter_blocked_image_finishes_content_filter(mock_url):
    force(mock_url, "crazyrouter", "content-policy")

    answer = sdk(mock_url, CRAZYROUTER).chat.completions.create(model=FLASH, messages=PROMPT)

    assert answer.choices[0].finish_reason == "content_filter"
    assert "![image]" not in answer.choices[0].message.content


def test_crazyrouter_refuses_in_its_own_envelope(mock_url):
    client = sdk(mock_url, CRAZYROUTER)
    with pytest.raises(openai.AuthenticationError) as unknown_key:
        sdk(mock_url, CRAZYROUTER, key="nobody").chat.completions.create(model=FLASH, messages=PROMPT)
    with pytest.raises(openai.NotFoundError) as unknown_model:
        client.chat.completions.create(model="gemini-9", messages=PROMPT)
    with pytest.raises(openai.BadRequestError) as no_messages:
        client.chat.completions.create(model=FLASH, messages=[])

    assert unknown_key.value.body == {"message": "Invalid API key", "type": "authentication_error",
                                      "code": "invalid_api_key"}  # fmt: skip
    assert unknown_model.value.status_code == 404 and unknown_model.value.code == "model_not_found"
    assert no_messages.value.body["type"] == "invalid_request_error"
    assert "messages" in no_messages.value.message


# litellm's completion, as an openai-compatible provider.


@pytest.mark.parametrize("stream", [False, True])
def test_litellm_completion_reads_llm_gateways_images(mock_url, stream):
    answer = litellm.completion(model=f"openai/{FLASH}", api_base=f"{mock_url}/v1", api_key=KEY, messages=PROMPT,
                                stream=stream)  # fmt: skip

    if stream:
        images = [image for chunk in answer for image in (getattr(chunk.choices[0].delta, "images", None) or [])]
    else:
        images = answer.choices[0].message.images
    assert [image_of(image["image_url"]["url"]).size for image in images] == [(1024, 1024)]


def test_litellm_completion_reads_crazyrouters_markdown(mock_url):
    answer = litellm.completion(model=f"openai/{FLASH}", api_base=f"{mock_url}{CRAZYROUTER}", api_key=KEY,
                                messages=PROMPT)  # fmt: skip

    assert MARKDOWN_IMAGE.search(answer.choices[0].message.content)

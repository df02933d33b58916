"""langchain-google-genai's chat model against the strict Google profile, unchanged but for its base URL."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage
from langchain_google_genai import ChatGoogleGenerativeAI
from PIL import Image

from mockserver import create_app
from mockserver.background import BackgroundServer
from mockserver.settings import Settings

KEY = "langchain-key"


@pytest.fixture(scope="module")
def google_url() -> Iterator[str]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: 10_000}))) as server:
        yield f"{server.url}/google"


def chat(base_url: str, **options) -> ChatGoogleGenerativeAI:
    return ChatGoogleGenerativeAI(model="gemini-2.5-flash-image", google_api_key=KEY, base_url=base_url,
                                  response_modalities=["TEXT", "IMAGE"], max_retries=0, **options)  # fmt: skip


def images_in(message) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(block["base64"])))
            for block in message.content_blocks if block["type"] == "image"]  # fmt: skip


def test_invoke_draws_an_image_langchain_decodes(google_url):
    message = chat(google_url).invoke("a red fox in the snow")

    [image] = images_in(message)
    assert (image.format, image.size) == ("PNG", (1024, 1024))
    usage = message.usage_metadata
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 1290


def test_an_image_in_the_message_is_edited_in_its_shape(google_url):
    source = io.BytesIO()
    Image.new("RGB", (600, 400), "navy").save(source, "PNG")
    data_url = "data:image/png;base64," + base64.b64encode(source.getvalue()).decode()
    message = HumanMessage(content=[{"type": "text", "text": "add a hat"},
                                    {"type": "image_url", "image_url": {"url": data_url}}])  # fmt: skip

    [image] = images_in(chat(google_url).invoke([message]))

    assert image.size == (1248, 832)  # 3:2, the input's shape


def test_a_refused_key_is_langchain_s_error(google_url):
    with pytest.raises(Exception, match="API key not valid"):
        ChatGoogleGenerativeAI(model="gemini-2.5-flash-image", google_api_key="stranger", base_url=google_url,
                               max_retries=0).invoke("a fox")  # fmt: skip

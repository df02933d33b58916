"""The `openai` profile, OpenAI's own images API, through the official openai SDK pointed at /openai/v1: each
model's rules, what an answer holds, the URLs dall-e answers, OpenAI's errors and its quota in credits."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from PIL import Image

import contracts
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "sk-openai-profile-test-key-0001"
CREDITS = 100_000
MODELS = contracts.models("openai")


@pytest.fixture
def mock() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: CREDITS}))) as server:
        yield server


def sdk(server: BackgroundServer, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.url}/openai/v1", max_retries=0)


def balance(server: BackgroundServer) -> int:
    return httpx.get(f"{server.url}/_mock/accounts/{KEY}").json()["credits"]


def decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


@pytest.mark.parametrize(
    ("model", "size", "quality"),
    [("gpt-image-1-mini", "1536x1024", "low"), ("gpt-image-1", "1024x1536", "medium"), ("gpt-image-1.5", None, None)],
)
def test_a_gpt_image_model_answers_base64_with_usage_and_takes_its_price(mock, model, size, quality):
    asked = {k: v for k, v in {"size": size, "quality": quality}.items() if v}
    raw = sdk(mock).images.with_raw_response.generate(model=model, prompt="a lighthouse at dusk", n=2, **asked)
    answer = raw.parse()
    drawn_size, drawn_quality = size or "1024x1024", quality or "high"
    entry = MODELS[model]

    assert [decoded(image.b64_json).size for image in answer.data] == [tuple(map(int, drawn_size.split("x")))] * 2
    assert (answer.size, answer.quality, answer.output_format, answer.background) == (
        drawn_size, drawn_quality, "png", "opaque"
    )  # fmt: skip
    assert answer.usage.output_tokens == 2 * entry["image_tokens"][drawn_quality][drawn_size]
    assert answer.usage.total_tokens == answer.usage.input_tokens + answer.usage.output_tokens
    assert all(image.url is None and image.revised_prompt is None for image in answer.data)
    assert CREDITS - balance(mock) == 2 * entry["price"][drawn_quality][drawn_size]
    assert raw.headers["x-request-id"].startswith("req_") and raw.headers["openai-processing-ms"].isdigit()


def test_a_transparent_background_has_alpha_and_output_formats_are_real(mock):
    client = sdk(mock)
    transparent = client.images.generate(model="gpt-image-1-mini", prompt="a red apple", background="transparent")
    picture = decoded(transparent.data[0].b64_json)
    formats = {
        wanted: decoded(client.images.generate(model="gpt-image-1-mini", prompt="x", output_format=wanted,
                                               output_compression=50).data[0].b64_json).format
        for wanted in ("jpeg", "webp")
    }  # fmt: skip

    assert picture.mode == "RGBA" and picture.getextrema()[3][0] == 0  # some pixels fully transparent
    assert transparent.background == "transparent"
    assert formats == {"jpeg": "JPEG", "webp": "WEBP"}


def test_dall_e_3_answers_a_url_served_for_an_hour_and_revises_the_prompt(mock):
    answer = sdk(mock).images.generate(
        model="dall-e-3", prompt="a fox", size="1792x1024", quality="hd", style="natural"
    )
    url = answer.data[0].url

    served = httpx.get(url)
    assert served.status_code == 200 and Image.open(io.BytesIO(served.content)).size == (1792, 1024)
    assert answer.data[0].revised_prompt == "a fox" and answer.usage is None
    assert CREDITS - balance(mock) == MODELS["dall-e-3"]["price"]["hd"]["1792x1024"]
    httpx.post(f"{mock.url}/_mock/clock", json={"advance_seconds": 3600})
    assert httpx.get(url).status_code == 404


def test_without_a_model_dall_e_2_draws_and_b64_json_is_had_for_asking(mock):
    client = sdk(mock)
    by_url = client.images.generate(prompt="a fox", n=3, size="256x256")
    inline = client.images.generate(prompt="a fox", response_format="b64_json", size="512x512")

    assert len(by_url.data) == 3 and all(image.url and image.b64_json is None for image in by_url.data)
    assert decoded(inline.data[0].b64_json).size == (512, 512)
    assert CREDITS - balance(mock) == 3 * 16 + 18  # dall-e-2's prices


@pytest.mark.parametrize(
    ("asked", "message", "param", "code"),
    [
        ({"model": "dall-e-3", "n": 2}, "You must provide n=1 for this model.", None, None),
        (
            {"model": "dall-e-2", "n": 11},
            "Invalid 'n': integer above maximum value. Expected a value <= 10, but got 11 instead.",
            "n",
            "integer_above_max_value",
        ),
        (
            {"model": "gpt-image-1", "size": "1792x1024"},
            "Invalid value: '1792x1024'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
            "size",
            "invalid_value",
        ),
        ({"model": "dall-e-3", "size": "512x512"}, "The size is not supported by this model.", None, "invalid_size"),
        (
            {"model": "gpt-image-1", "quality": "standard"},
            "Invalid value: 'standard'. Supported values are: 'low', 'medium', 'high', and 'auto'.",
            "quality",
            "invalid_value",
        ),
        (
            {"model": "gpt-image-1", "response_format": "url"},
            "Unknown parameter: 'response_format'.",
            "response_format",
            "unknown_parameter",
        ),
        ({"model": "gpt-image-1-mini", "style": "vivid"}, "Unknown parameter: 'style'.", "style", "unknown_parameter"),
        (
            {"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"},
            None,
            "background",
            "invalid_value",
        ),
        ({"model": "dall-e-4"}, "Invalid model dall-e-4. The model argument should be left blank.", None, None),
        (
            {"model": "gpt-image-1", "partial_images": 4},
            "Invalid 'partial_images': integer above maximum value. Expected a value <= 3, but got 4 instead.",
            "partial_images",
            "integer_above_max_value",
        ),
        (
            {"model": "dall-e-2", "prompt": "x" * 1001},
            "Invalid 'prompt': string too long. Expected a string with "
            "maximum length 1000, but got a string with length 1001 instead.",
            "prompt",
            "string_above_max_length",
        ),
    ],
)
def test_a_request_outside_its_models_rules_is_openais_400_naming_the_field(mock, asked, message, param, code):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(mock).images.generate(**{"prompt": "a fox", **asked})

    error = refused.value
    assert (error.status_code, error.type, error.param, error.code) == (400, "invalid_request_error", param, code)
    assert message is None or error.body["message"] == message
    assert balance(mock) == CREDITS


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        (b'{"prompt": "a fox"', "We could not parse the JSON body of your request.", None),
        (b'{"model": "dall-e-2"}', "Missing required parameter: 'prompt'.", "prompt"),
        (b'{"prompt": "a fox", "n": "2"}', "Invalid type for 'n': expected an integer, but got a string instead.", "n"),
        (b'{"prompt": "a fox", "seed": 1}', "Unrecognized request argument supplied: seed", None),
    ],
)
def test_a_body_that_is_not_a_request_is_refused_in_openais_words(mock, body, message, param):
    response = httpx.post(f"{mock.url}/openai/v1/images/generations", content=body,
                          headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})  # fmt: skip
    error = response.json()["error"]

    assert response.status_code == 400 and error["message"].startswith(message) and error["param"] == param
    assert set(error) == {"message", "type", "param", "code"}


def test_a_missing_or_unknown_key_is_a_401_the_sdk_raises_as_authentication_error(mock):
    with pytest.raises(openai.AuthenticationError) as unknown:
        sdk(mock, key="sk-not-a-key-of-this-mock").images.generate(prompt="a fox")
    missing = httpx.post(f"{mock.url}/openai/v1/images/generations", json={"prompt": "a fox"})

    assert unknown.value.code == "invalid_api_key"
    assert unknown.value.body["message"].startswith("Incorrect API key provided: sk-not-a*************mock.")
    assert missing.status_code == 401 and missing.json()["error"]["message"].startswith("You didn't provide an API key")


def test_an_account_without_enough_credits_is_openais_429_insufficient_quota(mock):
    httpx.put(f"{mock.url}/_mock/accounts/{KEY}", json={"credits": 39})  # dall-e-3 standard costs 40
    with pytest.raises(openai.RateLimitError) as refused:
        sdk(mock).images.generate(model="dall-e-3", prompt="a fox")

    assert (refused.value.type, refused.value.code) == ("insufficient_quota", "insufficient_quota")
    assert refused.value.body["message"].startswith("You exceeded your current quota")
    assert balance(mock) == 39


@pytest.mark.parametrize(
    ("fault", "model", "raised", "status", "kind", "code"),
    [
        (
            "content-policy",
            "gpt-image-1",
            openai.BadRequestError,
            400,
            "image_generation_user_error",
            "moderation_blocked",
        ),
        (
            "content-policy",
            "dall-e-3",
            openai.BadRequestError,
            400,
            "invalid_request_error",
            "content_policy_violation",
        ),
        ("rate-limit", "gpt-image-1", openai.RateLimitError, 429, "requests", "rate_limit_exceeded"),
        ("server-error", "dall-e-2", openai.InternalServerError, 500, "server_error", None),
        ("overloaded", "dall-e-2", openai.InternalServerError, 503, "server_error", None),
    ],
)
def test_a_forced_failure_is_openais_own_and_costs_nothing(mock, fault, model, raised, status, kind, code):
    with pytest.raises(raised) as failed:
        sdk(mock).images.generate(model=model, prompt="a fox", extra_headers={"X-Mock-Fault": fault})

    assert (failed.value.status_code, failed.value.type, failed.value.code) == (status, kind, code)
    assert failed.value.request_id.startswith("req_")
    assert balance(mock) == CREDITS
    if fault == "rate-limit":
        assert failed.value.response.headers["retry-after"].isdigit()


def png(width: int, height: int, colour=(20, 40, 160, 255), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour[: len(mode)]).save(out, "PNG")
    return out.getvalue()


def test_an_edit_draws_from_its_image_and_changes_only_where_the_mask_is_transparent(mock):
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 1024, 512))  # only the top half may change
    masked = io.BytesIO()
    mask.save(masked, "PNG")
    answer = sdk(mock).images.edit(
        model="gpt-image-1", image=("room.png", png(1024, 1024), "image/png"),
        mask=("mask.png", masked.getvalue(), "image/png"), prompt="a window onto the sea", quality="low",
    )  # fmt: skip
    edited = decoded(answer.data[0].b64_json).convert("RGBA")

    assert edited.size == (1024, 1024)
    assert edited.getpixel((512, 900)) == (20, 40, 160, 255)  # below the mask's transparent half: unchanged
    assert edited.getpixel((512, 100)) != (20, 40, 160, 255)
    assert answer.usage.input_tokens_details.image_tokens > 0
    assert CREDITS - balance(mock) == MODELS["gpt-image-1"]["price"]["low"]["1024x1024"]


def test_an_edit_of_several_images_takes_them_all_and_auto_follows_the_first_ones_shape(mock):
    images = [(f"in{i}.png", png(1536, 1024), "image/png") for i in range(3)]
    answer = sdk(mock).images.edit(image=images, prompt="a collage", size="auto", quality="low")

    assert decoded(answer.data[0].b64_json).size == (1536, 1024)  # gpt-image-1.5, the edits' default model
    assert answer.usage.input_tokens_details.image_tokens == 3 * (85 + 170 * 6)  # each 1152x768 after scaling: 3x2
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(mock).images.edit(image=images * 6, prompt="too many")
    assert refused.value.code == "array_above_max_length"


def test_a_json_edit_takes_images_by_url_and_no_file_id(mock):
    data_url = "data:image/png;base64," + base64.b64encode(png(512, 768)).decode()
    edited = httpx.post(f"{mock.url}/openai/v1/images/edits", headers={"Authorization": f"Bearer {KEY}"},
                        json={"images": [{"image_url": data_url}], "prompt": "a hat", "size": "auto",
                              "model": "gpt-image-1-mini", "quality": "low"})  # fmt: skip
    by_file = httpx.post(f"{mock.url}/openai/v1/images/edits", headers={"Authorization": f"Bearer {KEY}"},
                         json={"images": [{"file_id": "file-abc"}], "prompt": "a hat"})  # fmt: skip

    assert edited.status_code == 200 and decoded(edited.json()["data"][0]["b64_json"]).size == (1024, 1536)
    assert by_file.status_code == 400 and by_file.json()["error"]["param"] == "images[0].file_id"


@pytest.mark.parametrize(
    ("image", "mask", "message", "param"),
    [
        (
            png(512, 512, mode="RGB"),
            None,
            "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.",
            "image",
        ),
        (png(512, 256), None, "Uploaded image must be square.", "image"),
        (png(512, 512), png(256, 256), "Invalid mask image format - mask size does not match image size", "mask"),
        (b"not an image", None, "Invalid image file or mode for image 1, please check your image file.", "image"),
    ],
)
def test_dall_e_2_edits_one_square_png_with_alpha_and_a_mask_of_its_size(mock, image, mask, message, param):
    files = {"mask": ("mask.png", mask, "image/png")} if mask else {}
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(mock).images.edit(model="dall-e-2", image=("in.png", image, "image/png"), prompt="a hat", **files)

    assert (refused.value.body["message"], refused.value.param) == (message, param)
    assert balance(mock) == CREDITS


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks variations deprecated
def test_dall_e_2_draws_variations_of_one_image_and_no_other_model_does(mock):
    variations = sdk(mock).images.create_variation(image=("in.png", png(256, 256), "image/png"), n=2, size="256x256")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(mock).images.create_variation(image=("in.png", png(256, 256), "image/png"), model="gpt-image-1")

    assert [Image.open(io.BytesIO(httpx.get(v.url).content)).size for v in variations.data] == [(256, 256)] * 2
    assert CREDITS - balance(mock) == 2 * MODELS["dall-e-2"]["price"]["standard"]["256x256"]
    assert refused.value.body["message"] == "Invalid model gpt-image-1. The model argument should be left blank."


def test_a_streamed_generation_sends_its_partial_images_then_the_image_completed(mock):
    events = list(sdk(mock).images.generate(model="gpt-image-1-mini", prompt="a fox", quality="low", stream=True,
                                            partial_images=2))  # fmt: skip

    assert [(e.type, getattr(e, "partial_image_index", None)) for e in events] == [
        ("image_generation.partial_image", 0), ("image_generation.partial_image", 1),
        ("image_generation.completed", None),
    ]  # fmt: skip
    assert all(decoded(e.b64_json).size == (1024, 1024) for e in events)
    assert events[-1].usage.output_tokens == MODELS["gpt-image-1-mini"]["image_tokens"]["low"]["1024x1024"]
    assert CREDITS - balance(mock) == MODELS["gpt-image-1-mini"]["price"]["low"]["1024x1024"]


def test_a_streamed_edit_sends_image_edit_events(mock):
    events = sdk(mock).images.edit(image=("in.png", png(1024, 1536), "image/png"), prompt="a hat", quality="low",
                                   stream=True, partial_images=1)  # fmt: skip

    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]


def test_a_failure_forced_mid_stream_is_the_error_event_the_sdk_raises_and_costs_nothing(mock):
    seen = []
    with pytest.raises(openai.APIError) as failed:
        for event in sdk(mock).images.generate(model="gpt-image-1", prompt="a fox", stream=True, partial_images=3,
                                                extra_headers={"X-Mock-Fault": "content-policy"}):  # fmt: skip
            seen.append(event.type)

    assert seen == ["image_generation.partial_image"]
    assert failed.value.code == "moderation_blocked"
    assert balance(mock) == CREDITS


@pytest.mark.imagegen_scenarios("openai")
def test_the_pytest_plugin_plays_every_documented_behaviour_through_the_sdk(imagegen_mock, imagegen_scenario):
    imagegen_mock.arm(imagegen_scenario)
    client = openai.OpenAI(api_key=imagegen_mock.api_key, base_url=f"{imagegen_mock.url('openai')}/v1", max_retries=0)
    try:
        client.images.generate(**imagegen_scenario.request.json)
        status = 200
    except openai.APIStatusError as error:
        status = error.status_code
        assert error.code == imagegen_scenario.expect["error"]["code"]

    assert status == imagegen_scenario.status


def test_the_responses_image_tool_draws_one_image_and_charges_its_model(mock):
    tool = {"type": "image_generation", "model": "gpt-image-1-mini", "quality": "low", "size": "1536x1024"}
    answer = sdk(mock).responses.create(model="gpt-4.1-mini", input="a lighthouse", tools=[tool])
    (call,) = answer.output

    assert (call.type, call.status) == ("image_generation_call", "completed")
    assert decoded(call.result).size == (1536, 1024)
    assert CREDITS - balance(mock) == MODELS["gpt-image-1-mini"]["price"]["low"]["1536x1024"]


def test_the_responses_image_tool_edits_an_input_image(mock):
    image = "data:image/png;base64," + base64.b64encode(png(1024, 1536)).decode()
    message = {"role": "user", "content": [{"type": "input_text", "text": "add a hat"},
                                           {"type": "input_image", "image_url": image}]}  # fmt: skip
    tool = {"type": "image_generation", "quality": "low", "size": "auto"}
    (call,) = sdk(mock).responses.create(model="gpt-4.1-mini", input=[message], tools=[tool]).output

    assert decoded(call.result).size == (1024, 1536)  # auto: the size nearest the input's shape


def test_the_responses_image_tool_streams_its_events_and_partial_images(mock):
    tool = {"type": "image_generation", "quality": "low", "partial_images": 2}
    events = list(sdk(mock).responses.create(model="gpt-4.1-mini", input="a fox", tools=[tool], stream=True))
    kinds = [event.type for event in events]

    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.image_generation_call.in_progress", "response.image_generation_call.generating",
                     "response.image_generation_call.partial_image", "response.image_generation_call.partial_image",
                     "response.image_generation_call.completed", "response.output_item.done",
                     "response.completed"]  # fmt: skip
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert decoded(events[-1].response.output[0].result).size == (1024, 1024)


def test_a_response_without_the_image_tool_is_a_short_message_and_free(mock):
    answer = sdk(mock).responses.create(model="gpt-4.1-mini", input="hello")

    assert "image_generation tool" in answer.output_text
    assert balance(mock) == CREDITS

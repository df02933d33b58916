"""LLM Gateway (seed 003) end to end, over HTTP: generations, edits in JSON and multipart, every error."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
KEY = "llmgw-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
FLASH = "gemini-2.5-flash-image"
PRO = "gemini-3-pro-image-preview"
# Google's pixel tables (research/apis.md §1.9), the ratios these tests use.
FLASH_PIXELS = {"1:1": (1024, 1024), "3:2": (1248, 832), "2:3": (832, 1248), "16:9": (1344, 768), "9:16": (768, 1344)}
PRO_PIXELS = {("1:1", "1K"): (1024, 1024), ("16:9", "1K"): (1376, 768), ("16:9", "4K"): (5504, 3072)}
PRICES = {FLASH: 4, PRO: 14}


@pytest.fixture(autouse=True)
def funded(client: httpx.Client) -> None:
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 1000}).raise_for_status()


def images_of(body: dict) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))) for item in body["data"]]


def png(size=(300, 200), colour=(10, 200, 30), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()


def data_url(content: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


def credits(client: httpx.Client, key: str = KEY) -> int:
    return client.get(f"/_mock/accounts/{key}").json()["credits"]


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


# The seed's examples.


@pytest.mark.parametrize(
    ("body", "count", "size"),
    [
        ({"prompt": "A white siamese cat"}, 1, PRO_PIXELS[("1:1", "1K")]),  # Generate Single Image: model auto
        ({"prompt": "A white siamese cat", "model": FLASH, "n": 3}, 3, FLASH_PIXELS["1:1"]),  # Multiple Images
        ({"prompt": "A white siamese cat", "model": PRO, "aspect_ratio": "16:9"}, 1, PRO_PIXELS[("16:9", "1K")]),
        ({"prompt": "A white siamese cat", "quality": "hd", "style": "vivid", "size": "1024x1024"}, 1, (1024, 1024)),
    ],
)
def test_the_seeds_generation_examples(client, body, count, size):
    response = client.post(GENERATIONS, headers=AUTH, json=body)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"created", "data"} and isinstance(answer["created"], int)
    assert [item["revised_prompt"] for item in answer["data"]] == [body["prompt"]] * count
    images = images_of(answer)
    assert [(image.format, image.size) for image in images] == [("PNG", size)] * count
    assert len({item["b64_json"] for item in answer["data"]}) == count


@pytest.mark.parametrize(
    ("size", "pixels"),
    [
        ("1024x1024", FLASH_PIXELS["1:1"]),
        ("512x512", FLASH_PIXELS["1:1"]),
        ("1792x1024", FLASH_PIXELS["16:9"]),  # 7:4, drawn as Gemini's 16:9, which is 1344x768: 7:4 exactly
        ("1024x1792", FLASH_PIXELS["9:16"]),
        ("1536x1024", FLASH_PIXELS["3:2"]),
        ("1024x1536", FLASH_PIXELS["2:3"]),
        ("auto", FLASH_PIXELS["1:1"]),
    ],
)
def test_size_maps_to_an_aspect_ratio_as_the_service_maps_it(client, size, pixels):
    body = client.post(GENERATIONS, headers=AUTH, json={"prompt": "a fox", "model": FLASH, "size": size}).json()

    assert images_of(body)[0].size == pixels


def test_aspect_ratio_wins_over_size_and_size_picks_the_image_size(client):
    body = {"prompt": "a fox", "model": PRO, "size": "4K", "aspect_ratio": "16:9"}
    wide = client.post(GENERATIONS, headers=AUTH, json=body).json()
    body = {"prompt": "a fox", "model": FLASH, "size": "1024x1792", "aspect_ratio": "16:9"}
    overridden = client.post(GENERATIONS, headers=AUTH, json=body).json()

    assert images_of(wide)[0].size == PRO_PIXELS[("16:9", "4K")]
    assert images_of(overridden)[0].size == FLASH_PIXELS["16:9"]


def test_each_image_is_charged_the_models_price_in_cents(client):
    client.post(GENERATIONS, headers=AUTH, json={"prompt": "a fox", "model": FLASH, "n": 3})
    after_flash = credits(client)
    client.post(GENERATIONS, headers=AUTH, json={"prompt": "a fox", "model": PRO, "size": "4K"})

    assert 1000 - after_flash == 3 * PRICES[FLASH]
    assert after_flash - credits(client) == 24


# Validation, in the service's own words.


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid request parameters: prompt: Required"),
        ({"prompt": ""}, "Invalid request parameters: prompt: String must contain at least 1 character(s)"),
        ({"prompt": 7}, "Invalid request parameters: prompt: Expected string, received number"),
        ({"prompt": "x", "n": 11}, "Invalid request parameters: n: Number must be less than or equal to 10"),
        ({"prompt": "x", "n": 1.5}, "Invalid request parameters: n: Expected integer, received float"),
        ({"prompt": "x", "n": None}, "Invalid request parameters: n: Expected number, received null"),
        (
            {"prompt": "x", "response_format": "url"},
            'Invalid request parameters: response_format: Invalid literal value, expected "b64_json"',
        ),
        (
            {"prompt": "x", "style": "dark"},
            "Invalid request parameters: style: Invalid enum value. Expected 'vivid' | 'natural', received 'dark'",
        ),
        ([{"prompt": "x"}], "Invalid request parameters: : Expected object, received array"),
        (
            {"n": 0, "quality": "auto"},
            "Invalid request parameters: prompt: Required, n: Number must be greater than or equal to 1, quality: "
            "Invalid enum value. Expected 'standard' | 'hd' | 'low' | 'medium' | 'high', received 'auto'",
        ),
        (
            {"prompt": "x", "model": "gpt-4o-mini"},
            "Model gpt-4o-mini is a chat model and cannot be used with /v1/images/generations. "
            "Use the /v1/chat/completions endpoint instead.",
        ),
        ({"prompt": "x", "model": "imagen-9"}, "Requested model imagen-9 not supported"),
        ({"prompt": "x", "aspect_ratio": "wide"}, "Unsupported aspect ratio: wide. Use W:H, such as 16:9."),
        ({"prompt": "x", "size": "0x512"}, "Unsupported aspect ratio: 0:512"),
    ],
)
def test_invalid_generations_get_the_services_400(client, body, message):
    response = client.post(GENERATIONS, headers=AUTH, json=body)

    assert response.status_code == 400
    error = error_of(response)
    assert (error["message"], error["type"]) == (message, "invalid_request_error")
    assert credits(client) == 1000


def test_a_body_that_is_not_json_is_a_400_before_the_key_is_looked_at(client):
    response = client.post(GENERATIONS, content=b'{"prompt": "x"', headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert error_of(response)["message"] == "Invalid JSON in request body"


# Keys.


NO_KEY = (
    "Unauthorized: No API key provided. Expected 'Authorization: Bearer your-api-token' header or "
    "'x-api-key: your-api-token' header"
)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcg=="}, {"Authorization": "Bearer"},
                                     {"Authorization": "Bearer a Bearer b"}])  # fmt: skip
def test_a_missing_or_malformed_key_is_a_401_in_the_x_api_key_era_s_words(client, headers):
    """research/fidelity.md L5: extractToken takes what follows "Bearer ", else x-api-key, else refuses."""
    response = client.post(GENERATIONS, headers=headers, json={"prompt": "x"})

    assert response.status_code == 401
    assert error_of(response) == {"message": NO_KEY, "type": "invalid_request_error", "param": None,
                                  "code": "invalid_api_key"}  # fmt: skip


def test_a_malformed_authorization_falls_back_to_x_api_key(client):
    response = client.post(GENERATIONS, headers={"Authorization": "Basic x", "x-api-key": KEY},
                           json={"prompt": "x", "model": FLASH})  # fmt: skip

    assert response.status_code == 200


def test_an_unknown_model_is_the_chat_handler_s_after_the_key(client):
    """research/fidelity.md L6: only the message survives; the key is looked at first."""
    keyless = client.post(GENERATIONS, json={"prompt": "x", "model": "imagen-9"})
    keyed = client.post(GENERATIONS, headers=AUTH, json={"prompt": "x", "model": "imagen-9"})

    assert keyless.status_code == 401
    assert keyed.status_code == 400
    assert error_of(keyed) == {"message": "Requested model imagen-9 not supported", "type": "invalid_request_error",
                               "param": None, "code": None}  # fmt: skip


def test_a_text_model_sent_to_edits_is_told_of_generations(client):
    """research/fidelity.md L7: lib/validate-model-output.ts names one route."""
    response = client.post(EDITS, headers=AUTH, json=edit_body(model="gpt-4o-mini"))

    assert response.status_code == 400
    assert "cannot be used with /v1/images/generations." in error_of(response)["message"]


def test_the_rate_limit_names_the_path_called(client):
    """research/fidelity.md L8."""
    response = client.post(EDITS, headers={**AUTH, "X-Mock-Fault": "rate-limit"}, json=edit_body())

    assert error_of(response)["message"] == "Rate limit exceeded for /v1/images/edits. Please retry after 12 seconds."


def test_load_shedding_answers_529_before_the_request_is_read(client):
    """research/fidelity.md L4: lib/backpressure.ts, ahead of the handler; so even a body that is not JSON."""
    response = client.post(GENERATIONS, headers={"X-Mock-Fault": "overloaded"}, content=b"{")

    assert response.status_code == 529 and response.headers["Retry-After"] == "1"
    assert error_of(response) == {"message": "Gateway overloaded, please retry", "type": "api_error", "param": None,
                                  "code": None}  # fmt: skip


def test_the_key_works_as_bearer_or_x_api_key(client):
    for headers in (AUTH, {"x-api-key": KEY}):
        assert client.post(GENERATIONS, headers=headers, json={"prompt": "x", "model": FLASH}).status_code == 200

    assert credits(client) == 1000 - 2 * PRICES[FLASH]


def test_strict_keys_refuse_an_unknown_key(serve):
    client = serve(strict_keys=True, accounts={KEY: 10})

    refused = client.post(GENERATIONS, headers={"x-api-key": "stranger"}, json={"prompt": "x"})
    accepted = client.post(GENERATIONS, headers=AUTH, json={"prompt": "x", "model": FLASH})

    assert refused.status_code == 401 and error_of(refused)["message"].startswith(
        "Unauthorized: Invalid LLMGateway API token. Please make sure the token is not deleted or disabled."
    )
    assert accepted.status_code == 200


# Credits, rate limits, failures.


def test_too_few_credits_is_a_402_and_nothing_is_taken(client):
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 7})

    response = client.post(GENERATIONS, headers=AUTH, json={"prompt": "x", "model": FLASH, "n": 2})

    assert response.status_code == 402
    assert error_of(response)["code"] == "billing_error"
    assert credits(client) == 7


def test_answers_carry_the_rate_limit_headers(client):
    response = client.post(GENERATIONS, headers=AUTH, json={"prompt": "x", "model": FLASH})
    again = client.post(GENERATIONS, headers=AUTH, json={"prompt": "y", "model": FLASH})

    assert response.headers["RateLimit-Limit"] == "300"
    assert (response.headers["RateLimit-Remaining"], again.headers["RateLimit-Remaining"]) == ("299", "298")
    assert response.headers["RateLimit-Policy"] == '"requests";q=300;w=60'


def test_a_forced_rate_limit_is_a_429_with_retry_after_and_charges_nothing(client):
    response = client.post(GENERATIONS, headers={**AUTH, "X-Mock-Fault": "rate-limit"}, json={"prompt": "x"})

    assert response.status_code == 429
    assert error_of(response)["type"] == "rate_limit_error"
    assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"] == "12"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert credits(client) == 1000


@pytest.mark.parametrize(
    ("fault", "status", "kind", "code"),
    [
        ("no-image", 500, "api_error", None),
        ("server-error", 502, "api_error", None),  # research/fidelity.md L4: typed by status
        ("timeout", 504, "timeout_error", "timeout"),
    ],
)
def test_upstream_failures_get_the_gateways_errors_and_refund(client, fault, status, kind, code):
    response = client.post(EDITS, headers={**AUTH, "X-Mock-Fault": fault}, json=edit_body())

    assert response.status_code == status
    assert (error_of(response)["type"], error_of(response)["code"]) == (kind, code)
    assert credits(client) == 1000


def test_no_images_says_what_the_seed_era_service_said(client):
    response = client.post(GENERATIONS, headers={**AUTH, "X-Mock-Fault": "no-image"}, json={"prompt": "x"})

    assert error_of(response)["message"] == (
        "The model did not generate any images. Try a different model with image generation capabilities "
        "(e.g., gemini-2.5-flash-image, gemini-3-pro-image-preview)."
    )


def test_a_filtered_prompt_is_200_with_no_images_and_costs_nothing(client):
    response = client.post(GENERATIONS, headers={**AUTH, "X-Mock-Fault": "content-policy"}, json={"prompt": "x"})

    assert response.status_code == 200
    assert response.json()["data"] == []
    assert credits(client) == 1000


def test_a_queued_fault_waits_for_a_request_that_passes_validation(client):
    client.post("/_mock/faults", json={"profile": "llmgateway", "fault": "content-policy"}).raise_for_status()

    invalid = client.post(GENERATIONS, headers=AUTH, json={"prompt": ""})
    filtered = client.post(GENERATIONS, headers=AUTH, json={"prompt": "x"})
    drawn = client.post(GENERATIONS, headers=AUTH, json={"prompt": "x"})

    assert invalid.status_code == 400
    assert (filtered.json()["data"], len(drawn.json()["data"])) == ([], 1)


# Edits, JSON.


def edit_body(**fields) -> dict:
    return {"images": [{"image_url": data_url(png())}], "prompt": "add a hat", "model": FLASH, **fields}


def test_a_json_edit_starts_from_its_input_and_keeps_its_shape(client):
    response = client.post(EDITS, headers=AUTH, json=edit_body())

    assert response.status_code == 200
    (image,) = images_of(response.json())
    assert image.size == FLASH_PIXELS["3:2"]
    red, green, blue = image.convert("RGB").getpixel((image.width // 2, image.height // 4))
    assert green > 150 and red < 80 and blue < 90


def test_an_https_image_is_never_fetched_and_stands_in_as_a_placeholder(client):
    body = edit_body(images=[{"image_url": "https://example.com/source-image.png"}])

    first = client.post(EDITS, headers=AUTH, json=body).json()
    again = client.post(EDITS, headers=AUTH, json=body).json()
    other = client.post(EDITS, headers=AUTH, json=edit_body(images=[{"image_url": "https://example.com/b.png"}]))

    assert images_of(first)[0].size == FLASH_PIXELS["1:1"]
    assert first["data"] == again["data"] != other.json()["data"]


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_format_is_the_real_format_and_the_answer_says_so(client, fmt, pil_format):
    body = client.post(EDITS, headers=AUTH, json=edit_body(output_format=fmt, quality="auto", size="auto")).json()

    assert images_of(body)[0].format == pil_format
    assert {key for key in body if key not in ("created", "data")} == {"output_format"}
    assert body["output_format"] == fmt


def test_output_compression_is_honoured_for_jpeg_and_webp(client):
    def length(fmt: str, compression: int) -> int:
        body = client.post(EDITS, headers=AUTH, json=edit_body(output_format=fmt, output_compression=compression))
        return len(base64.b64decode(body.json()["data"][0]["b64_json"]))

    assert length("jpeg", 10) < length("jpeg", 95)
    assert length("webp", 10) < length("webp", 95)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_a_transparent_background_has_a_real_alpha_channel(client, fmt):
    body = client.post(EDITS, headers=AUTH, json=edit_body(background="transparent", output_format=fmt)).json()

    image = images_of(body)[0]
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((image.width // 2, image.height // 2))[3] == 255
    assert body["background"] == "transparent"


def test_the_answer_of_an_edit_repeats_what_was_set(client):
    body = edit_body(background="opaque", quality="high", size="1536x1024", input_fidelity="high", n=2)

    answer = client.post(EDITS, headers=AUTH, json=body).json()

    assert {k: v for k, v in answer.items() if k not in ("created", "data")} == {
        "background": "opaque", "quality": "high", "size": "1536x1024"
    }  # fmt: skip
    assert len(answer["data"]) == 2


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([{"image_url": "http://example.com/a.png"}], "images[0].image_url must be an https URL or a base64 data URL"),
        (
            [{"image_url": data_url(png())}, {"image_url": "ftp://x"}],
            "images[1].image_url must be an https URL or a base64 data URL",
        ),
        (
            [{"image_url": "data:text/plain;base64,aGVsbG8="}],
            "images[0].image_url must be an https URL or a base64 data URL",
        ),
        (
            [{"image_url": data_url(b"not an image at all")}],
            "images[0].image_url is invalid: the image is not an image",
        ),
        ([], "Invalid request parameters: images: Array must contain at least 1 element(s)"),
        ([{"url": "https://example.com"}], "Invalid request parameters: images.0.image_url: Required"),
        (
            [{"image_url": "https://a.example"}] * 17,
            "Invalid request parameters: images: Array must contain at most 16 element(s)",
        ),
    ],
)
def test_invalid_input_images_get_the_services_400(client, images, message):
    response = client.post(EDITS, headers=AUTH, json=edit_body(images=images))

    assert response.status_code == 400
    assert error_of(response)["message"].startswith(message)


def test_a_truncated_image_is_refused_not_a_500(client):
    response = client.post(EDITS, headers=AUTH, json=edit_body(images=[{"image_url": data_url(png()[:60])}]))

    assert response.status_code == 400
    assert "images[0].image_url is invalid" in error_of(response)["message"]


# Edits, multipart, as the official SDK sends them.


def test_multipart_takes_the_image_from_image_image_brackets_or_file(client):
    for field in ("image", "image[]", "file"):
        files = [(field, ("in.png", png(), "image/png"))]
        response = client.post(EDITS, headers=AUTH, files=files, data={"prompt": "a hat", "model": FLASH, "n": "2"})

        assert response.status_code == 200, (field, response.text)
        assert [image.size for image in images_of(response.json())] == [FLASH_PIXELS["3:2"]] * 2


def test_multipart_uses_the_first_of_several_images(client):
    files = [("image[]", ("a.png", png((300, 200)), "image/png")), ("image[]", ("b.png", png((200, 300)), "image/png"))]

    response = client.post(EDITS, headers=AUTH, files=files, data={"prompt": "a hat", "model": FLASH})

    assert images_of(response.json())[0].size == FLASH_PIXELS["3:2"]


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        ({"model": FLASH}, [("image", ("a.png", png(), "image/png"))], "prompt is required"),
        ({"prompt": "x"}, [], "image file is required for multipart/form-data requests"),
        ({"prompt": "x", "image": "not a file"}, [("mask", ("m.png", png(), "image/png"))], "image file is required"),
        (
            {"prompt": "x", "n": "0"},
            [("image", ("a.png", png(), "image/png"))],
            "Invalid request parameters: n: Number must be greater than or equal to 1",
        ),
        # The service turns the file into a data URL of its declared type: a file sent as octet-stream fails.
        ({"prompt": "x"}, [("image", ("a", png(), "application/octet-stream"))], "images[0].image_url must be"),
    ],
)
def test_invalid_multipart_edits_get_the_services_400(client, data, files, message):
    response = client.post(EDITS, headers=AUTH, data=data, files=files or {"other": ("x.txt", b"x", "text/plain")})

    assert response.status_code == 400
    assert error_of(response)["message"].startswith(message)


def test_multipart_reads_n_as_parse_int_and_ignores_the_fields_the_service_ignores(client):
    data = {"prompt": "x", "model": FLASH, "n": "3 images", "output_format": "jpeg", "background": "transparent"}

    response = client.post(EDITS, headers=AUTH, data=data, files=[("image", ("a.png", png(), "image/png"))])

    assert response.status_code == 200
    assert [image.format for image in images_of(response.json())] == ["PNG"] * 3


def test_a_mask_changes_only_its_transparent_region(client):
    mask = Image.new("RGBA", (300, 200), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 150, 200))  # the left half may change
    mask_png = io.BytesIO()
    mask.save(mask_png, "PNG")
    source = Image.new("RGB", (300, 200))
    source.putdata([(x % 256, y, (x * y) % 256) for y in range(200) for x in range(300)])
    source_png = io.BytesIO()
    source.save(source_png, "PNG")
    files = [
        ("image", ("in.png", source_png.getvalue(), "image/png")),
        ("mask", ("m.png", mask_png.getvalue(), "image/png")),
    ]

    response = client.post(EDITS, headers=AUTH, files=files, data={"prompt": "a hat", "model": FLASH})

    (image,) = images_of(response.json())
    expected = source.resize(image.size, Image.Resampling.BICUBIC)
    width, height = image.size
    right = (width // 2 + 4, 0, width, height)
    assert image.convert("RGB").crop(right).tobytes() == expected.crop(right).tobytes()
    left = (0, 0, width // 2 - 4, height)
    assert image.convert("RGB").crop(left).tobytes() != expected.crop(left).tobytes()


def test_the_journal_shows_what_the_client_sent(client):
    client.post(GENERATIONS, headers=AUTH, json={"prompt": "a fox", "n": 2, "model": FLASH})

    (entry,) = client.get("/_mock/requests", params={"profile": "llmgateway"}).json()["requests"]
    assert entry["body"] == {"prompt": "a fox", "n": 2, "model": FLASH}
    assert entry["headers"]["authorization"] == "[redacted]"


def test_every_path_answers_under_the_profiles_prefix_too(client):
    response = client.post("/llmgateway" + GENERATIONS, headers=AUTH, json={"prompt": "x", "model": FLASH})

    assert response.status_code == 200
    assert client.post("/llmgateway/v1/images/variations", headers=AUTH).status_code == 404


# What the service was seen to do against its documentation: forced, never the default.


def test_fewer_images_answers_one_whatever_n_and_charges_one(client):
    """research/fidelity.md L1: one chat completion, one candidate."""
    asked = {"prompt": "x", "model": FLASH, "n": 3}
    documented = client.post(GENERATIONS, headers=AUTH, json=asked)
    observed = client.post(GENERATIONS, headers={**AUTH, "X-Mock-Fault": "fewer-images"}, json=asked)

    assert (len(documented.json()["data"]), len(observed.json()["data"])) == (3, 1)
    assert credits(client) == 1000 - 4 * PRICES[FLASH]


def test_edit_hints_ignored_echoes_the_format_over_png_and_keeps_no_alpha(client):
    """research/fidelity.md L3: output_format, background and the mask are words in the prompt."""
    body = edit_body(output_format="webp", background="transparent")
    documented = client.post(EDITS, headers=AUTH, json=body)
    observed = client.post(EDITS, headers={**AUTH, "X-Mock-Fault": "edit-hints-ignored"}, json=body)

    (real,), (hinted,) = images_of(documented.json()), images_of(observed.json())
    assert (real.format, real.mode) == ("WEBP", "RGBA")
    assert (hinted.format, hinted.mode) == ("PNG", "RGB")
    assert observed.json()["output_format"] == "webp"


def test_a_transparent_jpeg_is_not_refused(client):
    """research/fidelity.md L3: the service has no such check."""
    response = client.post(EDITS, headers=AUTH, json=edit_body(output_format="jpeg", background="transparent"))

    assert response.status_code == 200
    assert images_of(response.json())[0].format == "JPEG"


@pytest.mark.parametrize(("fields", "refused"), [
    ({"size": "1792x1024"}, True), ({"aspect_ratio": "7:4"}, True), ({"size": "1344x768"}, True),
    ({"size": "1536x1024"}, False), ({"aspect_ratio": "16:9"}, False), ({"size": "auto"}, False),
])  # fmt: skip
def test_ratios_as_given_refuses_what_google_does_not_draw_and_charges_nothing(client, fields, refused):
    """research/fidelity.md L2: the ratio reaches Google unchanged; the documented default draws the nearest."""
    asked = {"prompt": "x", "model": FLASH, **fields}
    observed = client.post(GENERATIONS, headers={**AUTH, "X-Mock-Fault": "ratios-as-given"}, json=asked)

    assert observed.status_code == (400 if refused else 200)
    if refused:
        assert error_of(observed)["message"].startswith(
            "* GenerateContentRequest.generation_config.image_config.aspect_ratio: aspect_ratio must be one of '1:1'"
        )
        assert credits(client) == 1000
    assert client.post(GENERATIONS, headers=AUTH, json=asked).status_code == 200

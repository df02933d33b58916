"""Imagen's predict on the Gemini API, and the rest of the Gemini API's smaller endpoints (countTokens, a method a
path does not take), over HTTP."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

KEY = "imagen-test-key"
GOOGLE = {"x-goog-api-key": KEY}


def predict(profile: str = "google", model: str = "imagen-4.0-generate-001") -> str:
    return f"/{profile}/v1beta/models/{model}:predict"


def ask(prompt: str = "a lighthouse", **parameters) -> dict:
    return {"instances": [{"prompt": prompt}], "parameters": parameters}


@pytest.fixture(autouse=True)
def funded(client):
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 1000}).raise_for_status()


def balance(client) -> int:
    return client.get(f"/_mock/accounts/{KEY}").json()["credits"]


@pytest.mark.parametrize(("model", "parameters", "pixels", "price"), [
    ("imagen-4.0-generate-001", {}, [(1024, 1024)] * 4, 16),  # sampleCount is 4 unless asked
    ("imagen-4.0-ultra-generate-001", {"sampleCount": 1, "aspectRatio": "9:16", "sampleImageSize": "2K"},
     [(1536, 2816)], 6),
    ("imagen-4.0-fast-generate-001", {"sampleCount": 2, "aspectRatio": "4:3", "sampleImageSize": "2K"},
     [(1280, 896)] * 2, 4),  # Fast makes 1K only
])  # fmt: skip
def test_predict_draws_sample_count_images_at_the_tables_size_and_charges_each(
    client, model, parameters, pixels, price
):
    before = balance(client)
    answer = client.post(predict(model=model), headers=GOOGLE, json=ask(**parameters))

    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    images = [Image.open(io.BytesIO(base64.b64decode(p["bytesBase64Encoded"]))) for p in predictions]
    assert [image.size for image in images] == pixels
    assert {p["mimeType"] for p in predictions} == {"image/png"} == {f"image/{i.format.lower()}" for i in images}
    assert len({image.tobytes() for image in images}) == len(images), "each image is its own"
    assert balance(client) == before - price


def test_predict_draws_jpeg_when_asked(client):
    answer = client.post(predict(), headers=GOOGLE, json=ask(sampleCount=1, outputOptions={"mimeType": "image/jpeg"}))

    (prediction,) = answer.json()["predictions"]
    assert prediction["mimeType"] == "image/jpeg"
    assert Image.open(io.BytesIO(base64.b64decode(prediction["bytesBase64Encoded"]))).format == "JPEG"


@pytest.mark.parametrize(("body", "field"), [
    (ask(sampleCount=5), "parameters.sampleCount"),
    (ask(sampleCount=0), "parameters.sampleCount"),
    (ask(aspectRatio="3:2"), "parameters.aspectRatio"),
    (ask(sampleImageSize="4K"), "parameters.sampleImageSize"),
    (ask(personGeneration="everyone"), "parameters.personGeneration"),
    (ask(outputOptions={"mimeType": "image/webp"}), "parameters.outputOptions.mimeType"),
    (ask(""), "instances[0].prompt"),
    ({"instances": []}, "instances"),
    ({"instances": [{"prompt": "a"}, {"prompt": "b"}]}, "instances"),
])  # fmt: skip
def test_a_request_imagen_cannot_take_is_googles_400_and_costs_nothing(client, body, field):
    before = balance(client)
    answer = client.post(predict(), headers=GOOGLE, json=body)

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["fieldViolations"][0]["field"] == field
    assert balance(client) == before


def test_a_prompt_beyond_imagens_480_tokens_is_refused(client):
    at_the_limit = client.post(predict(), headers=GOOGLE, json=ask("a" * 4 * 480, sampleCount=1))
    over = client.post(predict(), headers=GOOGLE, json=ask("a" * (4 * 480 + 1), sampleCount=1))

    assert at_the_limit.status_code == 200
    assert over.status_code == 400
    assert "(480)" in over.json()["error"]["message"]


def test_the_strict_profile_refuses_unknown_fields_and_the_lenient_one_drops_them(client):
    body = ask(sampleCount=1) | {"seed": 3}
    strict = client.post(predict(), headers=GOOGLE, json=body)
    lenient = client.post("/v1beta/models/imagen-4.0-generate-001:predict", headers=GOOGLE, json=body)

    assert strict.status_code == 400 and 'Unknown name "seed"' in strict.json()["error"]["message"]
    assert lenient.status_code == 200


@pytest.mark.parametrize(
    ("rai_reason", "expected"), [(False, {}), (True, {"predictions": [{"raiFilteredReason"}] * 2})]
)
def test_images_the_filter_keeps_back_are_free(client, rai_reason, expected):
    before = balance(client)
    answer = client.post(
        predict(),
        headers=GOOGLE | {"X-Mock-Fault": "content-policy"},
        json=ask(sampleCount=2, includeRaiReason=rai_reason),
    )

    body = answer.json()
    assert answer.status_code == 200
    assert {key: [set(p) for p in value] for key, value in body.items()} == expected
    assert balance(client) == before


def test_a_blocked_prompt_is_imagens_400(client):
    answer = client.post(predict(), headers=GOOGLE | {"X-Mock-Fault": "blocked-prompt"}, json=ask())

    assert answer.status_code == 400
    assert "Responsible AI practices" in answer.json()["error"]["message"]


def test_imagen_is_predict_only_and_the_gateways_have_no_predict(client):
    as_content = client.post(
        f"/google/v1beta/models/imagen-4.0-generate-001:generateContent?key={KEY}",
        json={"contents": [{"parts": [{"text": "a fox"}]}]},
    )
    at_vastnum = client.post(predict("vastnum"), headers={"Authorization": f"Bearer {KEY}"}, json=ask())
    listed = client.get(f"/google/v1beta/models/imagen-4.0-fast-generate-001?key={KEY}").json()

    assert (
        as_content.status_code == 404 and "not supported for generateContent" in as_content.json()["error"]["message"]
    )
    assert at_vastnum.status_code == 404
    assert listed["supportedGenerationMethods"] == ["predict"] and "temperature" not in listed


def test_a_method_the_path_does_not_take_is_googles_404_in_its_envelope(client):
    answer = client.put(f"/google/v1beta/models/gemini-2.5-flash-image:generateContent?key={KEY}")

    assert answer.status_code == 404
    assert answer.json()["error"]["status"] == "NOT_FOUND"
    assert answer.headers["allow"] == "POST"


def test_count_tokens_is_free_and_counts_input_images(client):
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    image = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png.getvalue()).decode()}}
    before = balance(client)
    answer = client.post(
        f"/google/v1beta/models/gemini-2.5-flash-image:countTokens?key={KEY}",
        json={"contents": [{"parts": [{"text": "abcdefgh"}, image]}]},
    )

    assert answer.json() == {
        "totalTokens": 2 + 258,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2}, {"modality": "IMAGE", "tokenCount": 258}],
    }
    assert balance(client) == before

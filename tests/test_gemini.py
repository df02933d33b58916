"""Gemini generateContent (seeds 002 and 004, Google's API) over HTTP, for each profile that speaks it."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

# Pixel sizes from Google's image-generation documentation (research/apis.md §1.9).
FLASH = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184), "4:3": (1184, 864),
    "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672),
}  # fmt: skip
PRO_1K = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200), "4:3": (1200, 896),
    "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672),
}  # fmt: skip
SEED_002 = {
    "contents": [{"role": "user", "parts": [{"text": "draw a cat"}]}],
    "generationConfig": {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "4K"},
    },
}  # fmt: skip
SEED_004 = {
    "contents": [
        {"role": "user", "parts": [{"text": "Generate a seaside landscape painting at sunset, oil painting style"}]}
    ],
    "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]},
}  # fmt: skip
KEY = "gemini-test-key"


def url(profile: str, model: str, method: str = "generateContent") -> str:
    prefix = "" if profile == "gemini" else f"/{profile}"
    return f"{prefix}/v1beta/models/{model}:{method}?key={KEY}"


def ask(text: str = "a red fox", **config) -> dict:
    return {"contents": [{"parts": [{"text": text}]}], "generationConfig": config}


def images_of(body: dict) -> list[Image.Image]:
    parts = body["candidates"][0]["content"].get("parts", [])
    return [Image.open(io.BytesIO(base64.b64decode(p["inlineData"]["data"]))) for p in parts if "inlineData" in p]


def inline(data: str) -> dict:
    return {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": data}}]}]}


def png(size=(160, 90), colour=(20, 200, 40)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_seed_002_through_vastnum_answers_as_the_seed_shows(client):
    response = client.post(
        "/vastnum/v1beta/models/gemini-3-pro-image-preview:generateContent",
        headers={"Authorization": "Bearer ws-key"},
        json=SEED_002,
    )

    assert response.status_code == 200
    body = response.json()
    candidate = body["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert [sorted(p) for p in candidate["content"]["parts"]] == [
        ["text", "thoughtSignature"], ["inlineData", "thoughtSignature"]
    ]  # fmt: skip
    assert candidate["finishReason"] == "STOP"
    assert candidate["safetyRatings"] == [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]
    assert candidate["content"]["parts"][1]["inlineData"]["mimeType"] == "image/png"
    assert [(i.format, i.size) for i in images_of(body)] == [("PNG", (5504, 3072))]
    usage = body["usageMetadata"]
    # new-api relays Google's usage, in which 3 Pro Image's thoughts count (research/fidelity.md G1); the
    # seed's example of usage is one without them
    assert usage["thoughtsTokenCount"] == 253
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"] + 253
    assert usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 2000}]
    assert body["modelVersion"] == "gemini-3-pro-image-preview"
    assert 20 <= len(body["responseId"]) <= 24


def test_seed_004_through_crazyrouter_answers_as_the_seed_shows(client):
    response = client.post(
        f"/crazyrouter/v1beta/models/gemini-2-5-flash-image:generateContent?key={KEY}", json=SEED_004
    )

    body = response.json()
    parts = body["candidates"][0]["content"]["parts"]
    assert response.status_code == 200
    assert [next(iter(p)) for p in parts] == ["text", "inlineData"]
    assert images_of(body)[0].size == (1024, 1024)
    assert body["modelVersion"] == "gemini-2.5-flash-image"
    assert "safetyRatings" not in body["candidates"][0]


@pytest.mark.parametrize("ratio", FLASH)
def test_flash_image_sizes(client, ratio):
    body = client.post(url("gemini", "gemini-2.5-flash-image"), json=ask(imageConfig={"aspectRatio": ratio})).json()

    assert images_of(body)[0].size == FLASH[ratio]
    assert body["usageMetadata"]["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 1290}]


@pytest.mark.parametrize(("ratio", "size", "factor", "tokens"), [
    ("1:1", "1K", 1, 1120), ("21:9", "1K", 1, 1120), ("9:16", "2K", 2, 1120), ("4:5", "2K", 2, 1120),
    ("3:2", "4K", 4, 2000),
])  # fmt: skip
def test_pro_image_sizes_and_tokens(client, ratio, size, factor, tokens):
    config = {"imageConfig": {"aspectRatio": ratio, "imageSize": size}}
    body = client.post(url("gemini", "gemini-3-pro-image-preview"), json=ask(**config)).json()

    width, height = PRO_1K[ratio]
    assert images_of(body)[0].size == (width * factor, height * factor)
    assert body["usageMetadata"]["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": tokens}]


def test_flash_makes_1k_whatever_size_is_asked(client):
    body = client.post(url("gemini", "gemini-2.5-flash-image"), json=ask(imageConfig={"imageSize": "4K"})).json()

    assert images_of(body)[0].size == (1024, 1024)


@pytest.mark.parametrize("size", ["1k", "4k", "8K", "1024"])
def test_an_image_size_google_does_not_know_is_refused(client, size):
    response = client.post(url("google", "gemini-3-pro-image-preview"), json=ask(imageConfig={"imageSize": size}))

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "image size must be one of 1K, 2K, 4K" in response.json()["error"]["message"]


@pytest.mark.parametrize(("modalities", "kinds"), [
    (["TEXT", "IMAGE"], ["text", "inlineData"]), (["Image"], ["inlineData"]), (["text"], ["text"]),
    ([], ["text", "inlineData"]),
])  # fmt: skip
def test_response_modalities_decide_the_parts_in_any_case(client, modalities, kinds):
    body = client.post(url("gemini", "gemini-2.5-flash-image"), json=ask(responseModalities=modalities)).json()

    assert [next(iter(p)) for p in body["candidates"][0]["content"]["parts"]] == kinds


def test_a_text_model_answers_text_and_refuses_images(client):
    text = client.post(url("gemini", "gemini-2.5-flash"), json=ask("hello")).json()
    image = client.post(url("gemini", "gemini-2.5-flash"), json=ask(responseModalities=["IMAGE"]))

    assert [list(p) for p in text["candidates"][0]["content"]["parts"]] == [["text"]]
    assert image.status_code == 400
    assert image.json()["error"]["message"] == "Model does not support the requested response modalities: image"


def test_snake_case_is_read_and_camel_case_written(client):
    body = {
        "contents": [
            {"parts": [{"text": "make it brighter"}, {"inline_data": {"mime_type": "image/png", "data": png()}}]}
        ],
        "generation_config": {"response_modalities": ["IMAGE"], "image_config": {"aspect_ratio": "3:4"}},
    }  # fmt: skip

    answer = client.post(url("google", "gemini-2.5-flash-image"), json=body).json()

    assert images_of(answer)[0].size == FLASH["3:4"]
    assert "inlineData" in answer["candidates"][0]["content"]["parts"][0]
    assert "usageMetadata" in answer


def test_an_edit_keeps_its_input_ratio_starts_from_it_and_counts_it(client):
    edit = {"contents": [{"parts": [{"text": "add a hat"}, {"inlineData": {"mimeType": "image/png", "data": png()}}]}]}

    body = client.post(url("gemini", "gemini-2.5-flash-image"), json=edit).json()

    image = images_of(body)[0].convert("RGB")
    assert image.size == FLASH["16:9"]
    red, green, blue = image.getpixel((image.width // 2, image.height // 4))
    assert green > 150 and red < 80 and blue < 90
    assert {"modality": "IMAGE", "tokenCount": 258} in body["usageMetadata"]["promptTokensDetails"]


def test_vastnum_drops_image_generation_config_as_new_api_does(client):
    """new-api parses the request into its own structure, which has no imageGenerationConfig (fidelity.md V2)."""
    config = {"imageGenerationConfig": {"aspectRatio": "9:16", "numberOfImages": 3}}
    headers = {"Authorization": f"Bearer {KEY}"}

    body = client.post(url("vastnum", "gemini-2.5-flash-image"), headers=headers, json=ask(**config)).json()

    assert [i.size for i in images_of(body)] == [FLASH["1:1"]]


@pytest.mark.parametrize("profile", ["gemini", "crazyrouter"])
def test_gateways_honour_number_of_images(client, profile):
    config = {"imageGenerationConfig": {"aspectRatio": "9:16", "numberOfImages": 3}}
    headers = {"Authorization": f"Bearer {KEY}"}

    body = client.post(url(profile, "gemini-2.5-flash-image"), headers=headers, json=ask(**config)).json()

    images = images_of(body)
    assert [i.size for i in images] == [FLASH["9:16"]] * 3
    assert len({i.tobytes() for i in images}) == 3
    assert body["usageMetadata"]["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 3 * 1290}]


def test_google_refuses_the_gateways_image_generation_config_as_google_does(client):
    response = client.post(
        url("google", "gemini-2.5-flash-image"), json=ask(imageGenerationConfig={"numberOfImages": 2})
    )

    error = response.json()["error"]
    assert response.status_code == 400
    message = (
        "Invalid JSON payload received. Unknown name \"imageGenerationConfig\" at 'generation_config': "
        "Cannot find field."
    )
    assert error["message"] == message
    assert error["details"][0]["fieldViolations"] == [{"description": message, "field": "generation_config"}]


@pytest.mark.parametrize("profile", ["gemini", "vastnum", "crazyrouter"])
def test_only_google_refuses_unknown_fields(client, profile):
    body = {**ask(), "size": "1024x1024"}

    assert client.post(url(profile, "gemini-2.5-flash-image"), json=body).status_code == 200
    refused = client.post(url("google", "gemini-2.5-flash-image"), json=body)
    assert (
        refused.json()["error"]["message"] == 'Invalid JSON payload received. Unknown name "size": Cannot find field.'
    )


@pytest.mark.parametrize(("profile", "headers", "query", "status", "marker"), [
    ("google", {"Authorization": f"Bearer {KEY}"}, "", 401, "UNAUTHENTICATED"),
    ("google", {}, "", 403, "PERMISSION_DENIED"),
    ("vastnum", {}, "", 401, "new_api_error"),
    ("crazyrouter", {}, "", 401, "authentication_error"),
])  # fmt: skip
def test_each_profile_refuses_keys_its_own_way(client, profile, headers, query, status, marker):
    prefix = "" if profile == "gemini" else f"/{profile}"
    response = client.post(
        f"{prefix}/v1beta/models/gemini-2.5-flash-image:generateContent{query}", headers=headers, json=ask()
    )

    assert response.status_code == status
    assert marker in json.dumps(response.json())


@pytest.mark.parametrize(("profile", "places"), [
    ("google", ["header", "query"]), ("vastnum", ["bearer", "header", "query"]),
    ("crazyrouter", ["query", "header", "bearer"]),
])  # fmt: skip
def test_each_profile_takes_the_key_where_it_documents(client, profile, places):
    forms = {
        "header": ({"x-goog-api-key": KEY}, ""),
        "query": ({}, f"?key={KEY}"),
        "bearer": ({"Authorization": f"Bearer {KEY}"}, ""),
    }
    for place in places:
        headers, query = forms[place]
        assert client.get(f"/{profile}/v1beta/models{query}", headers=headers).status_code == 200, place


def test_strict_keys_are_refused_in_each_envelope(serve):
    client = serve(strict_keys=True)

    google = client.post(url("google", "gemini-2.5-flash-image"), json=ask()).json()["error"]
    vastnum = client.post(url("vastnum", "gemini-2.5-flash-image"), json=ask())
    crazyrouter = client.post(url("crazyrouter", "gemini-2.5-flash-image"), json=ask()).json()["error"]

    assert (google["code"], google["status"], google["details"][0]["reason"]) == (
        400,
        "INVALID_ARGUMENT",
        "API_KEY_INVALID",
    )
    assert vastnum.status_code == 401 and vastnum.json()["error"]["message"].startswith("Invalid token (request id: ")
    assert crazyrouter == {"message": "Invalid API key", "type": "authentication_error", "code": "invalid_api_key"}


@pytest.mark.parametrize(("body", "message"), [
    ({"contents": []}, "contents is not specified"),
    ({"contents": [{"parts": []}]}, "contents.parts must not be empty"),
    ({"contents": [{"role": "robot", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
    ({"contents": [{"parts": [{"thought": True}]}]}, "required oneof field 'data' must have one initialized field"),
    ({"contents": "draw"}, "Invalid value at 'contents'"),
    (ask(responseModalities=["PICTURE"]), "Invalid value at 'generation_config.response_modalities[0]'"),
    (ask(imageConfig={"aspectRatio": "7:3"}),
     "aspect_ratio must be one of '1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', or '21:9'."),
    (ask(candidateCount=2), "Multiple candidates is not enabled for models/gemini-2.5-flash-image"),
    (inline("not base64!"), "Base64 decoding failed"),
    (inline("aGVsbG8="), "Unable to process input image"),
    ([], "Root element must be a message"),
])  # fmt: skip
def test_invalid_requests_get_google_s_invalid_argument(client, body, message):
    response = client.post(url("gemini", "gemini-2.5-flash-image"), json=body)

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert message in response.json()["error"]["message"]


def test_invalid_json_and_unknown_models(client):
    broken = client.post(
        url("gemini", "gemini-2.5-flash-image"), content=b"{", headers={"Content-Type": "application/json"}
    )
    unknown = client.post(url("gemini", "gemini-9-ultra"), json=ask())

    assert (broken.status_code, broken.json()["error"]["message"]) == (
        400,
        "Invalid JSON payload received. Unexpected token.",
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"].startswith("models/gemini-9-ultra is not found for API version v1beta")


def test_streaming_with_sse_sends_whole_responses_text_first_and_finishes_last(client):
    response = client.post(url("gemini", "gemini-2.5-flash-image", "streamGenerateContent") + "&alt=sse", json=ask())

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\r\n\r\n") if e]
    assert all(e.startswith("data: ") for e in events) and "[DONE]" not in response.text
    chunks = [json.loads(e.removeprefix("data: ")) for e in events]
    assert "text" in chunks[0]["candidates"][0]["content"]["parts"][0]
    assert "inlineData" in chunks[-1]["candidates"][0]["content"]["parts"][0]
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, "STOP"]
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] > 1290
    assert len({c["responseId"] for c in chunks}) == 1


def test_streaming_without_sse_is_a_json_array_of_the_same_chunks(client):
    chunks = client.post(url("gemini", "gemini-2.5-flash-image", "streamGenerateContent"), json=ask()).json()

    assert isinstance(chunks, list) and len(chunks) == 2
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_the_v1_paths_answer_as_v1beta(client):
    assert client.post(f"/v1/models/gemini-2.5-flash-image:generateContent?key={KEY}", json=ask()).status_code == 200
    assert client.get(f"/google/v1/models/gemini-2.5-flash?key={KEY}").json()["name"] == "models/gemini-2.5-flash"


def test_models_are_listed_in_pages_and_only_crazyrouter_has_the_alias(client):
    first = client.get(f"/google/v1beta/models?key={KEY}&pageSize=5").json()
    rest = client.get(f"/google/v1beta/models?key={KEY}&pageSize=5&pageToken={first['nextPageToken']}").json()
    crazy = client.get(f"/crazyrouter/v1beta/models?key={KEY}").json()

    names = [m["name"] for m in first["models"] + rest["models"]]
    assert len(first["models"]) == 5 and len(rest["models"]) == 4 and "nextPageToken" not in rest
    assert "models/gemini-3-pro-image-preview" in names and "models/gemini-2-5-flash-image" not in names
    assert "models/gemini-2-5-flash-image" in [m["name"] for m in crazy["models"]]
    assert client.get(f"/google/v1beta/models?key={KEY}&pageToken=garbage").status_code == 400
    assert client.get(f"/google/v1beta/models/gemini-2-5-flash-image?key={KEY}").status_code == 404


@pytest.mark.parametrize(("fault", "check"), [
    ("content-policy", lambda b: b["candidates"][0]["finishReason"] == "IMAGE_SAFETY" and not images_of(b)),
    ("blocked-prompt", lambda b: b["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT" and "candidates" not in b),
    ("no-image", lambda b: b["candidates"][0]["finishReason"] == "NO_IMAGE" and not images_of(b)),
])  # fmt: skip
def test_content_failures_answer_200_without_an_image(client, fault, check):
    response = client.post(url("gemini", "gemini-2.5-flash-image"), headers={"X-Mock-Fault": fault}, json=ask())

    assert response.status_code == 200
    assert check(response.json())


def test_a_refused_image_answers_as_captured(client):
    """research/fidelity.md G3: Google's words, no candidate parts, no candidates' details, thoughts counted."""
    response = client.post(
        url("gemini", "gemini-3-pro-image-preview"), headers={"X-Mock-Fault": "content-policy"}, json=ask()
    )

    candidate, usage = response.json()["candidates"][0], response.json()["usageMetadata"]
    assert candidate["finishMessage"].startswith(
        "Unable to show the generated image. The image was filtered out because it violated Google's [Generative AI "
        "Prohibited Use policy](https://policies.google.com/terms/generative-ai/use-policy). You will not be charged"
    )
    assert candidate["content"] == {"role": "model"}
    assert "candidatesTokensDetails" not in usage and usage["candidatesTokenCount"] == 0
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["thoughtsTokenCount"]


@pytest.mark.parametrize(("method", "path", "rpc"), [
    ("POST", "gemini-2.5-flash-image:generateContent", "GenerativeService.GenerateContent"),
    ("POST", "gemini-2.5-flash-image:streamGenerateContent", "GenerativeService.StreamGenerateContent"),
    ("POST", "gemini-2.5-flash-image:countTokens", "GenerativeService.CountTokens"),
    ("POST", "imagen-4.0-generate-001:predict", "PredictionService.Predict"),
    ("GET", "gemini-2.5-flash-image", "ModelService.GetModel"),
    ("GET", "", "ModelService.ListModels"),
])  # fmt: skip
def test_a_bearer_key_is_refused_naming_the_rpc_called(client, method, path, rpc):
    """research/fidelity.md G5: captured 401s name the method called, and give no domain."""
    target = f"/google/v1beta/models/{path}" if path else "/google/v1beta/models"
    response = client.request(method, target, headers={"Authorization": f"Bearer {KEY}"}, json=ask())

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="invalid_token"'
    assert response.json()["error"]["details"] == [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
        "metadata": {"service": "generativelanguage.googleapis.com",
                     "method": f"google.ai.generativelanguage.v1beta.{rpc}"},
    }]  # fmt: skip


def test_vastnum_hands_google_s_errors_on_in_new_api_s_envelope(client):
    """research/fidelity.md V1: new-api's RelayErrorHandler and WithOpenAIError; its URLs masked."""
    quota = client.post(url("vastnum", "gemini-2.5-flash-image"), headers={"X-Mock-Fault": "rate-limit"}, json=ask())
    invalid = client.post(url("vastnum", "gemini-2.5-flash-image"), json=ask(imageConfig={"aspectRatio": "7:3"}))

    error = quota.json()["error"]
    request_id = quota.headers["x-oneapi-request-id"]
    assert quota.status_code == 429 and (error["type"], error["param"], error["code"]) == ("upstream_error", "", 429)
    assert error["message"] == (
        "You exceeded your current quota, please check your plan and billing details. For more information on this "
        f"error, head to: https://***.dev/***/***/*** (request id: {request_id})"
    )
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == 400
    assert invalid.json()["error"]["message"].startswith("* GenerateContentRequest.generation_config.image_config")


def test_vastnum_lists_its_models_as_new_api_does(client):
    """research/fidelity.md V5: bare names, every other field null, no paging whatever is asked."""
    listed = client.get("/vastnum/v1beta/models?pageSize=1&pageToken=garbage", headers={"x-goog-api-key": KEY})

    assert listed.status_code == 200
    body = listed.json()
    assert body["nextPageToken"] is None and len(body["models"]) > 1
    first = body["models"][0]
    assert first["name"] == first["displayName"] == "gemini-2.5-flash-image"
    assert {value for field, value in first.items() if field not in ("name", "displayName")} == {None}


@pytest.mark.parametrize(("profile", "fault", "status", "marker"), [
    ("google", "rate-limit", 429, "RetryInfo"),
    ("vastnum", "rate-limit", 429, "upstream_error"),
    ("crazyrouter", "rate-limit", 429, "rate_limit_error"),
    ("google", "insufficient-credits", 429, "QuotaFailure"),
    ("vastnum", "insufficient-credits", 403, "insufficient_user_quota"),
    ("crazyrouter", "insufficient-credits", 403, "insufficient_quota"),
    ("google", "server-error", 500, "INTERNAL"),
    ("google", "overloaded", 503, "UNAVAILABLE"),
    ("google", "timeout", 504, "DEADLINE_EXCEEDED"),
])  # fmt: skip
def test_forced_failures_answer_in_each_profiles_envelope_and_charge_nothing(client, profile, fault, status, marker):
    response = client.post(url(profile, "gemini-2.5-flash-image"), headers={"X-Mock-Fault": fault}, json=ask())

    assert response.status_code == status
    assert marker in json.dumps(response.json())
    assert client.get(f"/_mock/accounts/{KEY}").json()["charged"] == 0


@pytest.mark.parametrize(("profile", "status"), [("google", 429), ("vastnum", 403), ("crazyrouter", 403)])
def test_an_empty_account_is_refused_and_charged_nothing(client, profile, status):
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 0})

    assert client.post(url(profile, "gemini-2.5-flash-image"), json=ask()).status_code == status
    assert client.get(f"/_mock/accounts/{KEY}").json()["credits"] == 0


def test_credits_follow_the_tokens(client):
    body = client.post(url("gemini", "gemini-3-pro-image-preview"), json=ask(imageConfig={"imageSize": "4K"})).json()

    charged = client.get(f"/_mock/accounts/{KEY}").json()["charged"]
    assert charged == -(-body["usageMetadata"]["totalTokenCount"] // 1000) == 3


def test_root_requests_are_journalled_as_gemini_and_prefixed_ones_as_their_profile(client):
    client.post(url("gemini", "gemini-2.5-flash-image"), json=ask())
    client.get(f"/vastnum/v1beta/models?key={KEY}")

    assert [e["profile"] for e in client.get("/_mock/requests").json()["requests"]] == ["gemini", "vastnum"]


def test_vastnum_names_every_request_as_new_api_does(client):
    headers = {"Authorization": f"Bearer {KEY}"}
    answered = client.post(url("vastnum", "gemini-2.5-flash-image"), headers=headers, json=ask())
    refused = client.post("/vastnum/v1beta/models/gemini-2.5-flash-image:generateContent", json=ask())

    request_id = answered.headers["x-oneapi-request-id"]
    assert re.fullmatch(r"\d{14}\d{1,9}[0-9a-f]{8}", request_id), request_id  # time, nanoseconds, 8 random
    error = refused.json()["error"]
    assert list(error) == ["message", "type", "param", "code"] and error["param"] == ""
    assert error["message"].endswith(f"(request id: {refused.headers['x-oneapi-request-id']})")


def test_vastnum_checks_the_model_and_the_balance_before_the_body(client):
    """new-api's distributor, then its pre-consumed quota, come before Google reads the body (fidelity V3, V10)."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    unknown = client.post(url("vastnum", "gemini-9-image"), headers=headers, content=b"{not json")
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 0}).raise_for_status()
    broke = client.post(url("vastnum", "gemini-2.5-flash-image"), headers=headers, content=b"{not json")

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (503, "model_not_found")
    assert "No available channel for model gemini-9-image" in unknown.json()["error"]["message"]
    assert (broke.status_code, broke.json()["error"]["code"]) == (403, "insufficient_user_quota")


@pytest.mark.parametrize(
    ("profile", "query", "separator"), [("vastnum", "", "\n\n"), ("google", "&alt=sse", "\r\n\r\n")]
)
def test_vastnum_streams_events_whatever_alt_says_and_separates_them_as_new_api_does(client, profile, query, separator):
    headers = {"Authorization": f"Bearer {KEY}"} if profile == "vastnum" else {}
    answer = client.post(
        url(profile, "gemini-2.5-flash-image", "streamGenerateContent") + query, headers=headers, json=ask()
    )

    assert answer.headers["content-type"].startswith("text/event-stream")
    events = answer.text.split(separator)
    assert events[-1] == "" and all(event.startswith("data: {") for event in events[:-1])
    assert "\r" not in answer.text or separator == "\r\n\r\n"


def test_vastnum_has_no_model_route_and_answers_a_missing_one_as_new_api_does(client):
    answer = client.get(f"/vastnum/v1beta/models/gemini-2.5-flash-image?key={KEY}")

    assert answer.status_code == 404
    assert answer.json() == {"error": {
        "message": "Invalid URL (GET /vastnum/v1beta/models/gemini-2.5-flash-image)",
        "type": "invalid_request_error", "param": "", "code": "",
    }}  # fmt: skip

"""Vydra (seed 001) end to end, over HTTP: every documented behaviour and error."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image

# Gemini 2.5 Flash Image's output sizes, from Google's documentation (research/apis.md §1.9).
PIXELS = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}

GENERATE = "/api/v1/models/gemini/generate"
KEY = "vydra_live_user_42_test"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEED_PROMPT = (
    "A cozy cabin in the mountains during winter, snow falling gently, warm light from windows, photorealistic"
)
MISSING_PROMPT = {"error": "Missing required field: prompt (string)"}


def balance(client: httpx.Client, key: str = KEY) -> int:
    return client.get("/api/v1/organization", headers={"Authorization": f"Bearer {key}"}).json()["creditsRemaining"]


def set_credits(client: httpx.Client, credits: int, key: str = KEY) -> None:
    client.put(f"/_mock/accounts/{key}", json={"credits": credits}).raise_for_status()


def test_the_seed_example_gets_the_documented_answer(client):
    response = client.post(GENERATE, headers=AUTH, json={"prompt": SEED_PROMPT, "aspectRatio": "16:9"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"imageUrl", "mimeType", "creditsCharged", "durationMs"}
    assert body["mimeType"] == "image/png"
    assert body["creditsCharged"] == 5
    assert isinstance(body["durationMs"], int) and body["durationMs"] >= 0
    image = client.get(body["imageUrl"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (1344, 768)


@pytest.mark.parametrize("ratio", PIXELS)
def test_each_aspect_ratio_serves_a_png_of_its_pixel_size(client, ratio):
    url = client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse", "aspectRatio": ratio}).json()["imageUrl"]

    picture = Image.open(io.BytesIO(client.get(url).content))
    assert picture.format == "PNG"
    assert picture.size == PIXELS[ratio]


def test_aspect_ratio_defaults_to_square(client):
    url = client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}).json()["imageUrl"]

    assert Image.open(io.BytesIO(client.get(url).content)).size == (1024, 1024)


def test_the_prefixed_and_root_paths_are_the_same_service(client):
    prefixed = client.post("/vydra" + GENERATE, headers=AUTH, json={"prompt": "a lighthouse"})

    assert prefixed.status_code == 200
    assert balance(client) == 995
    assert client.get("/vydra/api/v1/organization", headers=AUTH).json()["creditsRemaining"] == 995


def test_same_request_same_image_bytes(client):
    first = client.post(GENERATE, headers=AUTH, json={"prompt": "a red fox", "aspectRatio": "3:2"}).json()
    second = client.post(GENERATE, headers=AUTH, json={"prompt": "a red fox", "aspectRatio": "3:2"}).json()
    other = client.post(GENERATE, headers=AUTH, json={"prompt": "a grey fox", "aspectRatio": "3:2"}).json()

    assert client.get(first["imageUrl"]).content == client.get(second["imageUrl"]).content
    assert client.get(first["imageUrl"]).content != client.get(other["imageUrl"]).content


@pytest.mark.parametrize(
    "body",
    [{}, {"aspectRatio": "1:1"}, {"prompt": ""}, {"prompt": None}, {"prompt": 42}, {"prompt": ["a"]}, [], "text"],
    ids=repr,
)
def test_missing_prompt_gets_the_exact_documented_400(client, body):
    response = client.post(GENERATE, headers=AUTH, json=body)

    assert response.status_code == 400
    assert response.json() == MISSING_PROMPT
    assert balance(client) == 1000


@pytest.mark.parametrize("ratio", ["7:3", "16:10", "1:1 ", "", 1, None])
def test_unknown_aspect_ratio_is_a_clear_400(client, ratio):
    response = client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse", "aspectRatio": ratio})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_INPUT"
    assert "aspectRatio" in body["error"] and "21:9" in body["error"]
    assert balance(client) == 1000


def test_invalid_json_is_a_400_not_a_500(client):
    response = client.post(GENERATE, headers={**AUTH, "Content-Type": "application/json"}, content=b'{"prompt": "x"')

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"
    assert "JSON" in response.json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_a_400(client, content_type):
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    response = client.post(GENERATE, headers=headers, content=b'{"prompt": "x"}')

    assert response.status_code == 400
    assert "application/json" in response.json()["error"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "MISSING_AUTH"),
        ({"Authorization": KEY}, "INVALID_FORMAT"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "INVALID_FORMAT"),
        ({"Authorization": "Bearer"}, "INVALID_FORMAT"),
    ],
)
def test_missing_or_malformed_key_gets_vydras_401(client, headers, code):
    response = client.post(GENERATE, headers=headers, json={"prompt": "a lighthouse"})

    assert response.status_code == 401
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], dict)


def test_strict_keys_refuse_an_unknown_key_and_accept_a_listed_one(serve):
    client = serve(strict_keys=True, accounts={KEY: 10})

    unknown = client.post(GENERATE, headers={"Authorization": "Bearer someone_else"}, json={"prompt": "x"})
    known = client.post(GENERATE, headers=AUTH, json={"prompt": "x"})

    assert unknown.status_code == 401
    assert unknown.json()["code"] == "KEY_NOT_FOUND"
    assert known.status_code == 200
    assert balance(client) == 5


@pytest.mark.parametrize("credits", [0, 1, 4])
def test_balance_below_the_price_gets_the_documented_402_and_is_not_charged(client, credits):
    set_credits(client, credits)

    response = client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"})

    assert response.status_code == 402
    assert response.json() == {"error": "Insufficient credits", "creditsRequired": 5, "creditsRemaining": credits}
    assert balance(client) == credits


def test_exactly_the_price_is_enough(client):
    set_credits(client, 5)

    assert client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}).status_code == 200
    assert balance(client) == 0
    assert client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}).status_code == 402


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [
        ("content-policy", 500, "Content policy violation"),
        ("server-error", 500, "Internal server error"),
        ("timeout", 504, "Request timed out"),
    ],
)
def test_a_failure_after_the_charge_is_refunded(client, fault, status, message):
    response = client.post(GENERATE, headers={**AUTH, "X-Mock-Fault": fault}, json={"prompt": "a lighthouse"})

    assert response.status_code == status
    assert response.json() == {"error": "Failed to generate image", "message": message}
    assert balance(client) == 1000
    account = client.get(f"/_mock/accounts/{KEY}").json()
    assert (account["charged"], account["refunded"]) == (5, 5)


def test_a_queued_content_policy_fault_hits_the_next_generation_only(client):
    client.post("/_mock/faults", json={"profile": "vydra", "fault": "content-policy"}).raise_for_status()

    assert client.get("/api/v1/organization", headers=AUTH).status_code == 200  # not a generation: not used up
    failed = client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"})
    succeeded = client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"})

    assert failed.status_code == 500
    assert failed.json() == {"error": "Failed to generate image", "message": "Content policy violation"}
    assert succeeded.status_code == 200
    assert balance(client) == 995


def test_a_queued_fault_is_not_used_up_by_an_invalid_request(client):
    client.post("/_mock/faults", json={"profile": "vydra", "fault": "content-policy"}).raise_for_status()

    assert client.post(GENERATE, headers=AUTH, json={}).status_code == 400
    assert client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}).status_code == 500


def test_a_queued_fault_is_not_used_up_by_a_request_refused_for_credits(client):
    set_credits(client, 0)
    client.post("/_mock/faults", json={"profile": "vydra", "fault": "content-policy"}).raise_for_status()

    assert client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}).status_code == 402
    set_credits(client, 5)
    assert client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}).status_code == 500
    assert balance(client) == 5


def test_a_prompt_with_a_lone_surrogate_is_drawn_and_journalled(client):
    body = b'{"prompt": "fox \\udfff in snow"}'
    response = client.post(GENERATE, headers={**AUTH, "Content-Type": "application/json"}, content=body)

    assert response.status_code == 200
    assert client.get(response.json()["imageUrl"]).status_code == 200
    journal = client.get("/_mock/requests")
    assert journal.status_code == 200
    assert journal.json()["requests"][0]["body"]["prompt"] == "fox \udfff in snow"


def test_json_nested_too_deeply_is_a_400_and_still_journalled(client):
    deep = b"[" * 100_000 + b"]" * 100_000
    response = client.post(GENERATE, headers={**AUTH, "Content-Type": "application/json"}, content=deep)

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"
    entries = client.get("/_mock/requests").json()["requests"]
    assert [e["status"] for e in entries] == [400]


def test_a_queued_fault_for_a_path_only_hits_that_path(client):
    client.post(
        "/_mock/faults", json={"profile": "vydra", "fault": "rate-limit", "times": 2, "path": "/api/v1/models"}
    ).raise_for_status()

    assert client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}).status_code == 200
    assert client.get("/vydra/api/v1/models", headers=AUTH).status_code == 429
    assert client.get("/api/v1/models", headers=AUTH).status_code == 429
    assert client.get("/api/v1/models", headers=AUTH).status_code == 200


def test_forced_rate_limit_gets_the_documented_429_and_charges_nothing(client):
    response = client.post(GENERATE, headers={**AUTH, "X-Mock-Fault": "rate-limit"}, json={"prompt": "a lighthouse"})

    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "Rate limit exceeded"
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["retryAfter"] == int(response.headers["Retry-After"]) > 0
    assert body["limits"]["type"] == "minute"
    assert body["limits"]["used"] > body["limits"]["limit"]
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert balance(client) == 1000


def test_forced_insufficient_credits_answers_as_an_empty_account_and_charges_nothing(client):
    response = client.post(
        GENERATE, headers={**AUTH, "X-Mock-Fault": "insufficient-credits"}, json={"prompt": "a lighthouse"}
    )

    assert response.status_code == 402
    assert response.json() == {"error": "Insufficient credits", "creditsRequired": 5, "creditsRemaining": 0}
    assert balance(client) == 1000


def test_rate_limit_headers_come_with_every_authenticated_answer(client):
    answers = [
        client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"}),
        client.post(GENERATE, headers=AUTH, json={}),
        client.get("/api/v1/organization", headers=AUTH),
        client.get("/api/v1/models", headers=AUTH),
    ]

    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    assert all(a.headers["X-RateLimit-Limit"] == "60" for a in answers)
    assert remaining == [59, 58, 57, 56]
    assert all(int(a.headers["X-RateLimit-Reset"]) > time.time() for a in answers)


def test_rate_limits_endpoint_reports_the_plan_and_usage(client):
    client.post(GENERATE, headers=AUTH, json={"prompt": "a lighthouse"})

    body = client.get("/api/v1/account/rate-limits", headers=AUTH).json()

    assert body["plan"] == "creator"
    assert body["limits"] == {"rpm": 60, "rph": 1500, "rpd": 20000, "concurrent": 10}
    assert body["usage"]["minute"] == {"used": 2, "limit": 60}
    assert body["usage"]["day"]["used"] == 2


def test_organization_reports_the_ledger(client):
    set_credits(client, 12)

    body = client.get("/api/v1/organization", headers=AUTH).json()

    assert body["creditsRemaining"] == 12
    assert body["plan"] == "creator"
    assert body["id"].startswith("org_")


def test_models_lists_the_gemini_model_with_its_price_and_filters(client):
    listed = client.get("/api/v1/models", headers=AUTH).json()
    other_provider = client.get("/api/v1/models", params={"provider": "fal"}, headers=AUTH).json()
    inactive = client.get("/api/v1/models", params={"isActive": "false"}, headers=AUTH).json()
    invalid = client.get("/api/v1/models", params={"isActive": "maybe"}, headers=AUTH)

    assert listed["count"] == 1
    model = listed["data"][0]
    assert (model["slug"], model["creditsPerUnit"]) == ("gemini-image-generate", 5)
    assert model["inputSchema"]["properties"]["aspectRatio"]["enum"] == list(PIXELS)
    assert other_provider == {"data": [], "count": 0}
    assert inactive == {"data": [], "count": 0}
    assert invalid.status_code == 400


def test_health_needs_no_key(client):
    response = client.get("/api/v1/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_paths_and_methods_answer_in_vydras_format(client):
    missing = client.get("/vydra/api/v1/nothing")
    wrong_method = client.delete(GENERATE, headers=AUTH)

    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
    assert wrong_method.headers["Allow"] == "POST"


def test_an_unknown_or_inapplicable_fault_header_is_a_clear_400(client):
    unknown = client.post(GENERATE, headers={**AUTH, "X-Mock-Fault": "meteor"}, json={"prompt": "x"})
    inapplicable = client.get("/api/v1/health", headers={"X-Mock-Fault": "content-policy"})

    assert unknown.status_code == 400
    assert "meteor" in unknown.json()["error"] and "content-policy" in unknown.json()["error"]
    assert inapplicable.status_code == 400
    assert "does not apply" in inapplicable.json()["error"]
    assert balance(client) == 1000


@pytest.mark.parametrize("value", ["soon", "-1", "600001", "1.5"])
def test_an_invalid_delay_header_is_a_clear_400(client, value):
    response = client.get("/api/v1/health", headers={"X-Mock-Delay-Ms": value})

    assert response.status_code == 400
    assert "X-Mock-Delay-Ms" in response.json()["error"]


def test_latency_is_added_per_request_and_globally(client, serve):
    started = time.perf_counter()
    client.get("/api/v1/health", headers={"X-Mock-Delay-Ms": "150"})
    per_request = time.perf_counter() - started
    slow = serve(latency=150)
    started = time.perf_counter()
    slow.get("/api/v1/health")
    globally = time.perf_counter() - started

    assert per_request >= 0.15
    assert globally >= 0.15


def test_served_files_stop_at_eviction(serve):
    client = serve(files_max_count=1)
    first = client.post(GENERATE, headers=AUTH, json={"prompt": "one"}).json()["imageUrl"]
    second = client.post(GENERATE, headers=AUTH, json={"prompt": "two"}).json()["imageUrl"]

    assert client.get(second).status_code == 200
    assert client.get(first).status_code == 404

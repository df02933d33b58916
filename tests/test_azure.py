"""The `azure` profile through the openai SDK's AzureOpenAI client: OpenAI's images under a deployment, Azure's
api-version, keys and refusals."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from PIL import Image

import contracts
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "azure-profile-test-key"
CREDITS = 10_000
VERSION = "2024-10-21"
PRICES = {name: entry["price"] for name, entry in contracts.models("azure").items()}


@pytest.fixture
def mock() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Settings(strict_keys=True, accounts={KEY: CREDITS}))) as server:
        yield server


def azure(server: BackgroundServer, key: str = KEY, version: str = VERSION) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(api_key=key, api_version=version, azure_endpoint=f"{server.url}/azure", max_retries=0)


def balance(server: BackgroundServer) -> int:
    return httpx.get(f"{server.url}/_mock/accounts/{KEY}").json()["credits"]


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 20, 30, 255)).save(out, "PNG")
    return out.getvalue()


def test_the_deployments_model_draws_and_is_charged_openais_price(mock):
    client = azure(mock)
    url = client.images.generate(model="dall-e-3", prompt="a fox", size="1024x1792").data[0].url
    drawn = client.images.generate(model="gpt-image-1-mini", prompt="a fox", quality="low")

    assert Image.open(io.BytesIO(httpx.get(url).content)).size == (1024, 1792)
    assert drawn.usage.output_tokens == 272
    assert CREDITS - balance(mock) == PRICES["dall-e-3"]["standard"]["1024x1792"] + PRICES["gpt-image-1-mini"]["low"][
        "1024x1024"]  # fmt: skip


def test_an_edit_goes_to_the_deployment_too(mock):
    answer = azure(mock).images.edit(model="gpt-image-1", image=("in.png", png(1024, 1536), "image/png"),
                                     prompt="a hat", quality="low", size="auto")  # fmt: skip

    assert answer.size == "1024x1536"


def test_a_bearer_key_works_as_well_as_api_key(mock):
    response = httpx.post(f"{mock.url}/azure/openai/deployments/dall-e-3/images/generations",
                          params={"api-version": VERSION}, headers={"Authorization": f"Bearer {KEY}"},
                          json={"prompt": "a fox", "response_format": "b64_json"})  # fmt: skip

    assert response.status_code == 200 and response.json()["data"][0]["b64_json"]


@pytest.mark.parametrize("params", [{}, {"api-version": "1999-01-01"}])
def test_a_missing_or_unsupported_api_version_is_azures_404(mock, params):
    response = httpx.post(f"{mock.url}/azure/openai/deployments/dall-e-3/images/generations", params=params,
                          headers={"api-key": KEY}, json={"prompt": "a fox"})  # fmt: skip

    assert (response.status_code, response.json()) == (404, {"error": {"code": "404", "message": "Resource not found"}})


def test_keys_and_deployments_are_refused_in_azures_envelope(mock):
    with pytest.raises(openai.AuthenticationError) as unknown:
        azure(mock, key="not-this-mocks-key").images.generate(model="dall-e-3", prompt="a fox")
    missing = httpx.post(f"{mock.url}/azure/openai/deployments/dall-e-3/images/generations",
                         params={"api-version": VERSION}, json={"prompt": "a fox"})  # fmt: skip
    with pytest.raises(openai.NotFoundError) as no_deployment:
        azure(mock).images.generate(model="my-images", prompt="a fox")

    assert unknown.value.body["message"].startswith("Access denied due to invalid subscription key")
    assert missing.status_code == 401 and missing.json()["error"]["message"].startswith("Access denied due to missing")
    assert no_deployment.value.body["code"] == "DeploymentNotFound"


def test_a_filtered_prompt_is_azures_400_with_the_filters_results_and_costs_nothing(mock):
    with pytest.raises(openai.BadRequestError) as filtered:
        azure(mock).images.generate(model="dall-e-3", prompt="a fox", extra_headers={"X-Mock-Fault": "content-policy"})

    inner = filtered.value.body["inner_error"]
    assert filtered.value.code == "content_policy_violation"
    assert inner["code"] == "ResponsibleAIPolicyViolation" and inner["content_filter_results"]["sexual"]["filtered"]
    assert balance(mock) == CREDITS


def test_the_body_is_checked_by_openais_rules(mock):
    with pytest.raises(openai.BadRequestError) as refused:
        azure(mock).images.generate(model="dall-e-3", prompt="a fox", n=2)

    assert refused.value.body["message"] == "You must provide n=1 for this model."


@pytest.mark.parametrize("credits", [None, 0])
def test_a_rate_limit_and_a_used_up_account_are_azures_429_with_retry_after(mock, credits):
    if credits is None:
        headers = {"X-Mock-Fault": "rate-limit"}
    else:
        headers = {}
        httpx.put(f"{mock.url}/_mock/accounts/{KEY}", json={"credits": credits})
    with pytest.raises(openai.RateLimitError) as limited:
        azure(mock).images.generate(model="dall-e-3", prompt="a fox", extra_headers=headers)

    assert limited.value.body["code"] == "429" and "exceeded call rate limit" in limited.value.body["message"]
    assert limited.value.response.headers["retry-after"] == "60"


@pytest.mark.imagegen_scenarios("azure")
def test_the_pytest_plugin_plays_every_documented_behaviour(imagegen_mock, imagegen_scenario):
    from conformance.scenarios import request_args

    imagegen_mock.arm(imagegen_scenario)
    args = request_args(imagegen_scenario, imagegen_scenario.request, imagegen_mock.api_key)
    answer = httpx.request(**{**args, "url": imagegen_mock.url("azure") + args["url"]})

    assert answer.status_code == imagegen_scenario.status
    assert [name for name in imagegen_scenario.headers if name not in answer.headers] == []

"""The contracts: valid OpenAPI 3.1, faithful to the seed, and obeyed by the mock."""

from __future__ import annotations

import base64
import io

import pytest
import schemathesis
from openapi_spec_validator import validate
from PIL import Image
from starlette.testclient import TestClient

import contracts
from conformance.schema import contract_settings, generated
from mockserver import Settings, create_app
from mockserver.dialects.profiles import PROFILES
from mockserver.dialects.vydra import ASPECT_RATIOS
from mockserver.pipeline.forced import FAULTS

# As listed in seed 001, Request Body: aspectRatio.
SEED_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]


def test_every_contract_is_valid_openapi_3_1():
    assert contracts.names() == [
        "admin", "azure", "crazyrouter", "gemini", "geminigen", "google", "llmgateway", "openai", "vastnum", "vydra"
    ]  # fmt: skip
    for name in contracts.names():
        document = contracts.load(name)
        assert document["openapi"] == "3.1.0"
        validate(document)


def test_vydra_lists_the_seeds_aspect_ratios_as_the_mock_does():
    enum = contracts.load("vydra")["components"]["schemas"]["AspectRatio"]["enum"]

    assert enum == SEED_RATIOS == list(ASPECT_RATIOS)


def test_vydra_carries_the_seeds_examples():
    generate = contracts.load("vydra")["paths"]["/api/v1/models/gemini/generate"]["post"]
    responses = generate["responses"]

    assert generate["requestBody"]["content"]["application/json"]["example"]["aspectRatio"] == "16:9"
    assert responses["200"]["content"]["application/json"]["example"]["creditsCharged"] == 5
    assert responses["400"]["content"]["application/json"]["examples"]["missingPrompt"]["value"] == {
        "error": "Missing required field: prompt (string)"
    }
    assert responses["402"]["content"]["application/json"]["example"] == {
        "error": "Insufficient credits",
        "creditsRequired": 5,
        "creditsRemaining": 2,
    }
    assert responses["500"]["content"]["application/json"]["example"] == {
        "error": "Failed to generate image",
        "message": "Content policy violation",
    }


ADMIN_APP = create_app(Settings())
ADMIN = TestClient(ADMIN_APP).get("/_mock/contracts/admin", params={"format": "json"}).json()  # as the mock serves it
admin = schemathesis.openapi.from_dict(
    ADMIN,
    config=schemathesis.Config.from_dict(
        {"generation": {"max-examples": 15, "database": "none"}, "seed": 1, **contract_settings(ADMIN)}
    ),
)
admin.app = ADMIN_APP


@admin.parametrize()
def test_the_admin_api_obeys_its_contract(case):
    case.call_and_validate()


def test_a_merge_patch_merges_objects_removes_nulls_and_replaces_the_rest():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 4, "e": {"f": 5}}
    patch = {"a": {"b": 9, "c": [3]}, "d": None, "g": 7}

    assert contracts.merge_patch(base, patch) == {"a": {"b": 9, "c": [3]}, "e": {"f": 5}, "g": 7}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 4, "e": {"f": 5}}


def test_gemini_pixel_tables_are_googles():
    sizes = contracts.load("gemini")["x-image-sizes"]

    assert sizes["flash-image"]["1K"]["21:9"] == [1536, 672]
    assert sizes["pro-image"]["1K"]["9:16"] == [768, 1376]
    assert sizes["pro-image"]["2K"]["4:5"] == [1856, 2304]
    assert sizes["pro-image"]["4K"]["16:9"] == [5504, 3072]
    assert sizes["pro-image"]["4K"]["21:9"] == [6336, 2688]


def first_image_size(answer: dict) -> tuple[int, int]:
    parts = answer["candidates"][0]["content"]["parts"]
    data = next(part["inlineData"]["data"] for part in parts if "inlineData" in part)
    return Image.open(io.BytesIO(base64.b64decode(data))).size


@pytest.mark.parametrize("name", ["gemini", "google", "vastnum", "crazyrouter"])
def test_each_gemini_profile_behaves_as_its_contract_says(client, name):
    contract = contracts.load(name)
    documented = {next(iter(option)) for option in contract["security"]}
    config = contract["components"]["schemas"]["GenerationConfig"]
    ways = {"ApiKeyHeader": {"headers": {"x-goog-api-key": "k"}}, "ApiKeyQuery": {"params": {"key": "k"}},
            "BearerAuth": {"headers": {"Authorization": "Bearer k"}}}  # fmt: skip
    generate = f"/{name}/v1beta/models/gemini-2.5-flash-image:generateContent"
    ask = {"contents": [{"parts": [{"text": "a fox"}]}]}

    accepted = {
        scheme for scheme, way in ways.items() if client.get(f"/{name}/v1beta/models", **way).status_code == 200
    }
    unknown = client.post(generate, params={"key": "k"}, json={**ask, "generationConfig": {"unknownField": 1}})
    gateway_config = {"imageGenerationConfig": {"aspectRatio": "16:9"}}
    gateways = client.post(generate, params={"key": "k"}, json={**ask, "generationConfig": gateway_config})

    assert accepted == documented
    assert (unknown.status_code == 400) == (config.get("additionalProperties") is False)
    assert gateways.status_code == (400 if config.get("additionalProperties") is False else 200)
    honoured = gateways.status_code == 200 and first_image_size(gateways.json()) == (1344, 768)  # 16:9, not 1:1
    assert honoured == ("imageGenerationConfig" in config["properties"])
    assert ("gemini-2-5-flash-image" in contract["x-models"]) == (name in ("gemini", "crazyrouter"))


def test_the_admin_contract_names_every_profile_and_fault():
    schemas = ADMIN["components"]["schemas"]

    assert schemas["ProfileName"]["enum"] == list(PROFILES)
    assert schemas["FaultName"]["enum"] == list(FAULTS)


def test_llmgateway_lists_the_seeds_options():
    schemas = contracts.load("llmgateway")["components"]["schemas"]
    generation, edit = schemas["GenerationRequest"]["properties"], schemas["EditRequest"]["properties"]

    assert generation["quality"]["enum"] == ["standard", "hd", "low", "medium", "high"]
    assert generation["style"]["enum"] == ["vivid", "natural"]
    assert generation["response_format"]["const"] == "b64_json"
    assert (generation["n"]["minimum"], generation["n"]["maximum"]) == (1, 10)
    assert edit["quality"]["enum"] == ["low", "medium", "high", "auto"]
    assert edit["output_format"]["enum"] == ["png", "jpeg", "webp"]
    assert (edit["images"]["minItems"], edit["images"]["maxItems"]) == (1, 16)
    assert contracts.load("llmgateway")["x-models"]["auto"] == {"aliasOf": "gemini-3-pro-image-preview"}


def test_llmgateway_borrows_googles_pixel_tables():
    assert contracts.image_sizes("llmgateway") == contracts.load("gemini")["x-image-sizes"]


@pytest.mark.parametrize("name", ["gemini", "google", "vastnum", "crazyrouter"])
def test_what_schemathesis_leaves_out_is_gone_from_what_it_generates_from_and_only_that(name):
    contract = contracts.load(name)
    left_out = contract["x-schemathesis"]["not-generated"]

    schemas, original = generated(contract)["components"]["schemas"], contract["components"]["schemas"]

    for schema_name, properties in left_out.items():
        kept = set(original[schema_name]["properties"]) - set(properties)
        assert set(schemas[schema_name]["properties"]) == kept
        assert all(not set(branch["required"]) & set(properties) for branch in schemas[schema_name].get("anyOf", []))
    assert set(original["Part"]["properties"]) >= set(left_out["Part"]), "the contract itself keeps them"
    assert [b["required"] for b in schemas["Part"]["anyOf"]] == [["text"], ["inlineData"]]

"""The contracts: valid OpenAPI 3.1, faithful to the seed, and obeyed by the mock."""

from __future__ import annotations

import schemathesis
from openapi_spec_validator import validate

import contracts
from mockserver import Settings, create_app
from mockserver.dialects.vydra import ASPECT_RATIOS
from mockserver.faults import FAULTS
from mockserver.profiles import PROFILES

# As listed in seed 001, Request Body: aspectRatio.
SEED_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]


def test_every_contract_is_valid_openapi_3_1():
    assert contracts.names() == ["admin", "geminigen", "vydra"]
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


# Rules a schema cannot state, so a valid-looking request may rightly get 400: which paths take which
# fault, which hosts a webhook may call, and how far the clock has already been moved.
MAY_REFUSE = [
    {"include-name": name, "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400"]}}}
    for name in ("POST /_mock/faults", "PUT /_mock/accounts/{api_key}", "POST /_mock/clock")
]
admin = schemathesis.openapi.from_dict(
    contracts.load("admin"),
    config=schemathesis.Config.from_dict(
        {"generation": {"max-examples": 15, "database": "none"}, "seed": 1, "operations": MAY_REFUSE}
    ),
)
admin.app = create_app(Settings())


@admin.parametrize()
def test_the_admin_api_obeys_its_contract(case):
    case.call_and_validate()


def test_the_admin_contract_names_every_profile_and_fault():
    schemas = contracts.load("admin")["components"]["schemas"]

    assert schemas["ProfileName"]["enum"] == list(PROFILES)
    assert schemas["FaultName"]["enum"] == list(FAULTS)

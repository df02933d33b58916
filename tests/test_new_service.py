"""Adding a Gemini gateway is a contract and a row of the profile table (CONTRIBUTING.md): a profile built
from a row the project does not ship serves what its contract says, and the whole kit passes against it."""

from __future__ import annotations

import httpx
import pytest

import contracts
from conformance import Target, run_check
from conformance.runner import BUNDLED_KEY, bundled_settings
from mockserver import PROFILES, BackgroundServer, Profile, create_app
from mockserver.dialects import gemini

# A gateway that reads keys as Bearer tokens or ?key= only, and refuses in its own words.
CONTRACT = """
x-extends: gemini
info:
  title: Example Gemini gateway
  summary: A gateway in front of Gemini, defined outside the project.
security:
  - BearerAuth: []
  - ApiKeyQuery: []
x-schemathesis:
  exclude-checks:
    ignored_auth: null
x-refusals:
  missing-key: {status: 401, envelope: gateway, message: A key is needed, type: auth_error, code: no_key}
  unknown-key: {status: 401, envelope: gateway, message: That key is unknown, type: auth_error, code: bad_key}
  quota: {status: 403, envelope: gateway, message: The credit is spent, type: billing_error, code: no_credit}
components:
  securitySchemes:
    ApiKeyHeader: null
"""
ROW = Profile(name="examplegw", title="Example gateway", source="tests/test_new_service.py", dialect=gemini,
              at_root=False)  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("contracts")
    (folder / f"{ROW.name}.yaml").write_text(CONTRACT, encoding="utf-8")
    contracts.add_folder(folder)
    try:
        with BackgroundServer(create_app(bundled_settings(), profiles={**PROFILES, ROW.name: ROW})) as server:
            yield f"{server.url}/{ROW.name}"
    finally:
        contracts.remove_folder(folder)


def test_the_new_profile_refuses_as_its_contract_says(served):
    generate = f"{served}/v1beta/models/gemini-2.5-flash-image:generateContent"
    ask = {"contents": [{"parts": [{"text": "a fox"}]}]}

    missing = httpx.post(generate, json=ask)
    header_only = httpx.post(generate, json=ask, headers={"x-goog-api-key": BUNDLED_KEY})
    bearer = httpx.post(generate, json=ask, headers={"Authorization": f"Bearer {BUNDLED_KEY}"})

    assert missing.status_code == header_only.status_code == 401
    assert missing.json() == {"error": {"message": "A key is needed", "type": "auth_error", "code": "no_key"}}
    assert bearer.status_code == 200


def test_the_kit_passes_against_the_new_profile(served):
    report = run_check(Target(ROW.name, served, BUNDLED_KEY), examples=3)

    assert {v.status for v in report.verdicts} == {"pass"}, [(v.behaviour.name, v.detail) for v in report.verdicts]
    checked = {v.behaviour.name for v in report.verdicts}
    assert {"contract", "documented-scenarios", "key-places", "missing-key-refused", "quota-refusal"} <= checked

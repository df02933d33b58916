"""The admin API under /_mock/."""

from __future__ import annotations

import json

import pytest
import yaml

import contracts

GENERATE = "/api/v1/models/gemini/generate"


def test_health_lists_the_profiles(client):
    body = client.get("/_mock/health").json()

    assert body["status"] == "ok"
    assert body["profiles"]["vydra"] == {"title": "Vydra", "prefix": "/vydra", "contract": "/_mock/contracts/vydra"}


def test_put_and_get_an_account(client):
    put = client.put("/_mock/accounts/some-key", json={"credits": 12.0})
    got = client.get("/_mock/accounts/some-key")

    assert put.status_code == 200
    assert got.json()["credits"] == 12
    assert got.json() == put.json()


def test_get_account_opens_nothing(client):
    assert client.get("/_mock/accounts/never-used").status_code == 404
    assert client.get("/_mock/accounts/never-used").status_code == 404
    client.get("/api/v1/organization", headers={"Authorization": "Bearer never-used"})
    assert client.get("/_mock/accounts/never-used").json()["credits"] == 1000


@pytest.mark.parametrize("body", [{"credits": -1}, {"credits": 1.5}, {"credits": True}, {}, [], "x", [[[[]]]] * 3])
def test_put_account_refuses_bad_balances(client, body):
    response = client.put("/_mock/accounts/some-key", json=body)

    assert response.status_code == 400
    assert response.json()["error"]


def test_unknown_key_under_strict_keys_is_a_404(serve):
    client = serve(strict_keys=True)

    assert client.get("/_mock/accounts/nobody").status_code == 404


def test_reset_forgets_accounts_faults_journal_and_files(client):
    client.put("/_mock/accounts/k", json={"credits": 7})
    client.post("/_mock/faults", json={"profile": "vydra", "fault": "timeout", "path": "/api/v1/models"})
    url = client.post(GENERATE, headers={"Authorization": "Bearer k"}, json={"prompt": "x"}).json()["imageUrl"]

    assert client.post("/_mock/reset").json() == {"status": "reset"}

    assert client.get("/_mock/accounts/k").status_code == 404
    assert client.get("/_mock/faults").json()["faults"] == []
    assert client.get("/_mock/requests").json()["requests"] == []
    assert client.get(url).status_code == 404


def test_reset_gives_config_file_accounts_their_balances_back(serve):
    client = serve(strict_keys=True, accounts={"k": 10})
    client.post(GENERATE, headers={"Authorization": "Bearer k"}, json={"prompt": "x"})

    client.post("/_mock/reset")

    assert client.get("/_mock/accounts/k").json()["credits"] == 10


def test_queue_list_and_clear_faults(client):
    queued = client.post("/_mock/faults", json={"profile": "vydra", "fault": "rate-limit", "times": 2})

    assert queued.status_code == 201
    assert queued.json() | {"id": 0} == {
        "id": 0,
        "profile": "vydra",
        "fault": "rate-limit",
        "remaining": 2,
        "path": None,
        "key": None,
    }
    listed = client.get("/_mock/faults").json()
    assert [f["fault"] for f in listed["faults"]] == ["rate-limit"]
    assert set(listed["known"]) == {
        "content-policy", "blocked-prompt", "no-image", "server-error", "overloaded", "rate-limit",
        "insufficient-credits", "timeout", "fewer-images", "edit-hints-ignored", "ratios-as-given",
        "connection-reset", "disconnect-after-headers", "truncated-body", "slow-body", "stall-before-headers",
        "stall-midway", "not-http",
    }  # fmt: skip
    assert client.delete("/_mock/faults").json()["faults"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"profile": "nobody", "fault": "timeout"}, '"profile" must be one of'),
        ({"profile": "vydra", "fault": "meteor"}, "unknown fault 'meteor'"),
        ({"profile": "vydra"}, '"fault" must be one of'),
        ({"profile": "vydra", "fault": "timeout", "times": 0}, '"times"'),
        ({"profile": "vydra", "fault": "timeout", "path": "api"}, '"path" must be one of vydra'),
        ({"profile": {}, "fault": "timeout"}, '"profile" must be one of'),
        ({"profile": "vydra", "fault": "timeout", "path": "/vydra/api/v1/models"}, "without the /vydra prefix"),
        ({"profile": "vydra", "fault": "content-policy", "path": "/api/v1/health"}, "does not apply to /api/v1/health"),
        ({"profile": "vydra", "fault": "rate-limit", "key": 7}, '"key" must be an API key'),
        ({"profile": "vydra", "fault": "rate-limit", "retry_after": "soon"}, "retry_after must be a number"),
        ({"profile": "vydra", "fault": "rate-limit", "wait": 2}, "unknown fault option 'wait'"),
    ],
)
def test_queue_fault_explains_bad_requests(client, body, message):
    response = client.post("/_mock/faults", json=body)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_bad_json_and_unknown_admin_paths_answer_in_json(client):
    bad = client.post("/_mock/faults", content=b"{", headers={"Content-Type": "application/json"})
    missing = client.get("/_mock/nothing")
    wrong = client.delete("/_mock/health")

    assert (bad.status_code, missing.status_code, wrong.status_code) == (400, 404, 405)
    assert all("error" in r.json() for r in (bad, missing, wrong))


@pytest.mark.parametrize("name", ["vydra", "google"])
def test_contracts_are_served_whole_as_yaml_and_json(client, name):
    listed = client.get("/_mock/contracts").json()["contracts"]
    as_yaml = client.get(f"/_mock/contracts/{name}")
    as_json = client.get(f"/_mock/contracts/{name}", params={"format": "json"})

    assert set(listed) == set(contracts.names())
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == as_json.json()
    assert "x-extends" not in as_json.json() and "paths" in as_json.json()
    assert client.get("/_mock/contracts/nothing").status_code == 404


@pytest.mark.parametrize("limit", ["many", "-1", "²", "1.5"])
def test_bad_limit_on_the_journal_is_a_400(client, limit):
    assert client.get("/_mock/requests", params={"limit": limit}).status_code == 400


@pytest.mark.parametrize(
    ("limit", "paths"), [("0", []), ("2", ["/b", "/c"]), ("3", ["/a", "/b", "/c"]), ("9", ["/a", "/b", "/c"])]
)
def test_limit_keeps_the_newest_requests(client, limit, paths):
    for path in ("/a", "/b", "/c"):
        client.get(path)

    listed = client.get("/_mock/requests", params={"limit": limit}).json()["requests"]

    assert [e["path"] for e in listed] == paths


def test_deeply_nested_admin_bodies_are_a_400(client):
    deep = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/_mock/faults", content=deep, headers={"Content-Type": "application/json"})

    assert response.status_code == 400


@pytest.mark.parametrize("credits", [2**63, 1e30, -1])
def test_a_balance_beyond_what_the_ledger_keeps_is_refused_and_changes_nothing(serve, tmp_path, credits):
    http = serve(data_dir=str(tmp_path))
    http.put("/_mock/accounts/k", json={"credits": 7}).raise_for_status()

    refused = http.put("/_mock/accounts/k", content=json.dumps({"credits": credits}))
    largest = http.put("/_mock/accounts/big", json={"credits": 2**63 - 1})

    assert refused.status_code == 400
    assert "from 0 to 9223372036854775807" in refused.json()["error"]
    assert http.get("/_mock/accounts/k").json()["credits"] == 7
    assert largest.status_code == 200
    paid = http.post("/api/v1/models/gemini/generate", headers={"Authorization": "Bearer k"}, json={"prompt": "x"})
    assert (paid.status_code, http.get("/_mock/accounts/k").json()["credits"]) == (200, 2)

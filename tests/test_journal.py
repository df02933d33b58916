"""The request journal: what clients sent, secrets redacted, bounded, filterable."""

from __future__ import annotations

import json

GENERATE = "/api/v1/models/gemini/generate"
SECRET = "vydra_live_user_7_supersecret"


def journal(client, **params) -> list[dict]:
    return client.get("/_mock/requests", params=params).json()["requests"]


def test_a_request_is_recorded_with_its_body_status_and_answer(client):
    client.post(GENERATE, headers={"Authorization": f"Bearer {SECRET}"}, json={"prompt": "a fox", "aspectRatio": "3:2"})

    (entry,) = journal(client)
    assert entry["profile"] == "vydra"
    assert (entry["method"], entry["path"], entry["endpoint"]) == ("POST", GENERATE, GENERATE)
    assert entry["body"] == {"prompt": "a fox", "aspectRatio": "3:2"}
    assert entry["status"] == 200
    assert entry["response"]["creditsCharged"] == 5
    assert entry["account"].startswith("acct_")


def test_secrets_never_reach_the_journal(client):
    client.post(GENERATE, headers={"Authorization": f"Bearer {SECRET}"}, json={"prompt": "a fox"})
    client.get("/api/v1/health", params={"key": SECRET}, headers={"x-api-key": SECRET, "Cookie": f"s={SECRET}"})
    client.get("/api/v1/health", params={"Key": SECRET, "apiKey": SECRET}, headers={"Api-Key": SECRET})

    everything = client.get("/_mock/requests").text
    assert SECRET not in everything
    first, second, third = journal(client)
    assert first["headers"]["authorization"] == "[redacted]"
    assert second["query"]["key"] == "[redacted]"
    assert second["headers"]["x-api-key"] == "[redacted]"
    assert second["headers"]["cookie"] == "[redacted]"
    assert third["query"] == {"Key": "[redacted]", "apiKey": "[redacted]"}
    assert third["headers"]["api-key"] == "[redacted]"


def test_the_same_key_shows_as_the_same_account_without_showing_the_key(client):
    client.get("/api/v1/organization", headers={"Authorization": f"Bearer {SECRET}"})
    client.get("/vydra/api/v1/organization", headers={"Authorization": f"Bearer {SECRET}"})
    account = client.get(f"/_mock/accounts/{SECRET}").json()

    assert {e["account"] for e in journal(client)} == {account["id"]}


def test_filters_by_profile_path_with_or_without_prefix_and_limit(client):
    client.get("/api/v1/health")
    client.get("/vydra/api/v1/health")
    client.get("/api/v1/models")
    client.get("/nowhere")

    assert len(journal(client, profile="vydra")) == 3
    assert len(journal(client, path="/api/v1/health")) == 2
    assert len(journal(client, path="/vydra/api/v1/health")) == 1
    assert [e["path"] for e in journal(client, limit=1)] == ["/nowhere"]
    assert journal(client, path="/nowhere")[0]["profile"] is None


def test_admin_calls_are_not_recorded_and_delete_empties_it(client):
    client.get("/api/v1/health")
    client.get("/_mock/health")

    assert len(journal(client)) == 1
    client.delete("/_mock/requests")
    assert journal(client) == []


def test_the_journal_is_bounded(serve):
    client = serve(journal_size=3)
    for _ in range(5):
        client.get("/api/v1/health")

    assert len(journal(client)) == 3


def test_large_and_binary_bodies_are_summarised(serve):
    client = serve(journal_body_kib=1)
    client.post(GENERATE, headers={"Authorization": "Bearer k"}, json={"prompt": "x" * 5000})
    client.post(GENERATE, headers={"Authorization": "Bearer k", "Content-Type": "image/png"}, content=b"\x89PNG....")

    big, binary = journal(client)
    assert big["body"]["omitted_bytes"] > 1024
    assert binary["body"] == {"omitted_bytes": 8, "content_type": "image/png"}


def test_the_journal_keeps_within_its_byte_budget_headers_included(serve):
    http = serve(journal_mib=1)

    for i in range(12):
        http.get("/api/v1/health", headers={"X-Big": f"{i}" + "x" * 200_000})

    kept = http.get("/_mock/requests").json()["requests"]
    assert 1 <= len(kept) <= 5
    assert kept[-1]["headers"]["x-big"].startswith("11")


def test_a_key_is_hidden_wherever_the_client_put_it(client):
    key = "sk-journal-secret-0123456789"
    client.post(
        "/api/v1/models/gemini/generate?x-api-key=" + key,
        headers={"Authorization": f"Bearer {key}", "X-Key": key, "Api_Key": f"Token {key}"},
        json={"prompt": "a fox", "note": [key, {"again": key}]},
    )

    (entry,) = client.get("/_mock/requests").json()["requests"]
    assert key not in json.dumps(entry)
    assert entry["query"]["x-api-key"] == entry["headers"]["x-key"] == entry["body"]["note"][0] == "[redacted]"
    assert entry["body"]["prompt"] == "a fox"

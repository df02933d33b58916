"""Who may drive the control API (control/access.py): clients that name this machine, never a web page of another
origin; and the URLs of answers name the server as it listens, never as a Host header says."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mockserver import Settings, create_app

CHANGES = [
    ("POST", "/_mock/reset", None),
    ("POST", "/_mock/clock", {"advance_seconds": 1}),
    ("POST", "/_mock/faults", {"profile": "vydra", "fault": "timeout"}),
    ("PUT", "/_mock/accounts/k", {"credits": 1}),
]


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
@pytest.mark.parametrize(
    "browser",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
        {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
    ids=["another site", "another port", "a sandboxed page", "no origin, but cross-site"],
)
def test_a_web_page_of_another_origin_cannot_change_the_mock(client, method, path, body, browser):
    before = client.get("/_mock/clock").json()["offset_seconds"]

    response = client.request(method, path, json=body, headers=browser)

    assert response.status_code == 403, response.text
    assert "another origin" in response.json()["error"]
    assert client.get("/_mock/clock").json()["offset_seconds"] == before
    assert client.get("/_mock/faults").json()["faults"] == []


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_curl_the_kit_and_the_dashboard_itself_still_can(client, server, method, path, body):
    plain = client.request(method, path, json=body)
    same_origin = client.request(
        method, path, json=body, headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
    )

    assert plain.status_code < 300 and same_origin.status_code < 300, (plain.text, same_origin.text)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io"])
def test_a_name_of_another_host_is_refused_as_dns_rebinding_would_send_it(client, host):
    refused = client.get("/_mock/requests", headers={"Host": host})

    assert refused.status_code == 403
    assert "--allowed-hosts" in refused.json()["error"]


@pytest.mark.parametrize("host", ["localhost:1234", "127.0.0.1", "[::1]:8000"])
def test_this_machines_names_are_answered(client, host):
    assert client.get("/_mock/health", headers={"Host": host}).status_code == 200


def test_a_host_named_in_the_settings_is_answered(serve):
    http = serve(allowed_hosts="mock.internal, other.test")

    assert http.get("/_mock/health", headers={"Host": "mock.internal:8000"}).status_code == 200
    assert http.get("/_mock/health", headers={"Host": "third.test"}).status_code == 403


def test_image_urls_name_the_server_as_it_listens_not_the_host_header(client, server):
    answer = client.post(
        "/api/v1/models/gemini/generate", headers={"Authorization": "Bearer k", "Host": "evil.example"},
        json={"prompt": "a fox"},
    ).json()  # fmt: skip

    assert answer["imageUrl"].startswith(f"{server.url}/files/vydra/")


def test_a_public_url_names_the_mock_behind_a_proxy():
    http = TestClient(create_app(Settings(public_url="https://mock.example:8443/base")))

    answer = http.post("/api/v1/models/gemini/generate", headers={"Authorization": "Bearer k"}, json={"prompt": "x"})

    assert answer.json()["imageUrl"].startswith("https://mock.example:8443/base/files/vydra/")

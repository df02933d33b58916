"""Transport faults: the connection broken instead of answered, leaving nothing charged that was not answered and
the server healthy for the next request."""

from __future__ import annotations

import httpx
import pytest

from mockserver import Settings, create_app

KEY = "transport-key"
GENERATE = "/openai/v1/images/generations"
ASK = {"prompt": "a fox", "model": "gpt-image-1-mini", "quality": "low", "size": "1024x1024"}
PRICE = 5  # gpt-image-1-mini, low, square (contracts/openai.yaml)
BROKEN = {
    "connection-reset": httpx.ReadError,
    "disconnect-after-headers": httpx.RemoteProtocolError,
    "truncated-body": httpx.RemoteProtocolError,
    "stall-before-headers": httpx.RemoteProtocolError,  # the stall ends, after the fault's seconds, in a close
    "stall-midway": httpx.RemoteProtocolError,
    "not-http": httpx.RemoteProtocolError,
}


def generate(client: httpx.Client, fault: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEY}"} | ({"X-Mock-Fault": fault} if fault else {})
    return client.post(GENERATE, json=ASK, headers=headers)


def balance(client: httpx.Client) -> int:
    return client.get(f"/_mock/accounts/{KEY}").json()["credits"]


@pytest.mark.parametrize("fault", BROKEN)
def test_a_broken_answer_is_refunded_and_the_next_request_is_answered(client, fault):
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 100})

    with pytest.raises(BROKEN[fault]):
        generate(client, fault)
    after = generate(client)

    assert after.status_code == 200
    assert balance(client) == 100 - PRICE  # the answered request only
    broken, answered = client.get("/_mock/requests", params={"path": GENERATE}).json()["requests"]
    assert (broken["fault"], broken["complete"], broken["charged"]) == (fault, False, 0)
    assert (answered["fault"], answered["complete"], answered["charged"]) == (None, True, PRICE)


def test_a_fault_before_the_answer_records_no_status(client):
    with pytest.raises(httpx.ReadError):
        generate(client, "connection-reset")

    [entry] = client.get("/_mock/requests").json()["requests"]
    assert entry["status"] is None


def test_what_is_cut_off_is_the_answers_own_first_half(client):
    whole = generate(client).content
    with client.stream("POST", GENERATE, json=ASK, headers={"Authorization": f"Bearer {KEY}",
                                                             "X-Mock-Fault": "truncated-body"}) as cut:  # fmt: skip
        assert int(cut.headers["content-length"]) == len(whole)
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in cut.iter_raw():
                received += chunk

    assert 0 < len(received) == len(whole) // 2


def test_a_slow_body_arrives_whole_and_is_charged(client):
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 100})

    answer = generate(client, "slow-body; seconds=0.1")

    assert answer.status_code == 200 and len(answer.json()["data"]) == 1
    assert balance(client) == 100 - PRICE


def test_a_client_read_timeout_meets_a_stall_and_the_mock_lets_go(client):
    with pytest.raises(httpx.ReadTimeout):
        client.post(GENERATE, json=ASK, headers={"Authorization": f"Bearer {KEY}",
                                                 "X-Mock-Fault": "stall-before-headers; seconds=30"},
                    timeout=httpx.Timeout(5, read=0.2))  # fmt: skip

    assert generate(client).status_code == 200  # the stall ended when the client gave up, not after 30 s


def test_a_stream_stalls_after_its_first_event(client):
    events = []
    stalled = client.stream("POST", GENERATE, json={**ASK, "stream": True, "partial_images": 2},
                            headers={"Authorization": f"Bearer {KEY}", "X-Mock-Fault": "stall-midway; seconds=30"},
                            timeout=httpx.Timeout(5, read=2))  # fmt: skip
    with stalled as stream, pytest.raises(httpx.ReadTimeout):
        for line in stream.iter_lines():
            if line.startswith("event:"):
                events.append(line)

    assert events == ["event: image_generation.partial_image"]


def test_a_queued_transport_fault_takes_only_its_keys_requests(client):
    client.post("/_mock/faults", json={"profile": "openai", "fault": "connection-reset", "key": KEY})

    other = client.post(GENERATE, json=ASK, headers={"Authorization": "Bearer someone-else"})
    with pytest.raises(httpx.ReadError):
        generate(client)

    assert other.status_code == 200
    assert generate(client).status_code == 200


def test_in_process_the_transport_faults_are_refused_with_the_reason():
    """Served by a test client in-process, there is no connection to break: the mock says so, in the service's
    own envelope."""
    from starlette.testclient import TestClient

    with TestClient(create_app(Settings())) as in_process:
        refused = in_process.post(GENERATE, json=ASK, headers={"Authorization": "Bearer k",
                                                                "X-Mock-Fault": "connection-reset"})  # fmt: skip

    assert refused.status_code == 400
    assert "only imagegen-mock's own server" in refused.json()["error"]["message"]


def test_a_status_and_retry_hints_replace_the_services_own(client):
    answer = generate(client, "rate-limit; retry-after=1.5; retry-after-as=milliseconds; should-retry=false")
    other = generate(client, "server-error; status=408")

    assert answer.status_code == 429
    assert (answer.headers["retry-after-ms"], answer.headers["x-should-retry"]) == ("1500", "false")
    assert "retry-after" not in answer.headers
    assert other.status_code == 408 and other.json()["error"]["type"] == "server_error"


def test_googles_retry_info_asks_for_the_wait_the_fault_gives(client):
    asked = client.post(
        "/v1beta/models/gemini-2.5-flash-image:generateContent",
        json={"contents": [{"parts": [{"text": "a fox"}]}]},
        headers={"x-goog-api-key": KEY, "X-Mock-Fault": "rate-limit; retry-after=7"},
    )

    assert asked.status_code == 429 and asked.headers["retry-after"] == "7"
    [retry_info] = [d for d in asked.json()["error"]["details"] if d["@type"].endswith("RetryInfo")]
    assert retry_info["retryDelay"] == "7s"


def test_a_fault_for_one_key_finds_it_where_the_service_reads_it(client):
    """Azure's key is an api-key header, which a transport fault, taken before the endpoint runs, finds too."""
    client.post("/_mock/faults", json={"profile": "azure", "fault": "connection-reset", "key": KEY})
    path = "/azure/openai/deployments/dall-e-3/images/generations"

    with pytest.raises(httpx.ReadError):
        client.post(path, params={"api-version": "2024-10-21"}, json={"prompt": "a fox"}, headers={"api-key": KEY})

    assert client.get("/_mock/faults").json()["faults"] == []


RATE_LIMITED_WAITS = {
    "vydra": ("/api/v1/models/gemini/generate", {"prompt": "a fox"}, lambda body: body["retryAfter"] == 7),
    "azure": (
        "/azure/openai/deployments/dall-e-3/images/generations?api-version=2024-10-21",
        {"prompt": "a fox"},
        lambda body: "Please retry after 7 seconds." in body["error"]["message"],
    ),
    "llmgateway": (
        "/llmgateway/v1/images/generations",
        {"prompt": "a fox", "model": "gemini-2.5-flash-image"},
        lambda body: body["error"]["message"].endswith("Please retry after 7 seconds."),
    ),
}


@pytest.mark.parametrize("profile", RATE_LIMITED_WAITS)
def test_the_wait_a_rate_limits_body_names_is_the_faults(client, profile):
    path, ask, names_the_wait = RATE_LIMITED_WAITS[profile]
    headers = {"Authorization": f"Bearer {KEY}", "api-key": KEY, "X-Mock-Fault": "rate-limit; retry-after=7"}

    limited = client.post(path, json=ask, headers=headers)

    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert names_the_wait(limited.json()), limited.text

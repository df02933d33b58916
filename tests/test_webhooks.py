"""GeminiGen's webhooks: signed deliveries to a local receiver, retried, journalled, never blocking."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.background import BackgroundServer

KEY = "webhook-key"
FORM = {"prompt": "a fox at dawn", "model": "imagen-4"}
WAIT_SECONDS = 10


class Receiver:
    """A client's webhook endpoint on loopback: records what arrives, answers with the statuses it is told."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Condition()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        while not self.release.wait(0.01):  # a slow client, when the test holds it back
            pass
        with self.arrived:
            self.received.append((dict(request.headers), body))
            self.arrived.notify_all()
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

    def wait_for(self, count: int) -> list[tuple[dict[str, str], bytes]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, WAIT_SECONDS), self.received
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with BackgroundServer(hook.app) as server:
        yield hook, f"{server.url}/hook"


def register(client, url: str) -> None:
    client.put(f"/_mock/accounts/{KEY}", json={"webhook_url": url}).raise_for_status()


def verify(client, headers: dict[str, str], body: bytes) -> None:
    key = serialization.load_pem_public_key(client.get("/_mock/webhooks/public-key").content)
    signature = bytes.fromhex(headers["x-signature"])
    key.verify(signature, hashlib.md5(body).digest(), padding.PKCS1v15(), hashes.SHA256())


def test_a_completed_job_calls_the_webhook_with_a_verifiable_signature(client, receiver):
    hook, url = receiver
    register(client, url)
    uuid = client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data=FORM).json()["uuid"]

    client.post("/_mock/clock", json={"advance_seconds": 60})
    [(headers, body)] = hook.wait_for(1)

    event = json.loads(body)
    assert (event["event"], event["uuid"]) == ("IMAGE_GENERATION_COMPLETED", uuid)
    assert event["data"]["status"] == 2
    assert client.get(event["data"]["media_url"]).status_code == 200
    verify(client, headers, body)
    with pytest.raises(InvalidSignature):
        verify(client, headers, body + b" ")


def test_a_failed_job_calls_the_webhook_with_the_failure(client, receiver):
    hook, url = receiver
    register(client, url)
    client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY, "X-Mock-Fault": "content-policy"}, data=FORM)

    client.post("/_mock/clock", json={"advance_seconds": 60})
    [(_, body)] = hook.wait_for(1)

    event = json.loads(body)
    assert event["event"] == "IMAGE_GENERATION_FAILED"
    assert event["data"]["error_code"] == "GEMINI_RAI_MEDIA_FILTERED"


def test_jobs_finish_and_call_back_in_real_time_without_any_request(serve, receiver):
    client = serve(job_seconds_unstable=0.2)
    hook, url = receiver
    register(client, url)

    client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data=FORM)

    [(_, body)] = hook.wait_for(1)
    assert json.loads(body)["event"] == "IMAGE_GENERATION_COMPLETED"


def test_a_failed_delivery_is_retried_with_backoff_and_every_attempt_is_journalled(serve):
    client = serve(sync_jobs=True, webhook_backoff_seconds=0.01)
    hook = Receiver(statuses=[500, 503])
    with BackgroundServer(hook.app) as receiving:
        register(client, f"{receiving.url}/hook")
        client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data=FORM)
        hook.wait_for(3)

    deadline = time.monotonic() + WAIT_SECONDS
    while len(deliveries := client.get("/_mock/requests").json()["requests"]) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)  # the third attempt is journalled just after the receiver answers it
    attempts = [e for e in deliveries if e["kind"] == "webhook"]
    assert [e["status"] for e in attempts] == [500, 503, 200]
    assert all(e["path"] == f"{receiving.url}/hook" and e["body"]["event"] for e in attempts)


def test_delivery_never_holds_up_the_request_that_finished_the_job(serve):
    client = serve(sync_jobs=True)
    hook = Receiver()
    hook.release.clear()  # the client's endpoint hangs until the test lets it answer
    with BackgroundServer(hook.app) as receiving:
        register(client, f"{receiving.url}/hook")
        response = client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data=FORM)
        assert response.json()["status"] == 2
        assert hook.received == []
        hook.release.set()
        hook.wait_for(1)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://10.0.0.8/hook",
        "ftp://127.0.0.1/x",
        "/hook",
        "http://localhost:abc/",
        "http://127.0.0.1:99999/",
        "http://[::1",
        "http://127.0.0.1/\x00",
    ],
)
def test_only_loopback_hosts_are_called_by_default(client, url):
    response = client.put(f"/_mock/accounts/{KEY}", json={"webhook_url": url})

    assert response.status_code == 400
    assert client.get(f"/_mock/accounts/{KEY}").status_code == 404


def test_a_host_named_in_the_settings_is_allowed(serve):
    client = serve(webhook_hosts="hooks.example.test, other.test")

    response = client.put(f"/_mock/accounts/{KEY}", json={"webhook_url": "https://hooks.example.test/in"})

    assert response.json()["webhook_url"] == "https://hooks.example.test/in"


def test_null_unregisters_and_reset_forgets(client, receiver):
    _, url = receiver
    register(client, url)
    assert client.get(f"/_mock/accounts/{KEY}").json()["webhook_url"] == url

    register(client, None)
    assert client.get(f"/_mock/accounts/{KEY}").json()["webhook_url"] is None
    register(client, url)
    client.post("/_mock/reset")
    assert client.put(f"/_mock/accounts/{KEY}", json={"credits": 5}).json()["webhook_url"] is None


def test_a_refused_change_changes_nothing(client, receiver):
    _, url = receiver

    bad_credits = client.put(f"/_mock/accounts/{KEY}", json={"webhook_url": url, "credits": -1})

    assert bad_credits.status_code == 400
    assert client.get(f"/_mock/accounts/{KEY}").status_code == 404


def test_proxies_from_the_environment_are_never_used(serve, receiver, monkeypatch):
    client = serve(sync_jobs=True)  # made before the variables are set: httpx reads them when a client is made
    hook, url = receiver
    register(client, url)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data=FORM)

    hook.wait_for(1)


def test_credentials_in_a_webhook_url_are_not_journalled(serve, receiver):
    client = serve(sync_jobs=True)
    hook, url = receiver
    register(client, url.replace("http://", "http://user:secret@"))

    client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data=FORM)
    hook.wait_for(1)

    deadline = time.monotonic() + WAIT_SECONDS
    while not (hooks := [e for e in client.get("/_mock/requests").json()["requests"] if e["kind"] == "webhook"]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert "secret" not in hooks[0]["path"]
    assert hooks[0]["path"].startswith("http://[redacted]@127.0.0.1:")


def test_a_reset_stops_deliveries_under_way(serve):
    client = serve(sync_jobs=True, webhook_backoff_seconds=0.05, webhook_retries=50)
    hook = Receiver(statuses=[500] * 100)
    with BackgroundServer(hook.app) as receiving:
        register(client, f"{receiving.url}/hook")
        client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data=FORM)
        hook.wait_for(2)

        client.post("/_mock/reset")
        attempts = len(hook.received)
        time.sleep(0.3)  # six backoff periods: a delivery still under way would have tried again

        assert len(hook.received) <= attempts + 1  # at most the attempt already in flight


@pytest.mark.parametrize("path", ["/_mock/reset", "/%5Fmock/reset", "/hooks/../_mock/clock", "/prefix/_mock/faults"])
def test_a_webhook_aimed_at_a_mocks_control_api_is_refused(client, server, path):
    response = client.put(f"/_mock/accounts/{KEY}", json={"webhook_url": f"{server.url}{path}"})

    assert response.status_code == 400
    assert "control API" in response.json()["error"]

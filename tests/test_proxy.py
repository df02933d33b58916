"""The validation proxy: it passes a faithful upstream, reports each way a broken one deviates, records
exchanges without secrets, and the mock replays them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from breaking import rewriting_json
from starlette.types import ASGIApp

from conformance.proxy import Violation, create_proxy
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "sk-proxy-test-key-123456"
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def proxied(profile: str, upstream: ASGIApp, **options) -> Iterator[tuple[httpx.Client, list[Violation]]]:
    """A client of the proxy in front of `upstream` (served), and the violations it reports."""
    found: list[Violation] = []
    with BackgroundServer(upstream) as real:
        proxy = create_proxy(profile, f"{real.url}/{profile}", on_violation=found.append, **options)
        with BackgroundServer(proxy) as front, httpx.Client(base_url=front.url, timeout=60) as client:
            yield client, found


def healthy() -> ASGIApp:
    return create_app(Settings())


def test_a_faithful_upstream_passes_every_exchange():
    with proxied("llmgateway", healthy()) as (client, found):
        generated = client.post("/v1/images/generations", headers=AUTH, json={"prompt": "a fox", "n": 2})
        refused = client.post("/v1/images/generations", headers=AUTH, json={"prompt": ""})
        unauthorized = client.post("/v1/images/generations", json={"prompt": "a fox"})

    assert (generated.status_code, refused.status_code, unauthorized.status_code) == (200, 400, 401)
    assert len(generated.json()["data"]) == 2
    # the only deviation is the client's own: an empty prompt
    assert [(v.status, v.kind, v.problem.split(":")[0]) for v in found] == [
        (400, "contract", "the request body breaks the contract")
    ]


@pytest.mark.parametrize(
    ("profile", "request_args", "breakage", "expected"),  # expected: (the problem, in words; its kind)
    [
        (
            "llmgateway",
            {"url": "/v1/images/generations", "json": {"prompt": "a fox", "n": 3}},
            lambda scope, status, body: (status, {**body, "data": body["data"][:1]}),
            ("asked for n=3 images, got 1", "image"),
        ),
        (
            "llmgateway",
            {"url": "/v1/images/generations", "json": {"prompt": "a fox"}},
            lambda scope, status, body: (status, {**body, "created": "today"}),
            ("Response violates schema", "contract"),
        ),
        (
            "vydra",
            {"url": "/api/v1/models/gemini/generate", "json": {"prompt": "a fox"}},
            lambda scope, status, body: (status, {**body, "creditsCharged": 6}),
            ("creditsCharged is 6", "charge"),
        ),
        (
            "vydra",
            {"url": "/api/v1/models/gemini/generate", "json": {"prompt": "a fox"}},
            lambda scope, status, body: (418, body),
            ("status 418 is not one the contract documents", "status"),
        ),
        (
            "google",
            {
                "url": "/v1beta/models/gemini-2.5-flash-image:generateContent",
                "json": {"contents": [{"parts": [{"text": "a fox"}]}]},
                "headers": {"x-goog-api-key": KEY},
            },
            lambda scope, status, body: (status, mislabelled(body)),
            ("says image/jpeg but holds PNG", "image"),
        ),
    ],
)
def test_a_broken_upstream_is_reported_as_it_happens(profile, request_args, breakage, expected):
    with proxied(profile, rewriting_json(breakage)(healthy())) as (client, found):
        client.post(**{"headers": AUTH, **request_args})

    words, kind = expected
    assert any(words in violation.problem and violation.kind == kind for violation in found), found


def mislabelled(body: dict) -> dict:
    for part in body["candidates"][0]["content"]["parts"]:
        if "inlineData" in part:
            part["inlineData"]["mimeType"] = "image/jpeg"
    return body


def test_a_request_that_breaks_the_contract_is_reported_too():
    with proxied("llmgateway", healthy()) as (client, found):
        client.post("/v1/images/generations", headers=AUTH, json={"prompt": "a fox", "n": 0})

    assert [v.problem for v in found] == ["the request body breaks the contract: 0 is less than the minimum of 1"]


def test_violations_go_to_the_report_as_json_lines(tmp_path):
    report = tmp_path / "violations.jsonl"
    breakage: Callable = lambda scope, status, body: (status, {**body, "creditsCharged": 7})  # noqa: E731

    with proxied("vydra", rewriting_json(breakage)(healthy()), report=report) as (client, _):
        client.post("/api/v1/models/gemini/generate", headers=AUTH, json={"prompt": "a"})
        client.post("/api/v1/models/gemini/generate", headers=AUTH, json={"prompt": "b"})

    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [line["problem"] for line in lines if "creditsCharged is 7" in line["problem"]] == [
        "creditsCharged is 7, the seed's price is 5"
    ] * 2


def test_recorded_exchanges_hold_no_secret_and_the_mock_replays_them(tmp_path):
    folder = tmp_path / "recorded"
    with proxied("llmgateway", healthy(), record=folder) as (client, _):
        recorded = client.post("/v1/images/generations", headers=AUTH, params={"key": KEY}, json={"prompt": "a fox"})
        client.post("/v1/images/generations", headers=AUTH, json={"prompt": ""})

    files = sorted(folder.glob("*.json"))
    assert len(files) == 2
    assert all(KEY not in path.read_text() for path in files)

    with BackgroundServer(create_app(Settings(replay=str(folder), seed=99))) as mock:
        again = httpx.post(
            f"{mock.url}/v1/images/generations", headers={"x-api-key": "other"}, json={"prompt": "a fox"}
        )
        refused = httpx.post(f"{mock.url}/v1/images/generations", headers=AUTH, json={"prompt": ""})
        live = httpx.post(f"{mock.url}/v1/images/generations", headers=AUTH, json={"prompt": "not recorded"})

    assert again.headers["x-mock-replayed"] == "true"
    assert again.json() == recorded.json()  # seed 99 would have drawn other bytes: this is the recording
    assert refused.status_code == 400 and refused.headers["x-mock-replayed"] == "true"
    assert "x-mock-replayed" not in live.headers
    assert base64.b64decode(live.json()["data"][0]["b64_json"]).startswith(b"\x89PNG")


def test_replaying_a_folder_that_does_not_exist_is_refused(tmp_path):
    from mockserver.settings import SettingsError

    with pytest.raises(SettingsError, match="not a folder"):
        Settings(replay=str(tmp_path / "nowhere"))


def test_the_proxy_command_starts_and_forwards(tmp_path):
    import subprocess
    import sys
    import time

    from benchmarks.servers import free_port

    with BackgroundServer(healthy()) as real:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "proxy", "--profile", "vydra", "--upstream", f"{real.url}/vydra",
             "--port", str(port), "--record", str(tmp_path / "r")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, process.stderr.read() if process.poll() is not None else ""
                    time.sleep(0.05)
        finally:
            process.terminate()
            process.wait(timeout=10)

    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert len(list((tmp_path / "r").glob("*.json"))) == 1


def test_a_key_under_another_name_is_not_recorded_either(tmp_path):
    folder = tmp_path / "recorded"
    with proxied("llmgateway", healthy(), record=folder) as (client, _):
        client.post("/v1/images/generations", headers=AUTH, params={"x-api-key": KEY}, json={"prompt": "a fox"})

    (recording,) = folder.glob("*.json")
    assert KEY not in recording.read_text()
    assert json.loads(recording.read_text())["request"]["query"] == {"x-api-key": "[redacted]"}

"""Servers sharing one Redis (`--state redis://`): one ledger, one clock, one queue of faults across them, a
dead server's unsettled charges refunded by the living, and a 503 in each service's envelope while Redis is gone.
A real redis-server on a loopback port (Debian's package, which .ci/run installs); without it these are skipped."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest.mock
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.servers import free_port, serving, start_redis, stop, tree
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer
from mockserver.images.spec import ImageSpec
from mockserver.state.clock import Clock
from mockserver.state.shared import SharedState
from mockserver.state.shared_gallery import ADD, SharedGallery
from mockserver.state.shared_ledger import CHARGE

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="no redis-server (apt install redis-server)"
)

KEY = "shared-state-key"
VYDRA = "/api/v1/models/gemini/generate"
GOOGLE = "/google/v1beta/models/gemini-2.5-flash-image:generateContent"
PRICE = 5  # Vydra's generation


class RedisServer:
    """A redis-server on a port of its own, which a test can stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = start_redis(self.port)

    def stop(self) -> None:
        if self.process:
            stop(self.process)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two(redis_server) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two mocks on one Redis, and a client of each."""
    settings = Settings(state=redis_server.url)
    with BackgroundServer(create_app(settings)) as a, BackgroundServer(create_app(settings)) as b:
        first, second = httpx.Client(base_url=a.url, timeout=30), httpx.Client(base_url=b.url, timeout=30)
        with first, second:
            yield first, second


def generate(client: httpx.Client, prompt: str = "a fox", **headers: str) -> httpx.Response:
    return client.post(VYDRA, json={"prompt": prompt}, headers={"Authorization": f"Bearer {KEY}", **headers})


def test_concurrent_paid_requests_across_two_servers_take_exactly_the_balance(two):
    k = 4
    first, second = two
    first.put(f"/_mock/accounts/{KEY}", json={"credits": k * PRICE})

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: generate(two[i % 2], f"fox {i}").status_code, range(3 * k)))

    assert sorted(statuses) == [200] * k + [402] * (2 * k)
    account = second.get(f"/_mock/accounts/{KEY}").json()
    assert (account["credits"], account["charged"], account["refunded"]) == (0, k * PRICE, 0)


def test_a_fault_queued_through_one_server_fails_one_request_on_either(two):
    first, second = two
    first.post("/_mock/faults", json={"profile": "vydra", "fault": "server-error"})

    assert second.get("/_mock/faults").json()["faults"][0]["fault"] == "server-error"
    assert [generate(second).status_code, generate(first).status_code, generate(second).status_code] == [500, 200, 200]
    assert first.get(f"/_mock/accounts/{KEY}").json()["refunded"] == PRICE


def test_the_rate_figures_count_the_requests_sent_to_every_server(two):
    first, second = two
    generate(first)
    generate(second)
    answered = generate(first)

    limit, remaining = (int(answered.headers[f"X-RateLimit-{name}"]) for name in ("Limit", "Remaining"))
    assert remaining == limit - 3  # alone, this server has seen two of the three


def test_the_clock_and_a_reset_reach_every_server(two):
    first, second = two
    generate(first)
    first.post("/_mock/clock", json={"advance_seconds": 90})

    assert second.get("/_mock/clock").json()["offset_seconds"] == 90
    second.post("/_mock/reset")
    assert first.get(f"/_mock/accounts/{KEY}").status_code == 404
    assert first.get("/_mock/clock").json()["offset_seconds"] == 0


GEMINIGEN = "/uapi/v1/generate_image"
GEMINIGEN_FORM = {"prompt": "a fox at dawn", "model": "imagen-4"}


def submit(client: httpx.Client, **headers: str) -> dict:
    answer = client.post(GEMINIGEN, headers={"x-api-key": KEY, **headers}, data=GEMINIGEN_FORM)
    answer.raise_for_status()
    return answer.json()


def on(client: httpx.Client, url: str) -> str:
    """The path of a URL one server handed out, to ask another for it."""
    return httpx.URL(url).raw_path.decode()


def test_a_job_started_on_one_server_finishes_on_the_other_and_both_serve_its_images(two):
    first, second = two
    job = submit(first)
    history = f"/uapi/v1/history/{job['uuid']}"
    assert second.get(history, headers={"x-api-key": KEY}).json()["status"] == 1

    second.post("/_mock/clock", json={"advance_seconds": 60})
    done = second.get(history, headers={"x-api-key": KEY}).json()

    assert (done["status"], done["status_percentage"]) == (2, 100)
    for client in two:
        served = client.get(on(client, done["generate_result"]))
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert [j["uuid"] for j in first.get("/uapi/v1/histories", headers={"x-api-key": KEY}).json()["result"]] == [
        job["uuid"]
    ]
    assert first.get("/_mock/jobs").json()["jobs"][0]["status"] == "completed"


def test_a_job_that_fails_on_the_other_server_is_refunded_once(two):
    first, second = two
    first.put(f"/_mock/accounts/{KEY}", json={"credits": 100})
    job = submit(first, **{"X-Mock-Fault": "content-policy"})
    first.post("/_mock/clock", json={"advance_seconds": 60})

    for client in (second, first, second):
        assert client.get(f"/uapi/v1/history/{job['uuid']}", headers={"x-api-key": KEY}).json()["status"] == 3
    account = first.get(f"/_mock/accounts/{KEY}").json()
    assert account["credits"] == 100 and account["refunded"] == account["charged"] > 0


def test_two_servers_on_one_seed_never_mint_the_same_identifier(two):
    first, second = two
    uuids = {submit(client)["uuid"] for client in (first, second, first, second)}
    assert len(uuids) == 4


def test_a_webhook_registered_through_one_server_is_called_by_the_one_that_finishes_the_job(two):
    from tests.test_webhooks import Receiver, verify

    first, second = two
    hook = Receiver()
    with BackgroundServer(hook.app) as receiver:
        first.put(f"/_mock/accounts/{KEY}", json={"webhook_url": f"{receiver.url}/hook"}).raise_for_status()
        assert second.get(f"/_mock/accounts/{KEY}").json()["webhook_url"] == f"{receiver.url}/hook"
        job = submit(first)
        second.post("/_mock/clock", json={"advance_seconds": 60})
        second.get(f"/uapi/v1/history/{job['uuid']}", headers={"x-api-key": KEY})
        [(headers, body)] = hook.wait_for(1)

    assert json.loads(body)["uuid"] == job["uuid"]
    for client in two:  # one key pair signs for every server
        verify(client, headers, body)


def test_the_journal_and_the_latency_are_every_servers(two):
    first, second = two
    first.post("/_mock/faults", json={"profile": "vydra", "fault": "server-error"})
    generate(first, "refunded")
    generate(second, "kept")
    first.put("/_mock/latency", json={"milliseconds": 7, "profile": "vydra"})

    for client in two:
        requests = [r for r in client.get("/_mock/requests").json()["requests"] if r["path"] == VYDRA]
        assert [(r["body"]["prompt"], r["status"], r["charged"]) for r in requests] == [
            ("refunded", 500, 0),
            ("kept", 200, PRICE),
        ]
        assert requests[0]["id"] < requests[1]["id"]
        assert "authorization" not in requests[0]["headers"] or KEY not in requests[0]["headers"]["authorization"]
    assert second.get("/_mock/latency").json()["milliseconds"]["vydra"] == 7
    assert len(second.get("/_mock/attempts").json()["calls"]) == 2
    second.delete("/_mock/requests")
    assert first.get("/_mock/requests").json()["requests"] == []


def test_shared_files_are_bounded_by_count_and_their_contents_go_with_them(redis_server):
    app = create_app(Settings(state=redis_server.url, files_max_count=2))
    with BackgroundServer(app) as server:
        client = httpx.Client(base_url=server.url)
        urls = [generate(client, f"fox {i}").json()["imageUrl"] for i in range(3)]
        statuses = [client.get(on(client, url)).status_code for url in urls]
        shared = app.state.mock.shared

        assert statuses == [404, 200, 200]
        assert len(list(shared.redis.scan_iter(match=shared.key("*:content:*")))) == 2


def test_a_content_is_sent_and_kept_once_however_many_files_serve_it(redis_server):
    app = create_app(Settings(state=redis_server.url))
    with BackgroundServer(app) as server:
        client = httpx.Client(base_url=server.url)
        urls = [generate(client, "the same fox").json()["imageUrl"] for _ in range(2)]
        served = [client.get(on(client, url)) for url in urls]
        shared = app.state.mock.shared

        assert urls[0] != urls[1] and served[0].content == served[1].content
        assert served[0].headers["content-type"] == "image/png"
        assert len(list(shared.redis.scan_iter(match=shared.key("*:content:*")))) == 1


def png(colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), colour).save(out, "PNG")
    return out.getvalue()


def start_upload(client: httpx.Client, size: int) -> str:
    """The upload URL of a resumable upload started through `client`, as a path (to any server)."""
    started = client.post("/google/upload/v1beta/files", headers={
        "x-goog-api-key": KEY, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(size), "X-Goog-Upload-Header-Content-Type": "image/png",
    }, json={"file": {"displayName": "across"}})  # fmt: skip
    return started.headers["x-goog-upload-url"].removeprefix(str(client.base_url).rstrip("/"))


def send_chunk(client: httpx.Client, url: str, content: bytes, offset: int, command: str) -> httpx.Response:
    return client.post(url, content=content, headers={"X-Goog-Upload-Command": command,
                                                      "X-Goog-Upload-Offset": str(offset)})  # fmt: skip


def test_an_upload_started_on_one_server_is_finished_named_and_deleted_through_either(two):
    first, second = two
    content, google = png(), {"x-goog-api-key": KEY}
    url = start_upload(first, len(content))
    assert send_chunk(second, url, content[:100], 0, "upload").headers["x-goog-upload-size-received"] == "100"
    file = send_chunk(first, url, content[100:], 100, "upload, finalize").json()["file"]
    name = file["name"]
    generated = second.post("/google/v1beta/models/gemini-2.5-flash-image:generateContent", headers=google, json={
        "contents": [{"parts": [{"fileData": {"fileUri": file["uri"], "mimeType": "image/png"}}, {"text": "a hat"}]}]
    })  # fmt: skip

    assert file["sizeBytes"] == str(len(content)) and file["displayName"] == "across"
    read = second.get(f"/google/v1beta/{name}", headers=google).json()
    assert {**read, "uri": None} == {**file, "uri": None}  # each server names itself in the URI
    assert [f["name"] for f in second.get("/google/v1beta/files", headers=google).json()["files"]] == [name]
    parts = generated.json()["candidates"][0]["content"]["parts"]
    assert generated.status_code == 200 and any("inlineData" in part for part in parts)
    assert send_chunk(second, url, b"", len(content), "finalize").status_code == 404  # the session is over
    second.delete(f"/google/v1beta/{name}", headers=google)
    assert first.get(f"/google/v1beta/{name}", headers=google).status_code == 403


def test_uploaded_files_are_bounded_by_count_across_servers_and_a_chunk_goes_only_where_the_last_ended(redis_server):
    settings = Settings(state=redis_server.url, files_max_count=2)
    apps = [create_app(settings), create_app(settings)]
    with BackgroundServer(apps[0]) as a, BackgroundServer(apps[1]) as b:
        clients = [httpx.Client(base_url=a.url), httpx.Client(base_url=b.url)]
        names = []
        for i, colour in enumerate(("red", "green", "blue")):
            content, client = png(colour), clients[i % 2]
            url = start_upload(client, len(content))
            names.append(send_chunk(client, url, content, 0, "upload, finalize").json()["file"]["name"])
        listed = clients[0].get("/google/v1beta/files", headers={"x-goog-api-key": KEY}).json()["files"]
        uploads, shared = apps[1].state.mock.uploads, apps[1].state.mock.shared

        assert [file["name"] for file in listed] == names[:0:-1]  # the newest two, newest first
        assert len(list(shared.redis.scan_iter(match=shared.key("*:uploaded-bytes:*")))) == 2
        url = start_upload(clients[0], 10)
        upload_id = httpx.URL(url).params["upload_id"]
        assert uploads.append(upload_id, 0, b"12345") and not uploads.append(upload_id, 0, b"12345")
        assert uploads.session(upload_id).received == 5


def test_the_gallery_lists_what_every_server_handed_out_and_either_serves_each_image(two):
    first, second = two
    drawn = first.get(on(first, generate(first, "a fox").json()["imageUrl"])).content
    picture = base64.b64encode(png()).decode()
    edit = second.post("/google/v1beta/models/gemini-2.5-flash-image:generateContent", json={"contents": [{"parts": [
        {"inlineData": {"mimeType": "image/png", "data": picture}}, {"text": "a hat"}]}]},
        headers={"x-goog-api-key": KEY})  # fmt: skip
    parts = edit.json()["candidates"][0]["content"]["parts"]
    edited = next(part["inlineData"]["data"] for part in parts if "inlineData" in part)

    listed = [client.get("/_mock/images").json()["images"] for client in two]
    assert listed[0] == listed[1] and [image["prompt"] for image in listed[0]] == ["a hat", "a fox"]
    hat, fox = listed[0]
    assert second.get(fox["url"]).content == drawn and fox["bytes"] == len(drawn)
    assert first.get(hat["url"]).content == base64.b64decode(edited)  # drawn again from the edit's input
    assert first.get(hat["thumbnail"]).headers["content-type"] == "image/jpeg"


def test_a_request_is_journalled_and_its_image_listed_on_every_server_before_the_last_of_its_answer_goes(
    redis_server,
):
    settings, seen = Settings(state=redis_server.url), []
    with BackgroundServer(create_app(settings)) as other, httpx.Client(base_url=other.url, timeout=30) as asking:

        def look() -> None:
            journalled = [entry["path"] for entry in asking.get("/_mock/requests").json()["requests"]]
            seen.append((journalled, [image["prompt"] for image in asking.get("/_mock/images").json()["images"]]))

        with BackgroundServer(looking_at_the_end(create_app(settings), look)) as answering:
            generated = httpx.post(f"{answering.url}{GOOGLE}", headers={"x-goog-api-key": KEY}, timeout=30,
                                   json={"contents": [{"parts": [{"text": "a hat"}]}]})  # fmt: skip

    assert generated.status_code == 200 and seen == [([GOOGLE], ["a hat"])]


def looking_at_the_end(app: ASGIApp, look: Callable[[], None]) -> ASGIApp:
    """`app`, calling `look` just before the last message of each answer goes."""

    async def looked_at(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                look()
            await send(message)

        await app(scope, receive, sending if scope["type"] == "http" else send)

    return looked_at


def test_a_script_has_its_answer_only_once_what_its_server_queued_before_it_has_reached_redis(redis_server):
    shared = SharedState(redis_server.url)
    gallery = SharedGallery(shared, Clock(), max_count=2, max_bytes=2000)
    listed, other_done = [], threading.Event()
    other = threading.Thread(target=lambda: (listed.append(gallery.recent()), other_done.set()))

    def fate(packed, really, connection):
        if carrying(ADD)(packed) and other.ident is None:
            other.start()  # while the entry is on its way
            other_done.wait(0.2)  # what it lists at once, if it does not wait for the entry
        return really()

    gallery.add(ImageSpec("one", 64, 64, "a model", "vydra"), b"png")
    with trips(fate):
        shared.flush()
        other.join()
    shared.close()

    assert [[image.spec.prompt for image in images] for images in listed] == [["one"]]


def test_the_shared_gallery_keeps_the_newest_within_its_count_and_about_its_bytes(redis_server):
    shared = SharedState(redis_server.url)
    gallery = SharedGallery(shared, Clock(), max_count=2, max_bytes=2000)
    spec = ImageSpec("one", 64, 64, "a model", "vydra", tint=(1, 2, 3))
    for prompt in ("one", "two", "three"):
        gallery.add(dataclasses.replace(spec, prompt=prompt), b"png")
    assert [shown.spec.prompt for shown in gallery.recent()] == ["three", "two"]
    gallery.add(dataclasses.replace(spec, base=bytes(3000)), b"png")  # alone over the budget
    assert [shown.spec.prompt for shown in gallery.recent()] == ["three", "two"]
    edit = dataclasses.replace(spec, prompt="edit", base=bytes(1200), mask=bytes(100))
    gallery.add(edit, b"png")

    newest = gallery.recent()
    assert [shown.spec for shown in newest] == [edit]  # "three" pushed out too, for the edit's bytes
    assert gallery.get(newest[0].id).spec == edit and gallery.get(newest[0].id - 1) is None
    assert gallery.recent("geminigen") == []
    shared.close()


def serve_in_a_process(redis_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--state", redis_url,
         "--timeout-seconds", "60"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return process, wait_for_health(f"http://127.0.0.1:{port}", process)


def wait_for_health(url: str, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/_mock/health").raise_for_status()
            return url
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
            time.sleep(0.05)


def test_workers_are_processes_serving_one_socket_with_one_state_and_one_set_of_metrics(redis_server, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--state", redis_server.url,
         "--workers", "2"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = wait_for_health(f"http://127.0.0.1:{port}", server)
        httpx.put(f"{url}/_mock/accounts/{KEY}", json={"credits": 10 * PRICE}).raise_for_status()
        with ThreadPoolExecutor(8) as pool:  # a connection each, for the kernel to hand to either process
            statuses = list(pool.map(lambda i: generate(httpx.Client(base_url=url), f"fox {i}").status_code, range(30)))
        [metrics_dir] = tmp_path.glob("imagegen-mock-metrics-*")
        serving = sorted(int(path.stem.partition("_")[2]) for path in metrics_dir.glob("counter_*.db"))

        assert sorted(statuses) == [200] * 10 + [402] * 20
        assert len(serving) == 2, "one process answered every connection"
        assert requests_counted(url) == 30  # whichever process answers the scrape counts both

        before = children(server.pid)
        os.kill(serving[0], signal.SIGKILL)  # replaced by a new process; its counts stay
        deadline = time.monotonic() + 20
        while serving[0] in children(server.pid) or len(children(server.pid)) < len(before):
            assert time.monotonic() < deadline, "the killed process was not replaced"
            time.sleep(0.05)
        assert requests_counted(url) == 30
        assert generate(httpx.Client(base_url=url), "after").status_code == 402
        assert server.poll() is None
    finally:
        server.send_signal(signal.SIGTERM)
        printed = server.communicate(timeout=20)[0]
    assert server.returncode == 0 and "2 processes sharing Redis" in printed and "stopped" in printed
    assert not list(tmp_path.glob("imagegen-mock-metrics-*"))


def children(pid: int) -> set[int]:
    return set(tree(pid)) - {pid}


def requests_counted(url: str) -> int:
    metrics = httpx.get(f"{url}/_mock/metrics").text
    return sum(int(float(line.rpartition(" ")[2])) for line in metrics.splitlines()
               if line.startswith("imagegen_mock_requests_total{") and 'profile="vydra"' in line)  # fmt: skip


def credits_counted(url: str) -> tuple[int, int]:
    """The credits the metrics count as charged and as refunded."""
    metrics = httpx.get(f"{url}/_mock/metrics").text
    counted = dict(line.split(" ") for line in metrics.splitlines() if line.startswith("imagegen_mock_credits_"))
    charged, refunded = (counted[f"imagegen_mock_credits_{name}_total"] for name in ("charged", "refunded"))
    return int(float(charged)), int(float(refunded))


def hold(url: str) -> None:
    """A paid request the server holds (a forced timeout of a minute) until it dies."""
    with contextlib.suppress(httpx.TransportError):
        generate(httpx.Client(base_url=url, timeout=30), "held", **{"X-Mock-Fault": "timeout"})


def test_kill_9_keeps_what_was_answered_and_the_living_refund_what_was_not(redis_server):
    doomed, doomed_url = serve_in_a_process(redis_server.url)
    app = create_app(Settings(state=redis_server.url))
    with BackgroundServer(app) as living:
        client = httpx.Client(base_url=living.url)
        client.put(f"/_mock/accounts/{KEY}", json={"credits": 100})
        assert generate(httpx.Client(base_url=doomed_url), "answered").status_code == 200
        held = threading.Thread(target=hold, args=(doomed_url,), daemon=True)
        held.start()
        deadline = time.monotonic() + 10
        while client.get(f"/_mock/accounts/{KEY}").json()["credits"] != 100 - 2 * PRICE:
            assert time.monotonic() < deadline, "the held request was never charged"
            time.sleep(0.02)

        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        expire_the_leases_of_the_dead(app)
        state = app.state.mock.shared

        account = client.get(f"/_mock/accounts/{KEY}").json()
        assert (account["credits"], account["refunded"]) == (100 - PRICE, PRICE)
        state.renew()  # a second look refunds nothing twice
        assert client.get(f"/_mock/accounts/{KEY}").json()["credits"] == 100 - PRICE


def test_after_a_kill_9_under_load_the_living_count_the_answered_requests_and_serve_what_they_were_given(
    redis_server,
):
    from tests.test_persistence import HOUR, PAID, run_until_killed
    from tests.test_persistence import KEY as PAYING

    port = free_port()
    doomed_command = [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--state", redis_server.url,
                      "--timeout-seconds", str(HOUR), "--job-seconds-unstable", str(HOUR)]  # fmt: skip
    app = create_app(Settings(state=redis_server.url, job_seconds_unstable=HOUR))
    with BackgroundServer(app) as living, httpx.Client(base_url=living.url, timeout=60) as http:
        with serving("doomed", doomed_command, "/_mock/accounts", port) as doomed:
            answered, uuids, image_urls = asyncio.run(run_until_killed(doomed))
        expire_the_leases_of_the_dead(app)
        balance = http.get(f"/_mock/accounts/{PAYING}").json()["credits"]
        http.post("/_mock/clock", json={"advance_seconds": HOUR})
        jobs = [http.get(f"/geminigen/uapi/v1/history/{uuid}", headers={"x-api-key": PAYING}).json() for uuid in uuids]
        urls = image_urls + [job[field] for job in jobs for field in ("generate_result", "thumbnail_small")]
        served = [http.get(on(http, url)).status_code for url in urls]

    expected = 100_000 - sum(answered[s.profile] * s.charged for s in PAID)
    # As with --data-dir (tests/test_persistence.py): a kill between a request's last write and its settlement
    # refunds that one request, though its client may read it; no await lies between them.
    assert expected <= balance <= expected + max(s.charged for s in PAID)
    assert uuids and all(job["status"] == 2 for job in jobs)
    assert served and set(served) == {200}


def expire_the_leases_of_the_dead(app) -> None:
    """What 6 seconds without renewal do to a dead server's lease; then the living renew theirs."""
    state = app.state.mock.shared
    dead = [name for name in state.redis.smembers(state.key("servers")) if name != state.server]
    state.redis.delete(*(state.key(f"alive:{name}") for name in dead))
    state.renew()


def test_while_redis_is_gone_each_service_answers_503_in_its_envelope_and_then_recovers(redis_server):
    with BackgroundServer(create_app(Settings(state=redis_server.url))) as server:
        client = httpx.Client(base_url=server.url)
        redis_server.stop()
        vydra = generate(client)
        openai = client.post("/openai/v1/images/generations", json={"prompt": "a fox"},
                             headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
        admin = client.get("/_mock/accounts")
        redis_server.start()
        back = generate(client)

    assert vydra.status_code == 503 and "Redis" in vydra.json()["error"]
    assert openai.status_code == 503 and "Redis" in openai.json()["error"]["message"]
    assert admin.status_code == 503
    assert back.status_code == 200


def test_a_server_whose_redis_restarted_while_it_was_idle_answers_its_next_request(redis_server):
    """Its connection, closed by the Redis that went, is made anew, and the scripts the new Redis lacks loaded."""
    with BackgroundServer(create_app(Settings(state=redis_server.url))) as server:
        client = httpx.Client(base_url=server.url)
        assert generate(client).status_code == 200
        redis_server.stop()
        redis_server.start()  # nothing saved: a Redis without the scripts
        again = generate(client)
    assert again.status_code == 200, again.text


def test_a_settlement_goes_with_the_next_round_trip_and_waits_for_redis_if_it_is_gone(redis_server):
    import redis

    app = create_app(Settings(state=redis_server.url))
    state, shared = app.state.mock, app.state.mock.shared

    def states(*charges):
        return [shared.redis.hget(shared.key(f"charge:{c.pending_id}"), "state") for c in charges]

    try:
        answered_then = state.ledger.charge(KEY, PRICE)
        state.ledger.settle([answered_then])
        assert states(answered_then) == ["pending"]  # until the server's next round trip
        with trips(redis_gone), pytest.raises(redis.ConnectionError):
            state.journal.entries()
        assert states(answered_then) == ["pending"]
        answered_now = state.ledger.charge(KEY, PRICE)  # the trip that takes the settlement along
        assert states(answered_then, answered_now) == ["settled", "pending"]
        state.ledger.settle([answered_now])
    finally:
        state.close()  # sends the last settlement before giving up the lease, which would refund it
    assert states(answered_then, answered_now) == ["settled", "settled"]


@contextlib.contextmanager
def trips(fate) -> Iterator[None]:
    """Every round trip to Redis but the lease's goes through `fate(packed, send, connection)`: what it sends, the
    real send, and its connection."""
    import redis

    sent = redis.connection.AbstractConnection.send_packed_command

    def send(connection, command, check_health=True):
        really = lambda: sent(connection, command, check_health)  # noqa: E731
        if threading.current_thread().name == "imagegen-mock lease":
            return really()
        return fate(b"".join(command) if isinstance(command, list) else command, really, connection)

    with unittest.mock.patch.object(redis.connection.AbstractConnection, "send_packed_command", send):
        yield


def round_trips(app, send) -> tuple[object, int]:
    """What `send` gives, and how many round trips to Redis it made (those of the lease's renewal aside)."""
    counted = []
    with trips(lambda packed, really, connection: counted.append(packed) or really()):
        return send(), len(counted)


def carrying(script: str):
    """Whether a trip carries `script`."""
    sha = hashlib.sha1(script.encode()).hexdigest().encode()
    return lambda packed: sha in packed


def answer_lost(script: str, marked: bytes = b""):
    """The first trip that carries `script` (and `marked`) reaches Redis, which runs it, and its answer never comes
    back."""
    import redis

    lost = []

    def fate(packed, really, connection):
        if lost or not carrying(script)(packed) or marked not in packed:
            return really()
        lost.append(packed)
        really()
        connection.read_response()  # Redis has run it
        connection.disconnect()
        raise redis.TimeoutError("Timeout reading from the socket (its answer lost)")

    return fate


def held_back(script: str, held: list[bytes], marked: bytes = b""):
    """The first trip that carries `script` (and `marked`) is held on its way to Redis (kept in `held`): its
    connection times out."""
    import redis

    def fate(packed, really, connection):
        if held or not carrying(script)(packed) or marked not in packed:
            return really()
        held.append(packed)
        connection.disconnect()
        raise redis.TimeoutError("Timeout reading from the socket (held on the way)")

    return fate


def redis_gone(packed, really, connection):
    import redis

    raise redis.ConnectionError("Error 111 connecting to Redis. Connection refused.")


def gone_after(script: str):
    """Redis goes once the first trip that carries `script` has been answered."""
    answered = []

    def fate(packed, really, connection):
        if answered:
            return redis_gone(packed, really, connection)
        if carrying(script)(packed):
            answered.append(packed)
        return really()

    return fate


def test_a_charge_redis_took_whose_answer_was_lost_is_taken_once_and_given_back(redis_server):
    """redis-py would send the charge again by itself after the timeout, and Redis take it twice."""
    with BackgroundServer(create_app(Settings(state=redis_server.url))) as server:
        client = httpx.Client(base_url=server.url)
        assert generate(client).status_code == 200
        with trips(answer_lost(CHARGE)):
            lost = generate(client)
        assert generate(client).status_code == 200  # its first trip takes the refund along
        account = client.get("/_mock/accounts").json()["accounts"][0]
        counted = credits_counted(server.url)

    assert lost.status_code == 503 and "Timeout" in lost.json()["error"]
    assert (account["credits"], account["charged"], account["refunded"]) == (1000 - 2 * PRICE, 3 * PRICE, PRICE)
    assert counted == (3 * PRICE, PRICE)  # the metrics count it as the account does


def test_a_charge_that_reaches_redis_after_it_was_given_up_takes_nothing(redis_server):
    import redis

    held: list[bytes] = []
    with BackgroundServer(create_app(Settings(state=redis_server.url))) as server:
        client = httpx.Client(base_url=server.url)
        assert generate(client).status_code == 200
        with trips(held_back(CHARGE, held)):
            late = generate(client)
        assert generate(client).status_code == 200  # its first trip takes the refund along
        arrives = redis.Redis.from_url(redis_server.url).connection_pool.get_connection()
        arrives.send_packed_command([held[0], b"*1\r\n$4\r\nPING\r\n"])
        while arrives.read_response() != b"PONG":
            continue
        account = client.get("/_mock/accounts").json()["accounts"][0]

    assert late.status_code == 503
    assert (account["credits"], account["charged"], account["refunded"]) == (1000 - 2 * PRICE, 2 * PRICE, 0)


def test_a_charge_whose_refund_finds_redis_gone_is_given_back_once_it_is_back_and_not_settled(redis_server):
    with BackgroundServer(create_app(Settings(state=redis_server.url))) as server:
        client = httpx.Client(base_url=server.url)
        assert generate(client).status_code == 200
        with trips(gone_after(CHARGE)):  # its image's file, its refund and its settlement cannot reach Redis
            failed = generate(client)
        assert generate(client).status_code == 200
        account = client.get("/_mock/accounts").json()["accounts"][0]
        counted = credits_counted(server.url)

    assert failed.status_code == 503
    assert (account["credits"], account["charged"], account["refunded"]) == (1000 - 2 * PRICE, 3 * PRICE, PRICE)
    assert counted == (3 * PRICE, PRICE)


def test_a_job_redis_started_whose_answer_was_lost_is_forgotten_and_its_charge_given_back(redis_server):
    """Else the job would run, finish and send its webhook, though its client was told 503 and never had its id."""
    from mockserver.state.shared_jobs import START

    app = create_app(Settings(state=redis_server.url))
    with BackgroundServer(app) as server:
        client = httpx.Client(base_url=server.url)
        client.put(f"/_mock/accounts/{KEY}", json={"credits": 1000})
        first = submit(client)  # Redis has the scripts
        paid = 1000 - client.get(f"/_mock/accounts/{KEY}").json()["credits"]
        with trips(answer_lost(START)):
            lost = client.post(GEMINIGEN, headers={"x-api-key": KEY}, data=GEMINIGEN_FORM)
        credits = client.get(f"/_mock/accounts/{KEY}").json()["credits"]
        kept = submit(client)  # its first trip takes the forgetting along
        jobs = [job.uuid for job in app.state.mock.jobs.recent()]

    assert lost.status_code == 503 and credits == 1000 - paid
    assert jobs == [kept["uuid"], first["uuid"]]


def test_a_job_start_that_reaches_redis_after_it_was_given_up_starts_nothing(redis_server):
    import redis

    from mockserver.state.shared_jobs import START

    held: list[bytes] = []
    app = create_app(Settings(state=redis_server.url))
    with BackgroundServer(app) as server:
        client = httpx.Client(base_url=server.url)
        first = submit(client)
        with trips(held_back(START, held)):
            late = client.post(GEMINIGEN, headers={"x-api-key": KEY}, data=GEMINIGEN_FORM)
        kept = submit(client)  # its first trip takes the forgetting along
        arrives = redis.Redis.from_url(redis_server.url).connection_pool.get_connection()
        arrives.send_packed_command([held[0], b"*1\r\n$4\r\nPING\r\n"])
        while arrives.read_response() != b"PONG":
            continue
        jobs = [job.uuid for job in app.state.mock.jobs.recent()]

    assert late.status_code == 503
    assert jobs == [kept["uuid"], first["uuid"]]


def test_a_job_redis_took_as_due_whose_answer_was_lost_is_finished_all_the_same(redis_server):
    """Redis marks a job finished as it hands it out: were that answer lost, a failed job would never be refunded."""
    from starlette.testclient import TestClient

    from mockserver.state.shared_jobs import TAKE_DUE

    app = create_app(Settings(state=redis_server.url, frozen_clock=True))
    client = TestClient(app)  # not started: no job ticker takes the job meanwhile
    try:
        client.put(f"/_mock/accounts/{KEY}", json={"credits": 100})
        job = submit(client, **{"X-Mock-Fault": "content-policy"})
        with trips(answer_lost(TAKE_DUE)):
            advanced = client.post("/_mock/clock", json={"advance_seconds": 60})
        done = client.get(f"/uapi/v1/history/{job['uuid']}", headers={"x-api-key": KEY}).json()
        account = client.get(f"/_mock/accounts/{KEY}").json()  # its trip takes along that the take is done
        takes_kept = app.state.mock.shared.redis.keys("imagegen-mock:*taken:*")
    finally:
        app.state.mock.close()

    assert advanced.status_code == 503
    assert done["status"] == 3 and takes_kept == []
    assert account["credits"] == 100 and account["refunded"] == account["charged"] > 0


SERVER_ERROR_FITS = b'"server-error"'  # in the faults a take looks for: those the endpoint answers itself


def test_a_fault_redis_took_whose_answer_was_lost_goes_back_where_it_was(redis_server):
    """Else it would fail no request at all: the one that took it got a 503 instead."""
    from mockserver.state.shared_faults import TAKE

    with BackgroundServer(create_app(Settings(state=redis_server.url))) as server:
        client = httpx.Client(base_url=server.url)
        client.post("/_mock/faults", json={"profile": "vydra", "fault": "server-error"})
        assert generate(client).status_code == 500  # Redis has the script
        for status in (502, 504):
            client.post("/_mock/faults", json={"profile": "vydra", "fault": "server-error", "status": status})
        with trips(answer_lost(TAKE, marked=SERVER_ERROR_FITS)):  # the take that finds the 502
            lost = generate(client)
        statuses = [generate(client).status_code for _ in range(3)]  # the first's first trip gives the fault back

    assert lost.status_code == 503
    assert statuses == [502, 504, 200]  # in the order they were queued


def test_a_fault_take_that_reaches_redis_after_it_was_given_up_takes_nothing(redis_server):
    import redis

    from mockserver.state.shared_faults import TAKE

    held: list[bytes] = []
    with BackgroundServer(create_app(Settings(state=redis_server.url))) as server:
        client = httpx.Client(base_url=server.url)
        client.post("/_mock/faults", json={"profile": "vydra", "fault": "server-error"})
        assert generate(client).status_code == 500  # Redis has the script
        client.post("/_mock/faults", json={"profile": "vydra", "fault": "server-error", "times": 2})
        with trips(held_back(TAKE, held, marked=SERVER_ERROR_FITS)):
            late = generate(client)
        statuses = [generate(client).status_code]  # its first trip gives back what the held take may have taken
        arrives = redis.Redis.from_url(redis_server.url).connection_pool.get_connection()
        arrives.send_packed_command([held[0], b"*1\r\n$4\r\nPING\r\n"])
        while arrives.read_response() != b"PONG":
            continue
        statuses += [generate(client).status_code for _ in range(2)]

    assert late.status_code == 503
    assert statuses == [500, 500, 200]


def test_a_paid_request_goes_to_redis_in_four_round_trips(redis_server):
    """The call's start (with the key's account), the rate count with the charge, the image's file, and the settlement
    with the journal's entry: each step's writes go with the next step's round trip."""
    from starlette.testclient import TestClient

    app = create_app(Settings(state=redis_server.url))
    client = TestClient(app)  # not started: no job ticker sends anything meanwhile
    try:
        assert generate(client).status_code == 200  # the key's account opened, and the image drawn
        answer, trips = round_trips(app, lambda: generate(client))
        assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == "58"
        assert trips == 4
        assert app.state.mock.ledger.find(KEY).balance == app.state.mock.settings.credits - 2 * PRICE
        assert [entry.status for entry in app.state.mock.journal.entries()] == [200, 200]
    finally:
        app.state.mock.close()


def test_a_job_starts_in_five_round_trips_its_files_in_one(redis_server):
    """The call's start (with the key's account and the era), the charge, the job with the jobs due finished, its
    image and thumbnail together, and the settlement with the journal's entry."""
    from starlette.testclient import TestClient

    app = create_app(Settings(state=redis_server.url, frozen_clock=True))  # the first job not due while it counts
    client = TestClient(app)
    try:
        submit(client)  # the key's account opened, and the images drawn
        job, trips = round_trips(app, lambda: submit(client))
        assert trips == 5
        client.post("/_mock/clock", json={"advance_seconds": 60})
        done = client.get(f"/uapi/v1/history/{job['uuid']}", headers={"x-api-key": KEY}).json()
        for url in (done["generate_result"], done["thumbnail_small"]):
            assert client.get(on(client, url)).headers["content-type"] == "image/jpeg"
    finally:
        app.state.mock.close()


def test_a_queued_script_whose_round_trip_fails_fails_with_it_unless_kept_for_the_next(redis_server):
    import redis

    from mockserver.state.shared import Script, SharedState

    shared = SharedState(redis_server.url)
    counting = Script(shared, "return redis.call('INCR', ARGV[1])")
    try:
        dropped, kept = counting.later(args=["dropped"]), counting.later(args=["kept"], kept=True)
        with trips(redis_gone), pytest.raises(redis.ConnectionError):
            counting(args=["carrier"])
        with pytest.raises(redis.ConnectionError):
            dropped.answer()
        assert kept.answer() == 1  # sent now
        assert [shared.redis.get(name) for name in ("dropped", "kept", "carrier")] == [None, "1", None]
    finally:
        shared.close()


def test_a_script_whose_answer_is_lost_is_not_sent_again(redis_server):
    import redis

    from mockserver.state.shared import Script, SharedState

    shared = SharedState(redis_server.url)
    counting = "return redis.call('INCR', 'counted')"
    shared.redis.script_load(counting)
    try:
        with trips(answer_lost(counting)), pytest.raises(redis.TimeoutError):
            Script(shared, counting)(args=[])
        assert shared.redis.get("counted") == "1"
    finally:
        shared.close()


def test_a_server_refuses_to_start_on_a_redis_it_cannot_reach():
    from mockserver.settings import SettingsError

    with pytest.raises(SettingsError, match="cannot be reached"):
        create_app(Settings(state=f"redis://127.0.0.1:{free_port()}/0"))


def test_workers_on_a_redis_they_cannot_reach_refuse_to_start():
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(free_port()), "--state",
         f"redis://127.0.0.1:{free_port()}/0", "--workers", "2"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "cannot be reached" in done.stderr


def test_a_window_with_no_request_in_it_counts_none_and_ends_a_window_from_now(redis_server):
    from mockserver.state.shared import SharedClock, SharedState
    from mockserver.state.shared_rates import SharedRequestCounter

    shared = SharedState(redis_server.url)
    try:
        clock = SharedClock(shared, frozen=True)
        counter = SharedRequestCounter(shared, clock)
        assert counter.window("nobody", 60) == (0, clock.now() + 60)
        counter.hit("somebody")
        clock.advance(61)
        assert counter.window("somebody", 60) == (0, clock.now() + 60)
    finally:
        shared.close()

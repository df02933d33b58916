"""--workers N: images drawn and encoded in N processes, the state kept whole in the server's own."""

from __future__ import annotations

import base64
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from benchmarks.servers import free_port, serving, tree
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

KEY = "sk-workers"
GENERATIONS = "/llmgateway/v1/images/generations"


def generate(client: httpx.Client, prompt: str, n: int = 4) -> httpx.Response:
    body = {"prompt": prompt, "model": "gemini-2.5-flash-image", "n": n}
    return client.post(GENERATIONS, headers={"Authorization": f"Bearer {KEY}"}, json=body)


def images(response: httpx.Response) -> list[bytes]:
    return [base64.b64decode(item["b64_json"]) for item in response.json()["data"]]


@pytest.fixture
def pooled():
    with (
        BackgroundServer(create_app(Settings(workers=2))) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client
    wait_until_no_workers()


def wait_until_no_workers() -> None:
    deadline = time.monotonic() + 10
    while workers():
        assert time.monotonic() < deadline, "the workers outlived the server"
        time.sleep(0.01)


def workers() -> list[multiprocessing.Process]:
    return multiprocessing.active_children()


def test_images_come_from_the_workers_and_are_the_bytes_one_process_draws(pooled):
    drawn_by_workers = images(generate(pooled, "a lighthouse"))
    with BackgroundServer(create_app(Settings())) as single, httpx.Client(base_url=single.url, timeout=60) as c:
        drawn_here = images(generate(c, "a lighthouse"))

    assert len(workers()) == 2
    assert drawn_by_workers == drawn_here
    assert len(set(drawn_by_workers)) == 4


def test_the_ledger_stays_exact_when_the_workers_draw(pooled):
    pooled.put(f"/_mock/accounts/{KEY}", json={"credits": 1000})
    generate(pooled, "the price", n=1)
    price = 1000 - pooled.get(f"/_mock/accounts/{KEY}").json()["credits"]
    pooled.put(f"/_mock/accounts/{KEY}", json={"credits": 10 * price + price - 1})

    with ThreadPoolExecutor(8) as senders:
        statuses = list(senders.map(lambda i: generate(pooled, f"fox {i}", n=1).status_code, range(20)))

    assert sorted(statuses) == [200] * 10 + [402] * 10
    assert pooled.get(f"/_mock/accounts/{KEY}").json()["credits"] == price - 1


def test_a_killed_worker_is_replaced_and_the_request_still_answered(pooled):
    generate(pooled, "first")
    for worker in workers():
        os.kill(worker.pid, signal.SIGKILL)

    answer = generate(pooled, "after the kill")

    assert answer.status_code == 200 and len(images(answer)) == 4


def test_the_workers_stop_with_the_server():
    with BackgroundServer(create_app(Settings(workers=2))) as server, httpx.Client(base_url=server.url) as c:
        generate(c, "a lighthouse")
        assert len(workers()) == 2

    wait_until_no_workers()


def test_the_workers_end_by_themselves_when_the_server_is_killed():
    port = free_port()
    command = [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--workers", "2"]
    with serving("mock", command, "/_mock/health", port) as server:
        generate(httpx.Client(base_url=server.url, timeout=60), "a lighthouse")
        spawned = [pid for pid in tree(server.process.pid) if pid != server.process.pid]
        os.kill(server.process.pid, signal.SIGKILL)  # the server alone, with no time to stop its workers
        server.process.wait()

        deadline = time.monotonic() + 10
        while alive := [pid for pid in spawned if running(pid)]:
            assert time.monotonic() < deadline, f"workers {alive} outlived the server"
            time.sleep(0.05)
    assert len(spawned) >= 2  # the two workers (and multiprocessing's resource tracker)


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting for whoever adopted it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False

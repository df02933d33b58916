"""--data-dir: accounts, the ledger, jobs and generated files survive a restart, a kill -9 under load included."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from benchmarks.servers import Server, free_port, serving
from conformance.scenarios import request_args
from mockserver import FAULT_HEADER, Scenario, scenarios
from mockserver.app import create_app
from mockserver.settings import Settings, SettingsError
from mockserver.state import State
from mockserver.state.files import FileStore, StoredFile
from mockserver.state.store import Store

KEY = "sk-persistent"
HOUR = 3600


def scenario(profile: str, name: str) -> Scenario:
    return next(s for s in scenarios(profile) if s.name == name)


VYDRA = scenario("vydra", "success")
JOB = scenario("geminigen", "job-started")
IMAGES = scenario("llmgateway", "success")
PAID = [VYDRA, JOB, IMAGES]
HELD = [VYDRA, IMAGES]  # their timeout fault comes after the charge: the request holds a pending charge


def asked(s: Scenario, fault: str | None = None) -> dict:
    """The scenario's request under its profile's prefix, with a fault if given."""
    args = request_args(s, s.request, KEY)
    args["url"] = f"/{s.profile}{args['url']}"
    if fault:
        args["headers"][FAULT_HEADER] = fault
    return args


def mock(data_dir: Path, **settings) -> TestClient:
    return TestClient(create_app(Settings(data_dir=str(data_dir), job_seconds_unstable=HOUR, **settings)))


def test_accounts_jobs_and_files_come_back_after_a_restart(tmp_path):
    with mock(tmp_path) as client:
        client.put(f"/_mock/accounts/{KEY}", json={"credits": 100})
        image_url = client.request(**asked(VYDRA)).json()["imageUrl"]
        image = client.get(image_url).content
        done = client.request(**asked(JOB)).json()["uuid"]
        client.post("/_mock/clock", json={"advance_seconds": HOUR})
        running = client.request(**asked(JOB)).json()["uuid"]

    with mock(tmp_path) as client:
        balance = client.get(f"/_mock/accounts/{KEY}").json()["credits"]
        finished = client.get(f"/geminigen/uapi/v1/history/{done}", headers={"x-api-key": KEY}).json()
        still_running = client.get(f"/geminigen/uapi/v1/history/{running}", headers={"x-api-key": KEY}).json()
        kept_image = client.get(image_url).content
        result = client.get(finished["generate_result"])
        another_url = client.request(**asked(VYDRA)).json()["imageUrl"]

    assert balance == 100 - VYDRA.charged - 2 * JOB.charged
    assert (finished["status"], still_running["status"]) == (2, 1)
    assert kept_image == image
    assert result.status_code == 200 and result.headers["content-type"] == "image/jpeg"
    assert another_url != image_url, "a restarted server handed out a name it had already used"


def test_a_running_job_finishes_after_a_restart_and_a_failed_one_is_refunded_once(tmp_path):
    with mock(tmp_path) as client:
        client.put(f"/_mock/accounts/{KEY}", json={"credits": 100})
        fails = client.request(**asked(JOB, "server-error")).json()["uuid"]
        completes = client.request(**asked(JOB)).json()["uuid"]

    with mock(tmp_path) as client:
        client.post("/_mock/clock", json={"advance_seconds": HOUR})
        statuses = [
            client.get(f"/geminigen/uapi/v1/history/{uuid}", headers={"x-api-key": KEY}).json()["status"]
            for uuid in (fails, completes)
        ]
        balance = client.get(f"/_mock/accounts/{KEY}").json()["credits"]

    with mock(tmp_path) as client:
        balance_after_another_restart = client.get(f"/_mock/accounts/{KEY}").json()["credits"]

    assert statuses == [3, 2]
    assert balance == balance_after_another_restart == 100 - JOB.charged


def test_a_reset_empties_the_folder_too(tmp_path):
    with mock(tmp_path) as client:
        client.request(**asked(VYDRA))
        client.request(**asked(JOB))
        client.post("/_mock/reset")

    with mock(tmp_path) as client:
        accounts = client.get("/_mock/accounts").json()["accounts"]
        jobs = client.get("/_mock/jobs").json()["jobs"]

    assert (accounts, jobs) == ([], [])
    assert list((tmp_path / "files").iterdir()) == []


def test_what_a_request_never_answered_wrote_is_undone_at_the_next_start(tmp_path):
    state = kept_state(tmp_path)
    state.ledger.set_balance(KEY, 50)
    answered, unanswered = state.ledger.charge(KEY, 10), state.ledger.charge(KEY, 7)
    state.ledger.settle([answered])
    job = state.jobs.start("p", KEY, 60.0, {"prompt": "fox"}, unanswered)
    state.files.put(StoredFile("p/fox.png", b"png", "image/png", 0, None), unanswered)
    state.store.close()  # the request holding `unanswered` never answered: as if the server died here

    again = kept_state(tmp_path)

    account = again.ledger.find(KEY)
    assert (account.balance, account.charged, account.refunded) == (40, 17, 7)
    assert again.jobs.get(job.uuid) is None
    assert again.files.get("p/fox.png", again.clock.now()) is None
    assert list((tmp_path / "files").iterdir()) == []
    again.store.close()


def test_files_that_share_a_content_keep_one_copy_of_it_until_the_last_goes(tmp_path):
    files = FileStore(max_count=2, max_bytes=10**6, store=Store(tmp_path))

    def on_disk() -> list[str]:
        return sorted(path.name for path in (tmp_path / "files").iterdir())

    shared, other = hashlib.sha256(b"shared").hexdigest(), hashlib.sha256(b"other").hexdigest()

    for name, content in [("a", b"shared"), ("b", b"shared")]:
        files.put(StoredFile(name, content, "image/png", 0, None))
    assert on_disk() == [shared]
    files.put(StoredFile("c", b"other", "image/png", 0, None))  # pushes "a" out; "b" still needs its content
    assert on_disk() == sorted([shared, other])
    files.put(StoredFile("d", b"other", "image/png", 0, None))  # pushes "b" out, the last user of `shared`
    assert on_disk() == [other]


def kept_state(folder: Path) -> State:
    state = State(Settings(data_dir=str(folder)))
    state.jobs.serve("p", lambda job: None)
    return state


def test_two_servers_cannot_share_a_folder(tmp_path):
    with mock(tmp_path), pytest.raises(SettingsError, match="another imagegen-mock keeps its state"):
        create_app(Settings(data_dir=str(tmp_path)))


# kill -9 in the middle of load, against the server as users start it.

LOAD_TASKS_PER_PROFILE = 2
ANSWERS_BEFORE_THE_KILL = 3  # each load task's, so that the kill lands while every one of them is busy


# A ledger that makes every charge final at once, as if each request had been answered when charged.
SETTLES_AT_ONCE = """
from mockserver.state.ledger import Ledger
charge = Ledger.charge
def charge_for_good(self, api_key, amount):
    made = charge(self, api_key, amount)
    self.settle([made])
    return made
Ledger.charge = charge_for_good
"""


def serve(data_dir: Path, port: int, broken: str = "") -> AbstractContextManager[Server]:
    start = f"{broken}\nfrom mockserver.cli import main\nraise SystemExit(main())"
    command = [sys.executable, "-c", start, "serve", "--port", str(port), "--data-dir", str(data_dir),
               "--timeout-seconds", str(HOUR), "--job-seconds-unstable", str(HOUR)]  # fmt: skip
    return serving("mock", command, "/_mock/accounts", port)


async def held(http: httpx.AsyncClient, s: Scenario) -> None:
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):  # closed by the kill, not a timeout
        await http.request(**asked(s, "timeout"), timeout=120)


async def load(
    http: httpx.AsyncClient, s: Scenario, answered: Counter, handed_out: list[str], busy: asyncio.Event
) -> None:
    """Send the scenario's paid request again and again, counting the successes, until the server dies;
    `busy` is set after a few answers (or on a failure, so that the kill is not waited for in vain)."""
    try:
        for mine in itertools.count(1):
            try:
                response = await http.request(**asked(s))
            except httpx.TransportError:
                return
            assert response.status_code == 200, response.text
            answered[s.profile] += 1
            handed_out += [response.json()[field] for field in ("uuid", "imageUrl") if field in response.json()]
            if mine == ANSWERS_BEFORE_THE_KILL:
                busy.set()
    finally:
        busy.set()


async def run_until_killed(server: Server) -> tuple[Counter, list[str], list[str]]:
    """What the clients were answered: successes by profile, the jobs' uuids, Vydra's image URLs."""
    answered: Counter = Counter()
    handed_out: list[str] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
        await http.put(f"/_mock/accounts/{KEY}", json={"credits": 100_000})
        holding = [asyncio.create_task(held(http, s)) for s in HELD for _ in range(2)]
        await until_charged(http, 2 * sum(s.charged for s in HELD))
        busy = {(s.profile, n): asyncio.Event() for s in PAID for n in range(LOAD_TASKS_PER_PROFILE)}
        tasks = [
            asyncio.create_task(load(http, s, answered, handed_out, busy[s.profile, n]))
            for s in PAID
            for n in range(LOAD_TASKS_PER_PROFILE)
        ]
        await asyncio.gather(*(event.wait() for event in busy.values()))
        server.kill()
        await asyncio.gather(*tasks, *holding)
    uuids = [item for item in handed_out if not item.startswith("http")]
    return answered, uuids, [item for item in handed_out if item.startswith("http")]


async def until_charged(http: httpx.AsyncClient, amount: int) -> None:
    """Wait until the held requests have been charged (they are held after the charge)."""
    deadline = time.monotonic() + 30
    while (await http.get(f"/_mock/accounts/{KEY}")).json()["credits"] != 100_000 - amount:
        assert time.monotonic() < deadline, "the held requests were never charged"
        await asyncio.sleep(0.01)


def test_after_a_kill_9_under_load_balances_count_the_answered_requests(tmp_path):
    answered, uuids, balance, kept, finished, served = crash_and_restart(tmp_path)

    assert all(answered[s.profile] >= LOAD_TASKS_PER_PROFILE * ANSWERS_BEFORE_THE_KILL for s in PAID)
    expected = 100_000 - sum(answered[s.profile] * s.charged for s in PAID)
    # The kill may land in the one instant between a request's last write and the commit that makes its charge
    # final (no await lies between them, so it is at most one request): refunded, though its client may read it.
    assert expected <= balance <= expected + max(s.charged for s in PAID)
    # So may a job answered in that instant be lost with its charge: at most one, and only if its charge was.
    lost = len(uuids) - len(finished)
    assert lost <= (1 if balance > expected else 0), f"{lost} answered job(s) lost"
    assert kept.json()["total"] == len(finished), "a job whose request was never answered came back"
    assert {job["uuid"] for job in kept.json()["result"]} <= set(uuids)
    assert all(job["status"] == 2 for job in finished)
    assert all(file.status_code == 200 for file in served)
    on_disk = {path.name for path in (tmp_path / "files").iterdir()}  # each content once, by its SHA-256
    assert on_disk == {hashlib.sha256(file.content).hexdigest() for file in served}, "a file nobody was given"


def test_the_kill_test_catches_a_ledger_that_counts_unanswered_requests(tmp_path):
    answered, _, balance, _, _, _ = crash_and_restart(tmp_path, broken=SETTLES_AT_ONCE)

    held = 2 * sum(s.charged for s in HELD)  # never refunded by this ledger, nor what was in flight at the kill
    assert balance <= 100_000 - sum(answered[s.profile] * s.charged for s in PAID) - held


def crash_and_restart(data_dir: Path, broken: str = "") -> tuple:
    """Load, kill -9, restart: what the clients were answered, and what the restarted server shows and serves
    of it (the answered Vydra images, the jobs' images and thumbnails once complete)."""
    port = free_port()  # the same after the restart, as the URLs handed out name it
    with serve(data_dir, port, broken) as server:
        answered, uuids, image_urls = asyncio.run(run_until_killed(server))
    with serve(data_dir, port) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        balance = http.get(f"/_mock/accounts/{KEY}").json()["credits"]
        kept = http.get("/geminigen/uapi/v1/histories", params={"items_per_page": 100}, headers={"x-api-key": KEY})
        http.post("/_mock/clock", json={"advance_seconds": HOUR})
        read = [http.get(f"/geminigen/uapi/v1/history/{uuid}", headers={"x-api-key": KEY}) for uuid in uuids]
        jobs = [job.json() for job in read if job.status_code == 200]  # those the restarted server kept
        urls = image_urls + [job[field] for job in jobs for field in ("generate_result", "thumbnail_small")]
        served = [http.get(url) for url in urls]
    return answered, uuids, balance, kept, jobs, served


@pytest.mark.parametrize(
    "content",
    [b"\x00not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 200],
    ids=["garbage", "a broken header"],
)
def test_a_corrupt_state_file_is_a_one_line_error(tmp_path, content):
    (tmp_path / "state.sqlite3").write_bytes(content)

    with pytest.raises(SettingsError, match=r"^data_dir: .*state\.sqlite3 is not an imagegen-mock state file"):
        State(Settings(data_dir=str(tmp_path)))
    State(Settings(data_dir=str(tmp_path / "elsewhere"))).close()  # the folder's lock was let go


def test_another_programs_database_is_refused_by_its_tables(tmp_path):
    with sqlite3.connect(tmp_path / "state.sqlite3") as other:
        other.execute("CREATE TABLE accounts (user TEXT, money REAL)")

    with pytest.raises(SettingsError, match="holds a table accounts unlike this mock's"):
        State(Settings(data_dir=str(tmp_path)))


def test_the_command_says_so_in_one_line(tmp_path):
    (tmp_path / "state.sqlite3").write_bytes(b"garbage" * 100)

    done = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip

    assert done.returncode == 2
    assert done.stderr.strip().startswith("imagegen-mock: data_dir:")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_forgotten_account_stays_forgotten_and_a_given_one_stays_given_across_a_restart(tmp_path):
    first = State(Settings(data_dir=str(tmp_path), accounts_max_count=1))
    first.ledger.set_balance("given", 5)
    first.ledger.find_or_open("old")
    first.ledger.find_or_open("new")
    first.close()

    again = State(Settings(data_dir=str(tmp_path), accounts_max_count=1))
    again.ledger.find_or_open("newer")
    assert [key for key in ("given", "old", "new", "newer") if again.ledger.find(key)] == ["given", "newer"]
    again.close()

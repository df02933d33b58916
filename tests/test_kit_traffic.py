"""The kit against paid services: the budget holds, --plan sends nothing, pacing and Retry-After, no key
anywhere in what it prints or writes, and reports that read well."""

from __future__ import annotations

import base64
import html.parser
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import httpx
import pytest
from breaking import mock_app, never_refunding, patching
from browser import chromium, needs_chromium
from PIL import Image

import contracts
from conformance import Target, run_check
from conformance import openai as openai_kit
from conformance.behaviours import Behaviour
from conformance.runner import BUNDLED_KEY, PROFILES_CHECKED, behaviours_of, plan
from conformance.traffic import Billing, Budget, BudgetSpent, KitTransport, Pacer, Recorder
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

SECRET = "sk-very-secret-key-0123456789"


def billable_successes(server_url: str, profile: str) -> int:
    """The requests the mock's journal shows a service would have billed: successful billable ones."""
    billing = Billing(profile, "")
    entries = httpx.get(f"{server_url}/_mock/requests", params={"profile": profile, "limit": 100_000}).json()
    return sum(
        1
        for entry in entries["requests"]
        if billing.billable(entry["method"], entry["endpoint"])
        and 200 <= entry["status"] < 300
        and "x-mock-fault" not in entry["headers"]
    )


@pytest.mark.parametrize("profile", PROFILES_CHECKED)
@pytest.mark.parametrize("budget", [0, 2])
def test_the_budget_holds_for_every_profile(profile, budget):
    with BackgroundServer(create_app(Settings())) as server:
        target = Target(profile, f"{server.url}/{profile}", SECRET)
        report = run_check(target, examples=2, budget=budget)
        billed = billable_successes(server.url, profile)

    assert billed <= report.budget.spent <= budget
    assert report.count("fail") == report.count("error") == 0, [v.detail for v in report.verdicts if v.detail]
    stopped = [v for v in report.verdicts if v.status == "skip" and "budget" in v.detail]
    assert stopped, "a budget this small leaves some paid behaviour out, and says so"


def test_a_proxy_the_environment_names_is_not_used_for_a_loopback_target(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with BackgroundServer(create_app(Settings())) as server:
        target = Target("vydra", f"{server.url}/vydra", SECRET)
        report = run_check(target, examples=2, only={"concurrent-charges-are-exact"})

    assert [v.status for v in report.verdicts] == ["pass"], [v.detail for v in report.verdicts]


def test_a_remote_target_is_reached_through_the_proxy_the_environment_names(monkeypatch):
    """The mock stands in for a forward proxy: it answers requests for vydra.example sent to it in absolute form."""
    with BackgroundServer(create_app(Settings())) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        target = Target("vydra", "http://vydra.example/vydra", SECRET)
        report = run_check(target, examples=1, rate=1000, only={"missing-prompt-400", "auth-required-401"})
        journal = httpx.get(f"{proxy.url}/_mock/requests").json()["requests"]

    assert [v.status for v in report.verdicts] == ["pass", "pass"], [v.detail for v in report.verdicts]
    # the checks' requests, and the balance read before and after the run
    assert {entry["path"] for entry in journal} == {
        "/vydra/api/v1/models/gemini/generate",
        "/vydra/api/v1/organization",
    }


def test_the_proxy_is_read_from_the_environment_as_curl_reads_it(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://corporate:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")

    assert Target("vydra", "https://vydra.app/api", SECRET).proxy == "http://corporate:3128"
    assert Target("vydra", "http://vydra.app/api", SECRET).proxy is None  # no HTTP_PROXY named
    assert Target("vydra", "https://internal.example/api", SECRET).proxy is None
    assert Target("vydra", "https://127.0.0.1:8000/vydra", SECRET).proxy is None


def test_the_plan_buys_the_cheapest_behaviours_first():
    behaviours = [
        Behaviour("dear", "", "", check=lambda s: None, paid=True, calls=3),
        Behaviour("free", "", "", check=lambda s: None),
        Behaviour("cheap", "", "", check=lambda s: None, paid=True, calls=1),
        Behaviour("mock-only", "", "", check=lambda s: None, needs_control=True),
    ]

    left_out = plan(behaviours, examples=1, budget=2, free_only=False, controllable=False)

    assert set(left_out) == {"dear", "mock-only"}
    assert "needs 3 paid request(s)" in left_out["dear"]


def test_plan_sends_nothing(tmp_path):
    with BackgroundServer(create_app(Settings())) as server:
        result = run_cli(
            "check", "--profile", "llmgateway", "--base-url", f"{server.url}/llmgateway", "--api-key", SECRET,
            "--budget", "2", "--examples", "1", "--plan",
        )  # fmt: skip
        journal = httpx.get(f"{server.url}/_mock/requests").json()["requests"]

    assert result.returncode == 0, result.stderr
    assert journal == []
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["RUN", "exactly-n-images"] and "1 paid request(s)" in line for line in lines)
    assert any(line.split()[:2] == ["SKIP", "contract"] for line in lines)
    assert lines[-1] == "at most 2 paid request(s) in all"
    assert SECRET not in result.stdout + result.stderr


def test_the_plan_prices_openai_in_dollars_from_the_contract():
    result = run_cli(
        "check", "--profile", "openai", "--base-url", "http://127.0.0.1:9/v1", "--api-key", SECRET,
        "--budget", "3", "--examples", "1", "--plan",
    )  # fmt: skip

    dollars = contracts.load("openai")["x-credit-dollars"]
    cheapest = openai_kit.price(openai_kit.CHEAPEST)  # gpt-image-1-mini, low, 1024x1024: half a cent
    dall_e = max(map(openai_kit.price, openai_kit.DALL_E_FIRST_SIZES))
    lines = {line.split()[1]: line for line in result.stdout.splitlines()[1:-1]}
    assert result.returncode == 0, result.stderr
    assert f"1 paid request(s), at most ${cheapest * dollars:.3f}" in lines["output-format-and-alpha-are-real"]
    assert f"at most ${dall_e * dollars:.3f}" in lines["dall-e-url-serves-the-image"]
    assert "price not stated" in lines["contract"]
    running = [line for line in lines.values() if line.split()[0] == "RUN" and "paid request" in line]
    spent = sum(float(line.split("at most $")[1].split()[0]) for line in running)
    assert result.stdout.splitlines()[-1] == (
        f"at most 3 paid request(s) in all, at most ${spent:.3f} at the contract's image prices"
    )


def test_free_only_on_the_command_line_sends_nothing_billable():
    with BackgroundServer(create_app(Settings())) as server:
        result = run_cli(
            "check", "--profile", "vydra", "--base-url", f"{server.url}/vydra", "--api-key", SECRET, "--free-only",
            "--examples", "3",
        )  # fmt: skip
        billed = billable_successes(server.url, "vydra")

    assert result.returncode == 0, result.stdout
    assert billed == 0
    assert "left out by --free-only" in result.stdout


# The transport: pacing, Retry-After, and what a free request that got billed does to the budget.


class Answers(httpx.BaseTransport):
    """A server that answers from a list, and remembers what it was sent."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.answers.pop(0)


def client(server: Answers, budget: Budget, paid: bool, sleeps: list[float]) -> httpx.Client:
    pacer = Pacer(None, sleep=sleeps.append)
    billing = Billing("vydra", "")
    transport = KitTransport(server, billing, budget, pacer, paid_now=lambda: paid, recorder=Recorder)
    return httpx.Client(base_url="https://vydra.example", transport=transport)


GENERATE = "/api/v1/models/gemini/generate"


def test_a_429_with_retry_after_is_waited_out_and_retried_once():
    sleeps: list[float] = []
    server = Answers(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(400))

    response = client(server, Budget(None), paid=False, sleeps=sleeps).post(GENERATE, json={})

    assert (response.status_code, len(server.sent), sleeps) == (400, 2, [7.0])


def test_a_paid_retry_is_paid_for_and_never_sent_past_the_budget():
    sleeps: list[float] = []
    server = Answers(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200))
    budget = Budget(1)

    with pytest.raises(BudgetSpent):
        client(server, budget, paid=True, sleeps=sleeps).post(GENERATE, json={"prompt": "x"})

    assert len(server.sent) == 1
    assert sleeps == []


def test_a_long_retry_after_and_a_forced_429_are_not_waited_for():
    sleeps: list[float] = []
    server = Answers(
        httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(429, headers={"Retry-After": "1"})
    )
    http = client(server, Budget(None), paid=False, sleeps=sleeps)

    first = http.post(GENERATE, json={})
    forced = http.post(GENERATE, json={}, headers={"X-Mock-Fault": "rate-limit"})

    assert (first.status_code, forced.status_code, len(server.sent), sleeps) == (429, 429, 2, [])


def test_a_free_request_that_succeeds_is_counted_and_then_free_requests_are_guarded():
    sleeps: list[float] = []
    server = Answers(httpx.Response(200), httpx.Response(200))
    budget = Budget(1)
    http = client(server, budget, paid=False, sleeps=sleeps)

    http.post(GENERATE, json={})
    with pytest.raises(BudgetSpent):
        http.post(GENERATE, json={})

    assert (budget.spent, budget.unexpected, len(server.sent)) == (1, 1, 1)


def test_the_pacer_spaces_requests_by_the_rate():
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()

    assert sleeps == [0.25, 0.25]


def test_billable_requests_are_the_contracts_x_billable_operations():
    billing = Billing("google", "/google")

    assert billing.billable("POST", "/google/v1beta/models/gemini-2.5-flash-image:generateContent")
    assert not billing.billable("GET", "/google/v1beta/models/gemini-2.5-flash-image")
    assert not billing.billable("POST", "/google/v1beta/models")
    assert {op.get("x-billable") for op in contracts.load("vydra")["paths"][GENERATE].values()} == {True}


# What it prints and writes.


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="module")
def failing_reports(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The check of a server that never refunds, with every report written; the key given on the command line."""
    folder = tmp_path_factory.mktemp("reports")
    app = patching(never_refunding)(mock_app())
    with BackgroundServer(app) as server:
        result = run_cli(
            "check", "--profile", "vydra", "--base-url", f"{server.url}/vydra", "--api-key-env", "VYDRA_TEST_KEY",
            "--examples", "3", "--json", str(folder / "report.json"), "--junit-xml", str(folder / "report.xml"),
            "--html", str(folder / "report.html"),
            env={"VYDRA_TEST_KEY": BUNDLED_KEY},
        )  # fmt: skip
    return result, folder


def test_the_key_is_nowhere_in_what_the_kit_prints_or_writes(failing_reports):
    result, folder = failing_reports

    assert result.returncode == 1, result.stdout
    for text in (result.stdout, result.stderr, *(path.read_text() for path in folder.iterdir())):
        assert BUNDLED_KEY not in text


def test_the_json_report_has_every_verdict_and_a_reproducer_for_the_failure(failing_reports):
    _, folder = failing_reports
    report = json.loads((folder / "report.json").read_text())

    verdicts = {v["name"]: v for v in report["verdicts"]}
    assert set(verdicts) == {b.name for b in behaviours_of("vydra")}
    failed = verdicts["refund-after-failure"]
    assert (failed["status"], failed["kinds"]) == ("fail", ["charge"])
    assert report["failure_kinds"] == {"charge": report["counts"]["failed"]}
    assert failed["reproduce"].startswith("curl -X POST ") and '"$VYDRA_TEST_KEY"' in failed["reproduce"]
    assert report["counts"]["failed"] >= 1 and report["budget"]["limit"] is None


def test_the_junit_report_names_each_behaviour_and_its_failure(failing_reports):
    _, folder = failing_reports
    suite = ElementTree.parse(folder / "report.xml").getroot()

    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {b.name for b in behaviours_of("vydra")}
    assert cases["refund-after-failure"].find("failure").get("type") == "charge"
    assert cases["missing-prompt-400"].find("failure") is None
    assert int(suite.get("failures")) == sum(1 for case in cases.values() if case.find("failure") is not None)


class Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self.sections.append(found["class"] or "")
        elif tag == "img":
            self.images.append(found["src"] or "")


def test_the_html_report_stands_alone_with_a_section_per_behaviour_and_thumbnails(failing_reports):
    _, folder = failing_reports
    text = (folder / "report.html").read_text()
    page = Page()
    page.feed(text)

    assert len(page.sections) == len(behaviours_of("vydra"))
    assert "fail" in page.sections
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert Image.open(io.BytesIO(base64.b64decode(page.images[0].split(",", 1)[1]))).format == "PNG"
    assert "http://" not in text.replace(f"{folder}", "").split("<body>")[0]  # no outside stylesheet or script
    assert "Reproduce (the key read from $VYDRA_TEST_KEY)" in text


@needs_chromium
def test_the_html_report_renders_in_a_headless_browser(failing_reports, tmp_path):
    _, folder = failing_reports
    page = (folder / "report.html").as_uri()

    dom = chromium(tmp_path / "profile", "--dump-dom", page)
    shot = tmp_path / "report.png"
    chromium(tmp_path / "profile", "--window-size=1200,1600", f"--screenshot={shot}", page)

    assert dom.count("<section") == len(behaviours_of("vydra"))
    assert "refund-after-failure" in dom
    assert Image.open(shot).size == (1200, 1600)


# A Vydra written from the seed alone, sharing no code with the mock.


def test_the_kit_passes_against_a_reference_vydra_written_from_the_seed_alone():
    from reference_vydra import Vydra

    with BackgroundServer(Vydra({SECRET: 10_000}).app()) as server:
        report = run_check(Target("vydra", server.url, SECRET), examples=5)

    verdicts = {v.behaviour.name: v.status for v in report.verdicts}
    assert [v.detail for v in report.verdicts if v.status in ("fail", "error")] == []
    assert {name for name, status in verdicts.items() if status == "skip"} == {
        b.name for b in behaviours_of("vydra") if b.needs_control
    }

"""The conformance kit: it passes against the mock, and each check fails against a server broken in
exactly the way that check exists to catch, and nowhere else."""

from __future__ import annotations

import subprocess
import sys

import breakages_gemini
import breakages_geminigen
import breakages_llmgateway
import breakages_openai
import breakages_vydra
import httpx
import pytest
from breaking import failing_checks, failures, mock_app, never_refunding, patching, rewriting_json, state_of
from starlette.types import Receive, Scope, Send

import contracts
from conformance import Target, run_check
from conformance.runner import BUNDLED_CREDITS, BUNDLED_KEY, PROFILES_CHECKED, behaviours_of, bundled_mock
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer

BREAKAGES = {
    "geminigen": breakages_geminigen.BREAKAGES,
    "vydra": breakages_vydra.BREAKAGES,
    "llmgateway": breakages_llmgateway.BREAKAGES,
    "openai": breakages_openai.BREAKAGES,
    **breakages_gemini.BREAKAGES,
}

REPORTS_ITS_BALANCE = {"vydra"}  # seed 001's GET /organization; no other seed documents a balance to read
STATE_MACHINES = {"credits-state-machine", "jobs-state-machine"}

# Profiles of one wire format run one catalogue of checks, each with its own contract's facts: a check is
# proven once some profile of its family breaks it.
FAMILIES = {
    dialect: [profile for profile in PROFILES_CHECKED if contracts.dialect(profile) == dialect]
    for dialect in dict.fromkeys(contracts.dialect(profile) for profile in PROFILES_CHECKED)
}


@pytest.mark.parametrize("profile", BREAKAGES)
def test_every_check_passes_against_the_mock(profile):
    assert failures(profile, mock_app()) == {}  # each failing check with what it says


@pytest.mark.parametrize(("profile", "breakage"), [(p, b) for p, table in BREAKAGES.items() for b in table])
def test_each_breakage_fails_exactly_its_checks(profile, breakage):
    breaking, expected = BREAKAGES[profile][breakage]
    # Schemathesis and the state machines are the slow parts; the run against the healthy mock shows they pass
    # there, so they run only where they are expected to fail.
    schema, machines = "contract" in expected, bool(STATE_MACHINES & expected)

    assert failing_checks(profile, breaking(mock_app()), schema=schema, machines=machines) == expected


def test_a_failed_check_reads_as_its_own_message_under_pytest_too():
    """pytest rewrites the asserts of a plugin's package; the kit's own are left as they are, so a check
    says what it found (and explaining a comparison of two images' bytes does not take minutes)."""
    breaking, _ = BREAKAGES["llmgateway"]["masks ignored"]
    with BackgroundServer(breaking(mock_app())) as server:
        target = Target("llmgateway", f"{server.url}/llmgateway", BUNDLED_KEY)
        (verdict,) = run_check(target, examples=1, only={"mask-preserves-the-rest"}).verdicts

    assert verdict.status == "fail"
    assert verdict.detail.startswith("pixels outside the mask's transparent region changed"), verdict.detail
    assert "assert " not in verdict.detail


@pytest.mark.parametrize("family", FAMILIES)
def test_every_check_is_proven_by_some_breakage(family):
    profiles = FAMILIES[family]
    proven = set().union(*(expected for p in profiles for _, expected in BREAKAGES[p].values()))

    assert proven == {b.name for p in profiles for b in behaviours_of(p)}


def test_an_open_keys_mock_passes_and_the_report_says_what_was_left_out():
    with BackgroundServer(create_app(Settings())) as server:
        report = run_check(Target("vydra", server.url, "any-key-at-all"), examples=3, only={"contract"})

    (verdict,) = report.verdicts
    assert verdict.status == "pass"
    assert "--strict-keys" in verdict.detail


def test_a_server_that_claims_strict_keys_but_accepts_any_key_fails_the_contract():
    claiming_strict = rewriting_json(
        lambda scope, status, body: (status, {**body, "strict_keys": True} if "strict_keys" in body else body)
    )

    assert failing_checks("vydra", claiming_strict(create_app(Settings())), only={"contract"}) == {"contract"}


def test_failing_inputs_are_reported_even_after_a_schemathesis_run():
    with BackgroundServer(mock_app()) as healthy:
        run_check(Target("vydra", f"{healthy.url}/vydra", BUNDLED_KEY), examples=2, only={"contract"})
    with BackgroundServer(patching(never_refunding)(mock_app())) as broken:
        report = run_check(
            Target("vydra", f"{broken.url}/vydra", BUNDLED_KEY), examples=5, only={"refund-after-failure"}
        )

    (verdict,) = report.verdicts
    assert verdict.status == "fail"
    assert "fault='content-policy'" in verdict.detail or "fault='server-error'" in verdict.detail


@pytest.mark.parametrize("profile", BREAKAGES)
def test_free_only_leaves_out_every_paid_check_and_charges_nothing(profile):
    app = mock_app()
    with BackgroundServer(app) as server:
        report = run_check(Target(profile, f"{server.url}/{profile}", BUNDLED_KEY), examples=3, free_only=True)

    skipped = {v.behaviour.name for v in report.verdicts if v.status == "skip"}
    assert skipped == {b.name for b in behaviours_of(profile) if b.paid}
    assert report.count("fail") == report.count("error") == 0
    account = state_of(app).ledger.find(BUNDLED_KEY)
    assert account.charged == account.refunded


@pytest.mark.parametrize("profile", BREAKAGES)
def test_checks_that_need_control_are_skipped_on_a_server_that_is_not_a_mock(profile):
    app = mock_app()

    async def without_admin(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_mock"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    with BackgroundServer(without_admin) as server:
        target = Target(profile, f"{server.url}/{profile}", BUNDLED_KEY)
        report = run_check(target, examples=3, free_only=True)

    skipped = {v.behaviour.name for v in report.verdicts if v.status == "skip"}
    balance_unread = set() if profile in REPORTS_ITS_BALANCE else {"credits-state-machine"}
    assert skipped == {b.name for b in behaviours_of(profile) if b.needs_control or b.paid} | balance_unread
    assert report.count("fail") == report.count("error") == 0


def test_the_command_passes_on_the_mock_and_fails_on_a_broken_server(monkeypatch):
    passing = run_cli("check", "--profile", "vydra", "--examples", "5")
    broken = patching(never_refunding)(mock_app())
    with BackgroundServer(broken) as server:
        monkeypatch.setenv("VYDRA_TEST_KEY", BUNDLED_KEY)
        failing = run_cli(
            "check",
            "--profile",
            "vydra",
            "--base-url",
            f"{server.url}/vydra",
            "--api-key-env",
            "VYDRA_TEST_KEY",
            "--examples",
            "5",
            "--no-schema",
        )

    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "14 passed" in passing.stdout
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "FAIL   refund-after-failure" in failing.stdout
    assert "3 failed (charge: 3)" in failing.stdout  # grouped by the kind of failure
    assert "after a failed generation" in failing.stdout
    assert "source: seed 001, Error Responses: Generation Failed (500); Auto-Refund" in failing.stdout
    assert BUNDLED_KEY not in failing.stdout + failing.stderr


def test_the_command_needs_a_key_for_a_base_url():
    result = run_cli("check", "--profile", "vydra", "--base-url", "http://127.0.0.1:9", "--api-key-env", "UNSET_VAR_X")

    assert result.returncode == 2
    assert "UNSET_VAR_X" in result.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True, text=True, timeout=300)


def test_the_bundled_mock_is_strict_and_funded():
    with bundled_mock("vydra") as target:
        stranger = httpx.get(f"{target.base_url}/api/v1/organization", headers={"Authorization": "Bearer stranger"})
        funded = httpx.get(f"{target.origin}/_mock/accounts/{BUNDLED_KEY}").json()

    assert stranger.status_code == 401
    assert funded["credits"] == BUNDLED_CREDITS
    assert target.base_url.endswith("/vydra")
    assert BUNDLED_KEY not in repr(target)


@pytest.mark.parametrize("profile", ["google", "llmgateway"])
def test_two_runs_in_a_row_on_one_mock_with_one_key_both_pass_and_leave_its_balance(profile):
    """A user re-running the kit against a mock they keep running: the second run must not meet the credits the
    first one spent, and the key ends with the balance it had."""
    with BackgroundServer(create_app(Settings(timeout_seconds=0.05))) as server:
        target = Target(profile, f"{server.url}/{profile}", "rerun-key")
        httpx.put(f"{server.url}/_mock/accounts/rerun-key", json={"credits": 120}).raise_for_status()
        runs = [run_check(target, examples=2, schema=False) for _ in range(2)]
        balance = httpx.get(f"{server.url}/_mock/accounts/rerun-key").json()["credits"]

    for report in runs:
        assert [(v.behaviour.name, v.detail) for v in report.verdicts if v.status in ("fail", "error")] == []
    assert balance == 120

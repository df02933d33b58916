"""The control API beyond loopback: a token is required, and only who gives it gets in."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from conformance import Target, run_check
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer
from mockserver.settings import SettingsError

TOKEN = "admin-token-5b8c1e"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "mock.example"])
def test_listening_beyond_loopback_needs_a_token(host):
    with pytest.raises(SettingsError, match="--admin-token"):
        Settings(host=host)

    assert Settings(host=host, admin_token=TOKEN).admin_token == TOKEN


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_needs_none(host):
    assert Settings(host=host).admin_token == ""


def test_the_server_refuses_to_start_beyond_loopback_without_one():
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--host", "0.0.0.0", "--port", "9"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 2
    assert "--admin-token" in result.stderr


@pytest.fixture(scope="module")
def guarded():
    with BackgroundServer(create_app(Settings(admin_token=TOKEN))) as server:
        yield server.url


@pytest.mark.parametrize("path", ["/_mock/health", "/_mock/accounts", "/_mock/requests", "/_mock/", "/_mock/images/1"])
def test_without_the_token_the_control_api_is_closed(guarded, path):
    assert httpx.get(guarded + path).status_code == 401
    assert httpx.get(guarded + path, headers={"X-Admin-Token": "wrong"}).status_code == 401
    assert httpx.post(guarded + "/_mock/reset").status_code == 401


@pytest.mark.parametrize(
    "given",
    [
        {"headers": {"X-Admin-Token": TOKEN}},
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        {"params": {"token": TOKEN}},
    ],
)
def test_with_the_token_it_opens(guarded, given):
    assert httpx.get(guarded + "/_mock/health", **given).status_code == 200
    assert httpx.put(guarded + "/_mock/accounts/some-key", json={"credits": 3}, **given).status_code == 200


def test_the_services_themselves_need_no_admin_token(guarded):
    answer = httpx.post(f"{guarded}/vydra/api/v1/models/gemini/generate", headers={"Authorization": "Bearer k"},
                        json={"prompt": "a fox"})  # fmt: skip

    assert answer.status_code == 200


def test_the_token_never_reaches_the_journal_or_the_answers(guarded):
    httpx.post(
        f"{guarded}/_mock/faults", headers={"X-Admin-Token": TOKEN}, json={"profile": "vydra", "fault": "rate-limit"}
    )
    httpx.post(
        f"{guarded}/vydra/api/v1/models/gemini/generate", headers={"Authorization": "Bearer k"}, json={"prompt": "x"}
    )

    journal = httpx.get(f"{guarded}/_mock/requests", headers={"X-Admin-Token": TOKEN}).text
    page = httpx.get(f"{guarded}/_mock/", params={"token": TOKEN}).text
    assert TOKEN not in journal and TOKEN not in page


def test_the_kit_forces_failures_with_the_token_from_the_environment(guarded, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_MOCK_ADMIN_TOKEN", TOKEN)

    report = run_check(Target("vydra", f"{guarded}/vydra", "kit-key"), examples=2, only={"refund-after-failure"})

    assert [v.status for v in report.verdicts] == ["pass"]

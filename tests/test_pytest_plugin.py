"""The pytest plugin as a user meets it: installed with the package, no conftest needed."""

from __future__ import annotations

import textwrap

import pytest

from mockserver.broken_connections import broken_connections
from mockserver.scenarios import scenarios

INNER_RUN_SECONDS = 90  # a user's test run, in a subprocess: it fails rather than hangs (before the 120 s of a test)

CLIENT_TESTS = """
import httpx
import pytest

GENERATE = "/api/v1/models/gemini/generate"


def generate(mock, prompt="a fox"):
    headers = {"Authorization": f"Bearer {mock.api_key}"}
    return httpx.post(mock.url("vydra") + GENERATE, headers=headers, json={"prompt": prompt})


def test_a_generation_and_what_the_client_sent(imagegen_mock):
    answer = generate(imagegen_mock)

    assert answer.status_code == 200
    (sent,) = imagegen_mock.requests("vydra")
    assert sent["body"] == {"prompt": "a fox"}
    assert sent["headers"]["authorization"] == "[redacted]"
    (image,) = imagegen_mock.images("vydra")
    assert (image.prompt, image.width, image.height, image.open().format) == ("a fox", 1024, 1024, "PNG")
    assert imagegen_mock.credits() == 995


def test_credits_and_faults(imagegen_mock):
    imagegen_mock.set_credits(0)
    assert generate(imagegen_mock).status_code == 402
    imagegen_mock.set_credits(100)
    imagegen_mock.fail_next("vydra", "server-error", times=2)
    assert [generate(imagegen_mock).status_code for _ in range(3)] == [500, 500, 200]
    assert imagegen_mock.credits() == 95


def test_each_test_starts_from_a_reset_mock_with_its_own_key(imagegen_mock):
    assert imagegen_mock.requests() == []
    assert imagegen_mock.credits() is None
    assert imagegen_mock.api_key.startswith("test-")


def test_the_clock_finishes_jobs_without_sleeping(imagegen_mock):
    headers = {"x-api-key": imagegen_mock.api_key}
    form = {"prompt": "a sunset", "model": "imagen-4"}
    job = httpx.post(imagegen_mock.url("geminigen") + "/uapi/v1/generate_image", headers=headers, data=form).json()

    imagegen_mock.advance_clock(60)

    done = httpx.get(imagegen_mock.url("geminigen") + f"/uapi/v1/history/{job['uuid']}", headers=headers).json()
    assert (job["status"], done["status"]) == (1, 2)


def test_delay_is_set_per_profile(imagegen_mock):
    imagegen_mock.delay(250, profile="vydra")

    latency = imagegen_mock.admin.get("/latency").json()["milliseconds"]
    assert (latency["vydra"], latency["llmgateway"]) == (250, 0)


@pytest.mark.imagegen_scenarios("llmgateway")
def test_every_documented_behaviour(imagegen_mock, imagegen_scenario):
    from conformance.scenarios import request_args

    imagegen_mock.arm(imagegen_scenario)
    args = request_args(imagegen_scenario, imagegen_scenario.request, imagegen_mock.api_key)
    answer = httpx.request(**{**args, "url": imagegen_mock.url("llmgateway") + args["url"]})

    assert answer.status_code == imagegen_scenario.status


@pytest.mark.imagegen_scenarios("openai", broken_connections=True)
def test_every_behaviour_and_every_broken_connection(imagegen_mock, imagegen_scenario):
    from conformance.scenarios import request_args

    imagegen_mock.arm(imagegen_scenario)
    args = request_args(imagegen_scenario, imagegen_scenario.request, imagegen_mock.api_key)
    try:
        answer = httpx.request(**{**args, "url": imagegen_mock.url("openai") + args["url"]}, timeout=10)
    except httpx.TransportError:
        assert imagegen_scenario.status is None
    else:
        assert answer.status_code == imagegen_scenario.status
"""


@pytest.fixture
def user_tests(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_client=CLIENT_TESTS)
    return pytester


def test_a_users_tests_pass_with_only_the_package_installed(user_tests):
    result = user_tests.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=INNER_RUN_SECONDS)

    every = len(scenarios("llmgateway")) + len(scenarios("openai")) + len(broken_connections("openai"))
    result.assert_outcomes(passed=5 + every)


def test_the_scenarios_are_named_in_the_test_ids(user_tests):
    result = user_tests.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "--collect-only", "-k", "every", timeout=INNER_RUN_SECONDS
    )

    ids = [line.strip() for line in result.outlines if "test_every_documented_behaviour[" in line]
    assert ids == [f"test_client.py::test_every_documented_behaviour[{s.name}]" for s in scenarios("llmgateway")]


def test_an_unknown_profile_in_the_marker_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_wrong=textwrap.dedent(
            """
            import pytest

            @pytest.mark.imagegen_scenarios("nope")
            def test_x(imagegen_scenario):
                pass
            """
        )
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=INNER_RUN_SECONDS)

    assert "no profile 'nope'" in result.stderr.str() + result.stdout.str()


@pytest.fixture
def proxy_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there


def test_the_fixture_reaches_the_mock_past_a_proxy_the_environment_names(proxy_in_the_environment, imagegen_mock):
    imagegen_mock.set_credits(7)

    assert imagegen_mock.credits() == 7

"""How the official SDKs retry, measured against the mock: each SDK's own retry logic, unchanged but for its base
URL, driven through transport faults and retry hints. The README's retry table says the same, from these tests.

Sources of what each SDK does: openai/_base_client.py (_should_retry, _parse_retry_after_header, the retry loop
around send), google/genai/_api_client.py (retry_args: tenacity on HttpRetryOptions), litellm's openai image
handler (the openai client it makes, max_retries 2)."""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import litellm
import openai
import pytest
from google import genai
from google.genai import errors, types

KEY = "retry-key"
OPENAI_PATH = "/v1/images/generations"
ASK = {"prompt": "a fox", "model": "gpt-image-1-mini", "quality": "low", "size": "1024x1024"}
PRICE = 5  # gpt-image-1-mini, low, square
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash-image:generateContent"
QUICK = 0.01  # a retry hint the SDKs honour exactly, so that the tests wait no longer than they must


def queue(client: httpx.Client, profile: str, fault: str, times: int = 1, **options) -> None:
    body = {"profile": profile, "fault": fault, "times": times, **options}
    client.post("/_mock/faults", json=body).raise_for_status()


def attempts(client: httpx.Client, path: str) -> list[dict]:
    return client.get("/_mock/requests", params={"path": path}).json()["requests"]


def journalled(client: httpx.Client, path: str, deadline_seconds: float = 10) -> list[dict]:
    """The attempts at `path`, once at least one is in the journal: a request is journalled as its answer ends."""
    deadline = time.monotonic() + deadline_seconds
    while not (found := attempts(client, path)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def credits_taken(client: httpx.Client) -> int:
    account = client.get(f"/_mock/accounts/{KEY}").json()
    return account["charged"] - account["refunded"]


def openai_sdk(server, **options) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=f"{server.url}/openai/v1", **options)


@pytest.mark.parametrize("fault", ["connection-reset", "stall-before-headers", "not-http"])
def test_openai_retries_a_broken_connection_twice_and_pays_once(server, client, fault):
    queue(client, "openai", fault, times=2, seconds=0.05)

    answer = openai_sdk(server).images.generate(**ASK)

    assert len(answer.data) == 1
    sent = attempts(client, OPENAI_PATH)
    assert [entry["headers"]["x-stainless-retry-count"] for entry in sent] == ["0", "1", "2"]
    assert [entry["fault"] for entry in sent] == [fault, fault, None]
    assert credits_taken(client) == PRICE


def test_openai_reads_a_truncated_body_again(server, client):
    queue(client, "openai", "truncated-body")

    openai_sdk(server).images.generate(**ASK)

    assert [entry["complete"] for entry in attempts(client, OPENAI_PATH)] == [False, True]
    assert credits_taken(client) == PRICE  # the first drawing was refunded: its answer never arrived whole


def test_openai_gives_up_after_its_two_retries_with_a_connection_error(server, client):
    queue(client, "openai", "disconnect-after-headers", times=3)

    with pytest.raises(openai.APIConnectionError):
        openai_sdk(server).images.generate(**ASK)

    assert len(attempts(client, OPENAI_PATH)) == 3
    assert credits_taken(client) == 0


@pytest.mark.parametrize("form", ["seconds", "milliseconds"])
def test_openai_waits_the_retry_after_it_is_given(server, client, form):
    queue(client, "openai", "rate-limit", retry_after=0.3, retry_after_as=form)

    started = time.monotonic()
    openai_sdk(server).images.generate(**ASK)

    assert time.monotonic() - started >= 0.3
    assert len(attempts(client, OPENAI_PATH)) == 2


def test_openai_waits_until_the_date_a_retry_after_names(server, client):
    """A date counts in whole seconds: the retry comes once that second has begun, and within it."""
    queue(client, "openai", "rate-limit", retry_after=1, retry_after_as="http-date")

    openai_sdk(server).images.generate(**ASK)

    [call] = client.get("/_mock/attempts", params={"path": OPENAI_PATH}).json()["calls"]
    named = parsedate_to_datetime(call["attempts"][0]["asked_wait"]["retry-after"]).timestamp()
    retried = attempts(client, OPENAI_PATH)[1]
    started = datetime.fromisoformat(retried["time"]).timestamp() - retried["duration_ms"] / 1000
    assert named - 0.002 <= started < named + 1  # the journal's times are to the millisecond


def test_openai_does_not_retry_a_wait_over_two_minutes(server, client):
    queue(client, "openai", "rate-limit", retry_after=300)

    with pytest.raises(openai.RateLimitError):
        openai_sdk(server).images.generate(**ASK)

    assert len(attempts(client, OPENAI_PATH)) == 1


def test_openai_obeys_x_should_retry_over_the_status(server, client):
    queue(client, "openai", "server-error", should_retry=False)
    queue(client, "openai", "content-policy", times=2, should_retry=True, retry_after=QUICK)

    with pytest.raises(openai.InternalServerError):
        openai_sdk(server).images.generate(**ASK)
    with pytest.raises(openai.BadRequestError):
        openai_sdk(server, max_retries=1).images.generate(**ASK)  # retried once: the 400 came back again

    statuses = [entry["status"] for entry in attempts(client, OPENAI_PATH)]
    assert statuses == [500, 400, 400]


def test_openai_retries_insufficient_quota_as_any_429(server, client):
    """The body says the account is out of money, which no retry mends: the SDK does not read it."""
    queue(client, "openai", "insufficient-credits", times=3, retry_after=QUICK)

    with pytest.raises(openai.RateLimitError) as raised:
        openai_sdk(server).images.generate(**ASK)

    assert raised.value.code == "insufficient_quota"
    assert len(attempts(client, OPENAI_PATH)) == 3


def test_openai_retries_408_and_409_given_in_the_services_envelope(server, client):
    queue(client, "openai", "server-error", status=408, retry_after=QUICK)
    queue(client, "openai", "server-error", status=409, retry_after=QUICK)

    openai_sdk(server).images.generate(**ASK)

    assert [entry["status"] for entry in attempts(client, OPENAI_PATH)] == [408, 409, 200]


def test_openai_does_not_retry_a_stream_that_stalls_midway(server, client):
    queue(client, "openai", "stall-midway", seconds=30)
    sdk = openai_sdk(server, timeout=openai.Timeout(5, read=2))  # time enough to draw the first image under load

    events = []
    with pytest.raises(openai.APIConnectionError), sdk.images.generate(**ASK, stream=True, partial_images=2) as stream:
        for event in stream:
            events.append(event.type)

    assert events == ["image_generation.partial_image"]
    [entry] = journalled(client, OPENAI_PATH)  # once the mock has seen the client go
    assert (entry["fault"], entry["complete"], credits_taken(client)) == ("stall-midway", False, 0)


def gemini_sdk(server, **options) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.url, **options))


def gemini_generate(sdk: genai.Client) -> types.GenerateContentResponse:
    return sdk.models.generate_content(model="gemini-2.5-flash-image", contents="a fox")


def quick_retries(attempts: int = 3) -> types.HttpRetryOptions:
    return types.HttpRetryOptions(attempts=attempts, initial_delay=QUICK, max_delay=QUICK, jitter=QUICK)


def test_google_genai_does_not_retry_unless_asked(server, client):
    queue(client, "gemini", "rate-limit")

    with pytest.raises(errors.ClientError) as raised:
        gemini_generate(gemini_sdk(server))

    assert raised.value.code == 429
    assert len(attempts(client, GEMINI_PATH)) == 1


def test_google_genai_retries_a_429_with_its_own_backoff_not_the_servers_wait(server, client):
    queue(client, "gemini", "rate-limit", times=2, retry_after=60)  # ignored: the SDK waits its own delay

    started = time.monotonic()
    gemini_generate(gemini_sdk(server, retry_options=quick_retries()))

    assert time.monotonic() - started < 60
    assert [entry["status"] for entry in attempts(client, GEMINI_PATH)] == [429, 429, 200]


def test_google_genai_does_not_retry_a_reset_connection(server, client):
    """Of the transport errors, its retry takes only timeouts and failures to connect."""
    queue(client, "gemini", "connection-reset")

    with pytest.raises(httpx.ReadError):
        gemini_generate(gemini_sdk(server, retry_options=quick_retries()))

    assert len(attempts(client, GEMINI_PATH)) == 1


def test_google_genai_does_not_retry_a_stream_that_stalls_midway(server, client):
    """Its retry wraps the request, not the reading of a stream: the stall ends the stream, after the first event,
    in the client's own read timeout."""
    queue(client, "gemini", "stall-midway", seconds=30)
    sdk = gemini_sdk(server, timeout=2000, retry_options=quick_retries())  # milliseconds, time to draw under load

    chunks = []
    with pytest.raises(httpx.ReadTimeout):
        for chunk in sdk.models.generate_content_stream(model="gemini-2.5-flash-image", contents="a fox"):
            chunks.append(chunk.text)

    assert chunks == ["Here is your image: a fox"]
    [entry] = journalled(client, GEMINI_PATH.replace(":generateContent", ":streamGenerateContent"))
    assert (entry["fault"], entry["complete"], credits_taken(client)) == ("stall-midway", False, 0)


def test_litellm_image_generation_retries_through_the_openai_client(server, client):
    queue(client, "openai", "server-error", times=2, retry_after=QUICK)

    response = litellm.image_generation(
        model="openai/gpt-image-1-mini", prompt="a fox", quality="low", size="1024x1024",
        api_base=f"{server.url}/openai/v1", api_key=KEY,
    )  # fmt: skip

    assert len(response.data) == 1
    assert [entry["status"] for entry in attempts(client, OPENAI_PATH)] == [500, 500, 200]


def test_the_journal_groups_the_sdks_attempts_into_one_call(server, client):
    queue(client, "openai", "rate-limit", times=2, retry_after=0.05)

    openai_sdk(server).images.generate(**ASK)

    [call] = client.get("/_mock/attempts", params={"path": OPENAI_PATH}).json()["calls"]
    assert (call["retries"], call["charged"], call["duplicate_charge"]) == (2, PRICE, False)
    first, second, third = call["attempts"]
    assert (first["waited_ms"], first["asked_wait"]) == (None, {"retry-after": "0.05"})
    assert second["waited_ms"] >= 50 and third["asked_wait"] is None


def test_a_call_paid_for_twice_is_flagged(client):
    """A client that sends a call again after it was charged and answered in full (it gave up reading, say)."""
    for retry_count in ("0", "1"):
        client.post(f"/openai{OPENAI_PATH}", json=ASK,
                    headers={"Authorization": f"Bearer {KEY}", "x-stainless-retry-count": retry_count})  # fmt: skip
    client.post(f"/openai{OPENAI_PATH}", json=ASK, headers={"Authorization": f"Bearer {KEY}",
                                                            "x-stainless-retry-count": "0"})  # fmt: skip

    listed = client.get("/_mock/attempts").json()
    assert [call["duplicate_charge"] for call in listed["calls"]] == [True, False]  # a new call at count 0
    assert listed["duplicate_charges"] == 1


def test_the_plugin_checks_retries_waits_and_what_was_not_retried(server, client):
    from mockserver.pytest_plugin import ImagegenMock

    mock = ImagegenMock(server.url, KEY)
    queue(client, "openai", "rate-limit", times=2, retry_after=0.05)
    openai_sdk(server).images.generate(**ASK)

    mock.assert_retried(OPENAI_PATH, retries=2)
    with pytest.raises(AssertionError, match="2 retries, expected 1"):
        mock.assert_retried(OPENAI_PATH, retries=1)
    with pytest.raises(AssertionError, match="retried after a 429"):
        mock.assert_retried(OPENAI_PATH, retries=2, never_after=(429,))
    mock.close()


def test_the_plugin_catches_a_client_that_does_not_wait_the_retry_after(server, client):
    from mockserver.pytest_plugin import ImagegenMock

    mock = ImagegenMock(server.url, KEY)
    queue(client, "openai", "rate-limit", retry_after=5)
    for retry_count in ("0", "1"):  # a client that retries at once
        client.post(f"/openai{OPENAI_PATH}", json=ASK,
                    headers={"Authorization": f"Bearer {KEY}", "x-stainless-retry-count": retry_count})  # fmt: skip

    with pytest.raises(AssertionError, match=r"of 5\.0 s"):
        mock.assert_retried(OPENAI_PATH, retries=1)
    mock.assert_retried(OPENAI_PATH, retries=1, honoured_waits=False)
    mock.close()

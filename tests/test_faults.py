"""Fault queue and mock control headers."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

from mockserver.pipeline.forced import MockUsageError, delay_seconds, header_fault
from mockserver.state.faults import FaultOptionError, FaultOptions, FaultQueue, Forced

ALL = ("content-policy", "rate-limit", "server-error", "timeout", "insufficient-credits")


def no_keys() -> set[str]:
    return set()


def taken_name(queue: FaultQueue, profile: str, endpoint: str, applicable, keys=no_keys) -> str | None:
    forced = queue.take(profile, endpoint, applicable, keys)
    return forced.name if forced else None


def test_queued_faults_are_used_oldest_first_and_counted_down():
    queue = FaultQueue()
    queue.add("vydra", Forced("rate-limit"), 2, None)
    queue.add("vydra", Forced("server-error"), 1, None)

    taken = [taken_name(queue, "vydra", "/x", ALL) for _ in range(4)]

    assert taken == ["rate-limit", "rate-limit", "server-error", None]


def test_a_fault_only_hits_its_profile_its_path_and_endpoints_it_applies_to():
    queue = FaultQueue()
    queue.add("vydra", Forced("content-policy"), 1, "/generate")

    assert taken_name(queue, "other", "/generate", ALL) is None
    assert taken_name(queue, "vydra", "/models", ALL) is None
    assert taken_name(queue, "vydra", "/generate", ("rate-limit",)) is None
    assert taken_name(queue, "vydra", "/generate", ALL) == "content-policy"


def test_a_fault_for_one_key_passes_the_requests_of_others_by():
    queue = FaultQueue()
    queue.add("vydra", Forced("rate-limit"), 1, None, key="key-a")

    assert taken_name(queue, "vydra", "/x", ALL, lambda: {"key-b"}) is None
    assert taken_name(queue, "vydra", "/x", ALL, lambda: {"key-a"}) == "rate-limit"


def test_clear_drops_one_profile_or_all():
    queue = FaultQueue()
    queue.add("a", Forced("timeout"), 1, None)
    queue.add("b", Forced("timeout"), 1, None)

    queue.clear("a")
    assert [q.profile for q in queue.pending()] == ["b"]
    queue.clear()
    assert queue.pending() == []


def test_header_fault_names_the_fault_or_explains_the_problem():
    assert header_fault({}, ALL, "POST /x") is None
    assert header_fault({"x-mock-fault": " timeout "}, ALL, "POST /x") == Forced("timeout")
    with_options = header_fault({"x-mock-fault": "rate-limit; retry-after=2; should-retry=false"}, ALL, "POST /x")
    assert with_options == Forced("rate-limit", FaultOptions(retry_after=2, should_retry=False))
    with pytest.raises(MockUsageError, match="unknown fault option 'retry'"):
        header_fault({"x-mock-fault": "rate-limit; retry=2"}, ALL, "POST /x")
    with pytest.raises(MockUsageError, match="unknown fault 'boom'"):
        header_fault({"x-mock-fault": "boom"}, ALL, "POST /x")
    with pytest.raises(MockUsageError, match="does not apply to GET /y"):
        header_fault({"x-mock-fault": "content-policy"}, ("timeout",), "GET /y")


def test_delay_comes_from_the_header_else_the_setting():
    assert delay_seconds({}, 250) == 0.25
    assert delay_seconds({"x-mock-delay-ms": "40"}, 250) == 0.04
    with pytest.raises(MockUsageError):
        delay_seconds({"x-mock-delay-ms": "-5"}, 0)


def test_retry_hints_come_in_the_form_asked_for():
    now = 1_800_000_000.0

    assert FaultOptions(retry_after=2).hint_headers(now) == [(b"retry-after", b"2")]
    assert FaultOptions(retry_after=1.5, retry_after_as="milliseconds").hint_headers(now) == [
        (b"retry-after-ms", b"1500")
    ]
    [(name, date)] = FaultOptions(retry_after=30, retry_after_as="http-date").hint_headers(now)
    assert name == b"retry-after" and parsedate_to_datetime(date.decode()).timestamp() == now + 30
    assert FaultOptions(should_retry=True).hint_headers(now) == [(b"x-should-retry", b"true")]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"retry_after": -1}, "retry_after must be a number"),
        ({"retry_after": "soon"}, "retry_after must be a number"),
        ({"retry_after_as": "fortnights"}, "retry_after_as must be one of"),
        ({"status": 200}, "status must be an error status"),
        ({"status": 502.5}, "status must be an error status"),
        ({"should_retry": "maybe"}, "should_retry must be true or false"),
        ({"seconds": 601}, "seconds must be a number from 0 to 600"),
    ],
)
def test_a_wrong_option_is_refused_with_its_name(given, message):
    with pytest.raises(FaultOptionError, match=message):
        FaultOptions.read(given)

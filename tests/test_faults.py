"""Fault queue and mock control headers."""

from __future__ import annotations

import pytest

from mockserver.pipeline.forced import MockUsageError, delay_seconds, header_fault
from mockserver.state.faults import FaultQueue

ALL = ("content-policy", "rate-limit", "server-error", "timeout", "insufficient-credits")


def test_queued_faults_are_used_oldest_first_and_counted_down():
    queue = FaultQueue()
    queue.add("vydra", "rate-limit", 2, None)
    queue.add("vydra", "server-error", 1, None)

    taken = [queue.take("vydra", "/x", ALL) for _ in range(4)]

    assert taken == ["rate-limit", "rate-limit", "server-error", None]


def test_a_fault_only_hits_its_profile_its_path_and_endpoints_it_applies_to():
    queue = FaultQueue()
    queue.add("vydra", "content-policy", 1, "/generate")

    assert queue.take("other", "/generate", ALL) is None
    assert queue.take("vydra", "/models", ALL) is None
    assert queue.take("vydra", "/generate", ("rate-limit",)) is None
    assert queue.take("vydra", "/generate", ALL) == "content-policy"


def test_clear_drops_one_profile_or_all():
    queue = FaultQueue()
    queue.add("a", "timeout", 1, None)
    queue.add("b", "timeout", 1, None)

    queue.clear("a")
    assert [q.profile for q in queue.pending()] == ["b"]
    queue.clear()
    assert queue.pending() == []


def test_header_fault_names_the_fault_or_explains_the_problem():
    assert header_fault({}, ALL, "POST /x") is None
    assert header_fault({"x-mock-fault": " timeout "}, ALL, "POST /x") == "timeout"
    with pytest.raises(MockUsageError, match="unknown fault 'boom'"):
        header_fault({"x-mock-fault": "boom"}, ALL, "POST /x")
    with pytest.raises(MockUsageError, match="does not apply to GET /y"):
        header_fault({"x-mock-fault": "content-policy"}, ("timeout",), "GET /y")


def test_delay_comes_from_the_header_else_the_setting():
    assert delay_seconds({}, 250) == 0.25
    assert delay_seconds({"x-mock-delay-ms": "40"}, 250) == 0.04
    with pytest.raises(MockUsageError):
        delay_seconds({"x-mock-delay-ms": "-5"}, 0)

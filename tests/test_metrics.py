"""GET /_mock/metrics: Prometheus' text format, counting what the mock served by the names the README documents."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

VYDRA = "/api/v1/models/gemini/generate"
GEMINIGEN = "/uapi/v1/generate_image"
KEY = "metrics-key"


def read(client: httpx.Client) -> dict[tuple[str, tuple], float]:
    """Each sample by its name and labels."""
    answer = client.get("/_mock/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}  # fmt: skip


def requests(seen: dict, profile: str, endpoint: str, status: str) -> float:
    labels = (("endpoint", endpoint), ("profile", profile), ("status", status))
    return seen.get(("imagegen_mock_requests_total", labels), 0)


def vydra(client: httpx.Client, fault: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {KEY}"} | ({"X-Mock-Fault": fault} if fault else {})
    client.post(VYDRA, json={"prompt": "a fox"}, headers=headers)


def test_requests_are_counted_by_profile_endpoint_and_status_with_none_for_no_answer(client):
    before = read(client)
    vydra(client)
    vydra(client, "server-error")
    with pytest.raises(httpx.TransportError):
        vydra(client, "connection-reset")
    seen = read(client)

    for status in ("200", "500", "none"):
        assert requests(seen, "vydra", VYDRA, status) - requests(before, "vydra", VYDRA, status) == 1
    faults = (("fault", "server-error"), ("profile", "vydra"))
    assert seen[("imagegen_mock_faults_forced_total", faults)] - before.get(("imagegen_mock_faults_forced_total",
                                                                              faults), 0) == 1  # fmt: skip
    timed = ("imagegen_mock_request_duration_seconds_count", (("endpoint", VYDRA), ("profile", "vydra")))
    assert seen[timed] - before.get(timed, 0) == 3


def test_credits_charged_and_refunded_are_counted_and_a_reset_keeps_them(client):
    def credits(seen: dict) -> tuple[float, float]:
        return seen[("imagegen_mock_credits_charged_total", ())], seen[("imagegen_mock_credits_refunded_total", ())]

    charged, refunded = credits(read(client))
    vydra(client)
    vydra(client, "server-error")  # charged, then refunded
    client.post("/_mock/reset")

    assert credits(read(client)) == (charged + 10, refunded + 5)


def test_jobs_are_shown_by_status_as_the_clock_moves(client):
    client.post(GEMINIGEN, data={"prompt": "a fox", "model": "imagen-4"}, headers={"x-api-key": KEY})
    processing = read(client)
    client.post("/_mock/clock", json={"advance_seconds": 600})
    done = read(client)

    assert processing[("imagegen_mock_jobs", (("profile", "geminigen"), ("status", "processing")))] == 1
    assert ("imagegen_mock_jobs", (("profile", "geminigen"), ("status", "processing"))) not in done
    assert done[("imagegen_mock_jobs", (("profile", "geminigen"), ("status", "completed")))] == 1


def test_an_image_drawn_is_timed_and_one_from_the_cache_is_not(client):
    def drawn(seen: dict) -> float:
        return seen[("imagegen_mock_image_render_seconds_count", ())]

    before = drawn(read(client))
    client.post(VYDRA, json={"prompt": "a metrics-only fox"}, headers={"Authorization": f"Bearer {KEY}"})
    once = drawn(read(client))
    client.post(VYDRA, json={"prompt": "a metrics-only fox"}, headers={"Authorization": f"Bearer {KEY}"})

    assert (once - before, drawn(read(client)) - once) == (1, 0)


def test_every_metric_is_documented_in_the_readme(client):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    families = text_string_to_metric_families(client.get("/_mock/metrics").text)
    names = {family.name for family in families if not family.name.endswith("_created")}  # the library's own

    assert names >= {"imagegen_mock_requests", "imagegen_mock_jobs", "imagegen_mock_image_render_seconds"}
    assert [name for name in sorted(names) if not re.search(rf"`{name}(_total)?`", readme)] == []

"""What the mock has served since it started, for Prometheus: `GET /_mock/metrics`, in its text format, from the
standard client library. The names are documented in the README and kept across releases; a reset of the mock
leaves the counters be, as a counter counts what the process did.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MEDIA_TYPE = CONTENT_TYPE_LATEST
# Where processes serving one mock (serving.py) write their counters, read by whichever answers the scrape; named
# before prometheus-client is imported, which then keeps its values in files there.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
NO_ANSWER = "none"  # the status label of a request whose answer never began (a broken connection)
UNROUTED = "unrouted"  # the endpoint label of a request no endpoint answered
# An answer takes from a millisecond (a refusal) to the minutes a forced timeout can hold it.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
RENDER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        by_endpoint, registry = ("profile", "endpoint"), self.registry
        self.requests = Counter(
            "imagegen_mock_requests", "Requests to a profile, by endpoint and the answer's status (none where no "
            "answer began)", (*by_endpoint, "status"), registry=registry,
        )  # fmt: skip
        self.duration = Histogram(
            "imagegen_mock_request_duration_seconds", "From a request's arrival to the end of its answer",
            by_endpoint, buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.faults = Counter("imagegen_mock_faults_forced", "Faults forced on requests, by name",
                              ("profile", "fault"), registry=registry)  # fmt: skip
        self.charged = Counter("imagegen_mock_credits_charged", "Credits taken from accounts", registry=registry)
        self.refunded = Counter("imagegen_mock_credits_refunded", "Credits given back", registry=registry)
        self.render = Histogram(
            "imagegen_mock_image_render_seconds", "Drawing and encoding one image the renderer did not have yet",
            buckets=RENDER_BUCKETS, registry=registry,
        )  # fmt: skip

    def count_jobs(self, statuses: Callable[[], list[tuple[str, str]]]) -> None:
        """Show the jobs by status, as `statuses` (each job's profile and status) gives them when read."""
        self.jobs = JobsByStatus(statuses)
        self.registry.register(self.jobs)

    def answered(
        self, profile: str, endpoint: str | None, status: int | None, seconds: float, fault: str | None
    ) -> None:
        """Count a request to a profile, as its answer ends (or breaks)."""
        endpoint = endpoint or UNROUTED
        self.requests.labels(profile, endpoint, str(status) if status is not None else NO_ANSWER).inc()
        self.duration.labels(profile, endpoint).observe(seconds)
        if fault:
            self.faults.labels(profile, fault).inc()

    def text(self) -> bytes:
        if MULTIPROCESS_DIR not in os.environ:
            return generate_latest(self.registry)
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process)
        every_process.register(self.jobs)  # jobs are counted from the state the processes share
        return generate_latest(every_process)


class JobsByStatus(Collector):
    def __init__(self, statuses: Callable[[], list[tuple[str, str]]]) -> None:
        self.statuses = statuses

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("imagegen_mock_jobs", "Jobs remembered, by status", labels=("profile", "status"))
        for (profile, status), count in sorted(Tally(self.statuses()).items()):
            family.add_metric((profile, status), count)
        yield family

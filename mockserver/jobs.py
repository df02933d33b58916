"""Asynchronous jobs: started by a request, finished when their time on the mock's clock is up.

A job's outcome (success, or a failure with its code) is fixed when it starts; what changes with time
is only its progress. Finishing a job runs its profile's finishing step exactly once (publishing the
result, refunding a failure, calling a webhook), whenever the mock first notices that it is due: on a
request, when the clock is advanced, or from the background ticker.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .ids import Ids

PROCESSING, COMPLETED, FAILED = "processing", "completed", "failed"

log = logging.getLogger("imagegen_mock")


class JobsReset(Exception):
    """The mock was reset while a request was preparing its job; the job must not start."""


@dataclass
class Job:
    id: int
    uuid: str
    api_key: str
    created_at: float
    duration: float
    failure: tuple[str, str] | None  # (error code, message) of a job that is to fail
    data: Any  # what the profile keeps to describe the job
    on_finish: Callable[[Job], None] = field(repr=False)
    finished_at: float | None = None

    @property
    def due_at(self) -> float:
        return self.created_at + self.duration

    @property
    def status(self) -> str:
        if self.finished_at is None:
            return PROCESSING
        return FAILED if self.failure else COMPLETED

    def progress(self, now: float) -> int:
        """Percent done: from 1 when started, rising with the clock, 100 only once finished."""
        if self.finished_at is not None:
            return 100
        elapsed = now - self.created_at
        return max(1, min(99, int(100 * elapsed / self.duration))) if self.duration else 99


class Jobs:
    def __init__(self, clock: Clock, ids: Ids, max_finished: int) -> None:
        self._clock = clock
        self._ids = ids
        self._max_finished = max_finished
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # oldest first
        self._due: list[tuple[float, int, Job]] = []
        self._next_id = 1
        self._lock = threading.Lock()
        self.generation = 0  # grows with every reset

    def start(
        self,
        api_key: str,
        duration: float,
        data: Any,
        on_finish: Callable[[Job], None],
        failure: tuple[str, str] | None = None,
        generation: int | None = None,
    ) -> Job:
        """Start a job; with `generation`, only if the mock has not been reset since that generation."""
        with self._lock:
            if generation is not None and generation != self.generation:
                raise JobsReset
            job = Job(self._next_id, self._ids.uuid(), api_key, self._clock.now(), duration, failure, data, on_finish)
            self._next_id += 1
            self._jobs[job.uuid] = job
            heapq.heappush(self._due, (job.due_at, job.id, job))
        self.settle()
        return job

    def get(self, uuid: str) -> Job | None:
        self.settle()
        with self._lock:
            return self._jobs.get(uuid)

    def recent(self) -> list[Job]:
        """Every job remembered, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def of_account(self, api_key: str) -> list[Job]:
        """The key's jobs, newest first."""
        self.settle()
        with self._lock:
            return [job for job in reversed(self._jobs.values()) if job.api_key == api_key]

    def settle(self) -> None:
        """Finish every job whose time is up, oldest due first.

        Each due job is taken off the queue under the lock, so no job is finished twice; its finishing
        step runs outside it. A step that fails is logged: the job still counts as finished.
        """
        for job in self._take_due():
            try:
                job.on_finish(job)
            except Exception:
                log.exception("finishing job %s failed", job.uuid)

    def seconds_to_next(self) -> float | None:
        """How long until the next job is due, on the mock's clock; None when none is running."""
        with self._lock:
            return self._due[0][0] - self._clock.now() if self._due else None

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._due.clear()
            self._next_id = 1
            self.generation += 1

    def _take_due(self) -> list[Job]:
        now = self._clock.now()
        with self._lock:
            due = []
            while self._due and self._due[0][0] <= now:
                _, _, job = heapq.heappop(self._due)
                job.finished_at = job.due_at
                due.append(job)
            self._forget_oldest_finished()
        return due

    def _forget_oldest_finished(self) -> None:
        if len(self._jobs) <= self._max_finished:
            return
        finished = [uuid for uuid, job in self._jobs.items() if job.finished_at is not None]
        for uuid in finished[: max(0, len(finished) - self._max_finished)]:
            del self._jobs[uuid]

"""Asynchronous jobs: started by a request, finished when their time on the mock's clock is up.

A job's outcome (success, or a failure with its code) is fixed when it starts; what changes with time
is only its progress. Finishing a job runs its profile's finishing step exactly once (publishing the
result, refunding a failure, calling a webhook), whenever the mock first notices that it is due: on a
request, when the clock is advanced, or from the background ticker. With a store, jobs are written
through and come back after a restart; a job finishes in one transaction with its finishing step.
"""

from __future__ import annotations

import heapq
import json
import logging
import sqlite3
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from .clock import Clock
from .ids import Ids
from .ledger import FIRST_ERA, Charge
from .store import Store

PROCESSING, COMPLETED, FAILED = "processing", "completed", "failed"

log = logging.getLogger("imagegen_mock")


class JobsReset(Exception):
    """The mock was reset while a request was preparing its job; the job must not start."""


@dataclass
class Job:
    id: int
    uuid: str
    profile: str
    api_key: str
    created_at: float
    duration: float
    failure: tuple[str, str] | None  # (error code, message) of a job that is to fail
    data: Any  # what the profile keeps to describe the job
    charge: Charge | None = None  # what its request was charged, for a refund if it fails
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
    def __init__(self, clock: Clock, ids: Ids, max_finished: int, store: Store | None = None) -> None:
        self._clock = clock
        self._ids = ids
        self._max_finished = max_finished
        self._store = store
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # oldest first
        self._due: list[tuple[float, int, Job]] = []
        self._finished: deque[str] = deque()  # in the order they finished
        self._finishers: dict[str, Callable[[Job], None]] = {}
        self._next_id = 1
        self._lock = threading.Lock()
        self.era = 0  # grows with every reset

    def serve(self, profile: str, finish: Callable[[Job], None], data_type: Callable[..., Any] = dict) -> None:
        """Let `profile` run jobs, finished by `finish`; with a store, its jobs kept there come back,
        their data rebuilt by `data_type` from the fields it was saved with."""
        if profile in self._finishers:
            return
        self._finishers[profile] = finish
        if self._store is None:
            return
        rows = self._store.rows("SELECT * FROM jobs WHERE profile = ? ORDER BY id", profile)
        with self._lock:
            for row in rows:
                self._remember(restored(row, data_type))
                self._next_id = max(self._next_id, row["id"] + 1)

    def start(
        self,
        profile: str,
        api_key: str,
        duration: float,
        data: Any,
        charge: Charge | None = None,
        failure: tuple[str, str] | None = None,
        era: int | None = None,
    ) -> Job:
        """Start a job; with `era`, only if the mock has not been reset since that era began."""
        with self._writing() as db, self._lock:
            if era is not None and era != self.era:
                raise JobsReset
            job = Job(
                self._next_id, self._ids.uuid(), profile, api_key, self._clock.now(), duration, failure, data, charge
            )
            self._next_id += 1
            self._remember(job)
            if db:
                db.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", saved(job))
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

    def statuses(self) -> list[tuple[str, str]]:
        """Each job's profile and status, once the jobs due by the clock have ended."""
        self.settle()
        with self._lock:
            return [(job.profile, job.status) for job in self._jobs.values()]

    def settle(self) -> None:
        """Finish every job whose time is up, oldest due first.

        Each due job is taken off the queue under the lock, so no job is finished twice; its finishing
        step runs outside it.
        """
        for job in self._take_due():
            with self._writing() as db:
                if db:
                    db.execute("UPDATE jobs SET finished_at = ? WHERE uuid = ?", (job.finished_at, job.uuid))
                run_finisher(job, self._finishers)

    def seconds_to_next(self) -> float | None:
        """How long until the next job is due, on the mock's clock; None when none is running."""
        with self._lock:
            return self._due[0][0] - self._clock.now() if self._due else None

    def clear(self) -> None:
        with self._writing() as db, self._lock:
            self._jobs.clear()
            self._due.clear()
            self._finished.clear()
            self._next_id = 1
            self.era += 1
            if db:
                db.execute("DELETE FROM jobs")

    def _remember(self, job: Job) -> None:
        self._jobs[job.uuid] = job
        if job.finished_at is None:
            heapq.heappush(self._due, (job.due_at, job.id, job))
        else:
            self._finished.append(job.uuid)

    def _take_due(self) -> list[Job]:
        now = self._clock.now()
        with self._writing() as db, self._lock:
            due = []
            while self._due and self._due[0][0] <= now:
                _, _, job = heapq.heappop(self._due)
                job.finished_at = job.due_at
                self._finished.append(job.uuid)
                due.append(job)
            forgotten = self._forget_oldest_finished()
            if db and forgotten:
                db.executemany("DELETE FROM jobs WHERE uuid = ?", [(uuid,) for uuid in forgotten])
        return due

    def _forget_oldest_finished(self) -> list[str]:
        forgotten = []
        while len(self._finished) > self._max_finished:
            forgotten.append(self._finished.popleft())
            del self._jobs[forgotten[-1]]
        return forgotten

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection | None]:
        with self._store.transaction() if self._store else nullcontext() as db:
            yield db


def run_finisher(job: Job, finishers: dict[str, Callable[[Job], None]]) -> None:
    """Run the job's finishing step; one that fails is logged, and the job still counts as finished."""
    try:
        finishers[job.profile](job)
    except Exception:
        log.exception("finishing job %s failed", job.uuid)


SAVED = ("uuid", "id", "profile", "api_key", "created_at", "duration", "failure", "data", "charge_id", "amount")


def saved(job: Job) -> tuple[Any, ...]:
    """The job as a row of the store, its fields in the order of SAVED (finished_at written when it finishes)."""
    data = asdict(job.data) if is_dataclass(job.data) else job.data
    charge_id, amount = (job.charge.pending_id, job.charge.amount) if job.charge else (None, 0)
    failure = json.dumps(job.failure) if job.failure else None
    return (job.uuid, job.id, job.profile, job.api_key, job.created_at, job.duration, failure, json.dumps(data),
            charge_id, amount)  # fmt: skip


def restored(row: sqlite3.Row | dict[str, Any], data_type: Callable[..., Any]) -> Job:
    failure = tuple(json.loads(row["failure"])) if row["failure"] else None
    job = Job(
        row["id"],
        row["uuid"],
        row["profile"],
        row["api_key"],
        row["created_at"],
        row["duration"],
        failure,
        data_type(**json.loads(row["data"])),
        finished_at=row["finished_at"],
    )
    if row["amount"]:
        job.charge = Charge(row["api_key"], row["amount"], FIRST_ERA)
    return job

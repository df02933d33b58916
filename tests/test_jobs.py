"""The job store: progress follows the mock's clock, and each job finishes exactly once."""

from __future__ import annotations

from mockserver.clock import Clock
from mockserver.ids import Ids
from mockserver.jobs import COMPLETED, FAILED, PROCESSING, Jobs


def jobs_and_clock() -> tuple[Jobs, Clock, list[str]]:
    clock = Clock()
    return Jobs(clock, Ids(0)), clock, []


def test_progress_rises_with_the_clock_and_finishing_happens_once():
    jobs, clock, finished = jobs_and_clock()
    job = jobs.start("k", 10.0, {}, lambda j: finished.append(j.uuid))

    seen = [(job.status, job.progress(clock.now()))]
    for _ in range(4):
        clock.advance(4)
        jobs.settle()
        seen.append((job.status, job.progress(clock.now())))

    assert seen[0] == (PROCESSING, 1)
    assert [s for s, _ in seen] == [PROCESSING, PROCESSING, PROCESSING, COMPLETED, COMPLETED]
    assert [p for _, p in seen][1:3] == [40, 80]
    assert [p for _, p in seen][3:] == [100, 100]
    assert finished == [job.uuid]
    assert job.finished_at == job.created_at + 10.0


def test_a_job_with_a_failure_fails_and_a_zero_duration_finishes_at_start():
    jobs, _, finished = jobs_and_clock()

    job = jobs.start("k", 0.0, {}, lambda j: finished.append(j.status), failure=("CODE", "message"))

    assert job.status == FAILED
    assert finished == [FAILED]


def test_jobs_finish_in_the_order_they_are_due_and_list_newest_first():
    jobs, clock, finished = jobs_and_clock()
    slow = jobs.start("k", 9.0, {}, lambda j: finished.append("slow"))
    quick = jobs.start("k", 3.0, {}, lambda j: finished.append("quick"))
    jobs.start("other", 1.0, {}, lambda j: finished.append("other"))

    clock.advance(10)
    jobs.settle()

    assert finished == ["other", "quick", "slow"]
    assert [j.uuid for j in jobs.of_account("k")] == [quick.uuid, slow.uuid]
    assert jobs.get(slow.uuid) is slow
    assert jobs.seconds_to_next() is None


def test_clear_forgets_everything():
    jobs, _, finished = jobs_and_clock()
    job = jobs.start("k", 5.0, {}, lambda j: finished.append(j))

    jobs.clear()

    assert jobs.get(job.uuid) is None
    assert jobs.seconds_to_next() is None

"""The job store: progress follows the mock's clock, and each job finishes exactly once."""

from __future__ import annotations

import pytest

from mockserver.state.clock import Clock
from mockserver.state.ids import Ids
from mockserver.state.jobs import COMPLETED, FAILED, PROCESSING, Jobs, JobsReset


def jobs_and_clock(max_finished: int = 100) -> tuple[Jobs, Clock, list]:
    """Jobs of the profile "p", whose finishing step notes what each job's data names."""
    clock = Clock(frozen=True)  # exact progress, however slow the machine
    jobs, finished = Jobs(clock, Ids(0), max_finished), []
    jobs.serve("p", lambda job: finished.append(noted(job)))
    return jobs, clock, finished


def noted(job) -> str:
    """The job's uuid, its status if its data says "status", else the note itself ("fail" fails)."""
    note = job.data.get("note")
    if note == "fail":
        raise ZeroDivisionError
    return job.status if note == "status" else note or job.uuid


def test_progress_rises_with_the_clock_and_finishing_happens_once():
    jobs, clock, finished = jobs_and_clock()
    job = jobs.start("p", "k", 10.0, {})

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

    job = jobs.start("p", "k", 0.0, {"note": "status"}, failure=("CODE", "message"))

    assert job.status == FAILED
    assert finished == [FAILED]


def test_jobs_finish_in_the_order_they_are_due_and_list_newest_first():
    jobs, clock, finished = jobs_and_clock()
    slow = jobs.start("p", "k", 9.0, {"note": "slow"})
    quick = jobs.start("p", "k", 3.0, {"note": "quick"})
    jobs.start("p", "other", 1.0, {"note": "other"})

    clock.advance(10)
    jobs.settle()

    assert finished == ["other", "quick", "slow"]
    assert [j.uuid for j in jobs.of_account("k")] == [quick.uuid, slow.uuid]
    assert jobs.get(slow.uuid) is slow
    assert jobs.seconds_to_next() is None


def test_clear_forgets_everything():
    jobs, _, _ = jobs_and_clock()
    job = jobs.start("p", "k", 5.0, {})

    jobs.clear()

    assert jobs.get(job.uuid) is None
    assert jobs.seconds_to_next() is None


def test_only_so_many_finished_jobs_are_remembered_and_running_ones_never_forgotten():
    jobs, clock, _ = jobs_and_clock(max_finished=2)
    finished = [jobs.start("p", "k", 1.0, {}) for _ in range(3)]
    running = jobs.start("p", "k", 100.0, {})

    clock.advance(5)
    jobs.settle()

    assert [j.uuid for j in jobs.of_account("k")] == [running.uuid, finished[2].uuid, finished[1].uuid]


def test_a_failing_finishing_step_does_not_stop_the_others():
    jobs, clock, finished = jobs_and_clock()
    jobs.start("p", "k", 1.0, {"note": "fail"})
    jobs.start("p", "k", 2.0, {"note": "second"})

    clock.advance(5)
    jobs.settle()

    assert finished == ["second"]


def test_a_job_prepared_before_a_reset_does_not_start_after_it():
    jobs, _, _ = jobs_and_clock()
    era = jobs.era

    jobs.clear()

    with pytest.raises(JobsReset):
        jobs.start("p", "k", 1.0, {}, era=era)

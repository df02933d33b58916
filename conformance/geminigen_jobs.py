"""GeminiGen's jobs as a state machine (seed 000): jobs started (some forced to fail), polled, listed, the clock
moved and the mock reset, in any order. A job's status and percentage never go back, a finished job stays as it
finished, a completed job's image URL serves an image, and the histories list exactly the jobs made.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from .behaviours import Behaviour
from .failures import WrongImage, WrongJob, WrongStatus
from .geminigen import COMPLETED, GENERATE, HISTORIES, PROCESSING, auth, forms
from .machines import Machine
from .pictures import decode
from .session import FAULT_HEADER, Session

STEPS = 30
EXAMPLES = 10
CLOCK_STEPS_SECONDS = [0.5, 2, 10, 600]
JOBS_BEFORE_A_RESET = 3
PER_PAGE = 100  # the contract's largest page
FAILING_FAULTS = ["content-policy", "server-error"]  # a job they start fails (seed 000: status 3)

Progress = tuple[int, int]  # a job's status and status_percentage


class JobsMachine(Machine):
    def __init__(self) -> None:
        super().__init__()
        self.progress: dict[str, Progress] = {}  # each job made, as last seen
        self.served: set[str] = set()  # completed jobs whose image was fetched
        self.earlier = set(self.histories())  # the key's jobs from before the machine ran

    def histories(self) -> list[str]:
        """Every job the histories list for the key, page by page."""
        listed: list[str] = []
        for page in range(1, 1000):
            params = {"filter_by": "all", "items_per_page": PER_PAGE, "page": page}
            response = self.sent(self.session.http.get(HISTORIES, headers=auth(self.session), params=params))
            if response.status_code != 200:
                self.fail(WrongStatus, "the histories could not be listed", expected=200, got=response.status_code)
            result = response.json()["result"]
            listed += [item["uuid"] for item in result]
            if len(result) < PER_PAGE:
                return listed
        self.fail(WrongJob, "the histories never end")

    @rule(form=forms, fault=st.sampled_from([None, *FAILING_FAULTS]))
    def start(self, form: dict[str, str], fault: str | None) -> None:
        if not self.may_pay():
            return
        headers = auth(self.session) | ({FAULT_HEADER: fault} if fault and self.controllable else {})
        with self.session.spending():
            response = self.sent(self.session.http.post(GENERATE, headers=headers, data=form))
        if response.status_code != 200:
            self.fail(WrongStatus, "a job was not started", expected=200, got=response.status_code, response=response)
        job = response.json()
        self.progress[job["uuid"]] = (job["status"], job.get("status_percentage", 0))

    @precondition(lambda self: self.progress)
    @rule()
    def poll_every_job(self) -> None:
        for uuid in self.progress:
            self.poll(uuid)

    def poll(self, uuid: str) -> None:
        response = self.sent(self.session.http.get(f"/uapi/v1/history/{uuid}", headers=auth(self.session)))
        if response.status_code != 200:
            self.fail(WrongStatus, f"job {uuid} could not be read", expected=200, got=response.status_code)
        record = response.json()
        now = (record["status"], record.get("status_percentage", 0))
        if went_back(self.progress[uuid], now):
            self.fail(WrongJob, f"job {uuid} went from {self.progress[uuid]} to {now} (status, percentage)")
        self.progress[uuid] = now
        if now[0] == COMPLETED and uuid not in self.served:
            self.served.add(uuid)
            image = self.sent(self.session.http.get(record["generate_result"]))
            if image.status_code != 200:
                self.fail(WrongImage, f"completed job {uuid}'s generate_result is not served", response=image)
            decode(image.content, record["generate_result"])

    @precondition(lambda self: self.controllable)
    @rule(seconds=st.sampled_from(CLOCK_STEPS_SECONDS))
    def advance_the_clock(self, seconds: float) -> None:
        self.control("POST", "/clock", json={"advance_seconds": seconds})

    @rule()
    def list_histories(self) -> None:
        listed = self.histories()
        made = [uuid for uuid in listed if uuid not in self.earlier]
        if sorted(made) != sorted(self.progress) or len(set(listed)) != len(listed):
            self.fail(WrongJob, "the histories do not list exactly the jobs made, once each",
                      expected=sorted(self.progress), got=made)  # fmt: skip

    # Only once a few jobs exist, so that sequences long enough to finish jobs happen between two resets.
    @precondition(lambda self: self.resettable and len(self.progress) >= JOBS_BEFORE_A_RESET)
    @rule()
    def reset(self) -> None:
        self.control("POST", "/reset")
        self.progress.clear()
        self.served.clear()
        self.earlier = set()
        if self.histories():
            self.fail(WrongJob, "after a reset the histories still list jobs")


def went_back(before: Progress, now: Progress) -> bool:
    """Whether a job's progress went back: a finished job changed, or a running one lost percentage."""
    if before[0] != PROCESSING:
        return now != before
    return now[0] == PROCESSING and now[1] < before[1]


def check_jobs(session: Session) -> None:
    JobsMachine.run(session, steps=STEPS)


JOBS_BEHAVIOUR = Behaviour(
    name="jobs-state-machine",
    summary="Jobs started, polled, listed, the clock moved and the mock reset in any order: no job goes back, "
    "completed ones serve their image, the histories list exactly the jobs made",
    source="seed 000, Status Codes (1 processing, 2 completed, 3 failed) and Get History; research/apis.md §4.1",
    check=check_jobs,
    examples=EXAMPLES,
)

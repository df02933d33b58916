"""GeminiGen.AI's documented behaviour (seed 000), as properties checked against a server.

A generation is a job the client follows through its history record. Against an imagegen-mock the
kit moves the mock's clock instead of waiting; against a real service it polls, as clients do.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import contracts

from .behaviours import Catalogue
from .failures import WrongBody, WrongCharge, WrongHeader, WrongImage, WrongJob, expect_status
from .pictures import assert_shaped_like, decode
from .session import FAULT_HEADER, Session, describe

CATALOGUE = Catalogue("geminigen")

GENERATE = "/uapi/v1/generate_image"
HISTORIES = "/uapi/v1/histories"
CONTRACT = contracts.load("geminigen")
FORM = CONTRACT["components"]["schemas"]["GenerateForm"]
_GENERATE_DOC = CONTRACT["paths"]["/uapi/v1/generate_image"]["post"]
SEED_FORM: dict[str, str] = _GENERATE_DOC["requestBody"]["content"]["multipart/form-data"]["example"]
SEED_PRICE: int = _GENERATE_DOC["responses"]["200"]["content"]["application/json"]["example"]["used_credit"]
MODELS: list[str] = FORM["properties"]["model"]["enum"]
ASPECT_RATIOS: list[str] = FORM["properties"]["aspect_ratio"]["enum"]
STYLES: list[str] = FORM["properties"]["style"]["enum"]
SERVICE_MODES: list[str] = FORM["properties"]["service_mode"]["enum"]
CHOICES = {"model": MODELS, "aspect_ratio": ASPECT_RATIOS, "style": STYLES, "service_mode": SERVICE_MODES}
PROCESSING, COMPLETED, FAILED = 1, 2, 3

CLOCK_STEP_SECONDS = 2.0  # how far the kit moves a mock's clock between two polls
POLL_SECONDS = 3.0  # how often it polls a real service, as clients do
MAX_POLLS = 200
POLLS_AFTER_THE_END = 3  # how often a finished job is polled again, to see that it stays finished

prompts = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=60).filter(
    str.strip
)
forms = st.fixed_dictionaries(
    {"prompt": prompts, "model": st.sampled_from(MODELS)},
    optional={name: st.sampled_from(values) for name, values in CHOICES.items() if name != "model"},
)


def auth(session: Session) -> dict[str, str]:
    return {"x-api-key": session.target.api_key}


def start(session: Session, form: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = session.http.post(GENERATE, headers={**auth(session), **(headers or {})}, data=form)
    expect_status(response, 200)
    job = response.json()
    WrongJob.unless(job.get("status") in (PROCESSING, COMPLETED, FAILED), describe(response))
    return job


def wait(session: Session) -> None:
    """Let time pass between two polls: the mock's clock moved, a real service's awaited."""
    if session.controllable:
        session.admin("POST", "/clock", json={"advance_seconds": CLOCK_STEP_SECONDS})
    else:
        time.sleep(POLL_SECONDS)


def follow(session: Session, uuid: str) -> list[dict[str, Any]]:
    """Every record of the job seen while polling its history until it finishes."""
    seen = []
    for _ in range(MAX_POLLS):
        response = session.http.get(f"/uapi/v1/history/{uuid}", headers=auth(session))
        expect_status(response, 200)
        seen.append(response.json())
        if seen[-1]["status"] != PROCESSING:
            return seen
        wait(session)
    raise WrongJob(f"job {uuid} still processing after {MAX_POLLS} polls: {seen[-1]}")


@CATALOGUE.behaviour(
    "api-key-required-401",
    "A request without x-api-key gets 401 API_KEY_REQUIRED in the {detail: {error_code, message}} envelope",
    "research/apis.md §4.3: API_KEY_REQUIRED (missing key)",
)
def api_key_required(session: Session) -> None:
    @given(path=st.sampled_from([HISTORIES, "/uapi/v1/history/any-uuid"]) | st.just(GENERATE))
    def check(path: str) -> None:
        if path == GENERATE:
            response = session.http.post(path, data={"prompt": "a fox", "model": MODELS[0]})
        else:
            response = session.http.get(path)
        expect_status(response, 401)
        code = response.json().get("detail", {}).get("error_code")
        WrongBody.unless(code == "API_KEY_REQUIRED", describe(response), expected="API_KEY_REQUIRED", got=code)

    session.run(check)


@CATALOGUE.behaviour(
    "invalid-form-422",
    "A form missing prompt or model, or with a value outside a documented list, gets 422 naming the field",
    "seed 000, Request Parameters; contracts/geminigen.yaml ValidationError",
)
def invalid_form(session: Session) -> None:
    @given(form=forms, field=st.sampled_from(["prompt", "model", *CHOICES]), bad=st.text(max_size=12), data=st.data())
    def check(form: dict[str, str], field: str, bad: str, data: st.DataObject) -> None:
        if field == "prompt" or (field == "model" and data.draw(st.booleans())):
            form = {name: value for name, value in form.items() if name != field}  # leave a required field out
        elif bad and bad not in CHOICES[field]:
            form = {**form, field: bad}
        else:
            return
        response = session.http.post(GENERATE, headers=auth(session), data=form)
        expect_status(response, 422)
        detail = response.json().get("detail", {})
        code = detail.get("error_code")
        WrongBody.unless(code == "VALIDATION_ERROR", describe(response), expected="VALIDATION_ERROR", got=code)
        WrongBody.unless(
            f"'{field}'" in detail.get("message", ""), f"the message does not name {field}: {describe(response)}"
        )

    session.run(check)


@CATALOGUE.behaviour(
    "reference-must-be-an-image",
    "A reference file that is not an image gets 422 naming files, and nothing is charged",
    "seed 000, files: reference images",
)
def reference_must_be_an_image(session: Session) -> None:
    @given(
        content=st.binary(max_size=64).filter(lambda b: not b.startswith((b"\x89PNG", b"\xff\xd8", b"GIF", b"RIFF")))
    )
    def check(content: bytes) -> None:
        files = {"files": ("reference.png", content, "image/png")}
        form = {"prompt": "a fox", "model": MODELS[0]}
        before = session.mock_balance() if session.controllable else None
        response = session.http.post(GENERATE, headers=auth(session), data=form, files=files)
        expect_status(response, 422)
        WrongBody.unless("'files'" in response.json().get("detail", {}).get("message", ""), describe(response))
        if before is not None:
            WrongCharge.unless(session.mock_balance() == before, f"a refused upload changed the balance from {before}")

    session.run(check)


@CATALOGUE.behaviour(
    "job-lifecycle",
    "A job moves only from 1 (processing) to 2 or 3; its status_percentage never falls and ends at 100",
    "seed 000, Status Codes and status_percentage",
    paid=True,
)
def job_lifecycle(session: Session) -> None:
    @given(form=forms)
    def check(form: dict[str, str]) -> None:
        job = start(session, form)
        seen = [job, *follow(session, job["uuid"])]
        statuses = [record["status"] for record in seen]
        percentages = [record["status_percentage"] for record in seen]
        finished = statuses.index(statuses[-1])
        WrongJob.unless(statuses[-1] in (COMPLETED, FAILED), f"the job ended in status {statuses[-1]}, not 2 or 3")
        WrongJob.unless(set(statuses[:finished]) <= {PROCESSING}, f"statuses went {statuses}")
        WrongJob.unless(set(statuses[finished:]) == {statuses[-1]}, f"statuses went {statuses}")
        WrongJob.unless(percentages == sorted(percentages), f"status_percentage went {percentages}")
        WrongJob.unless(
            percentages[-1] == 100,
            f"a finished job shows status_percentage {percentages[-1]}",
            expected=100,
            got=percentages[-1],
        )
        # A finished job is a sequence too: polled on, it stays as it finished.
        for _ in range(POLLS_AFTER_THE_END):
            wait(session)
            again = session.http.get(f"/uapi/v1/history/{job['uuid']}", headers=auth(session)).json()
            shown = (again.get("status"), again.get("status_percentage"), again.get("generate_result"))
            WrongJob.unless(
                shown == (seen[-1]["status"], 100, seen[-1].get("generate_result")),
                f"after finishing as {statuses[-1]}, the job shows {shown[:2]}",
            )

    session.run(check)


@CATALOGUE.behaviour(
    "completed-job-serves-its-images",
    "A completed job's generate_result serves a JPEG shaped like the requested ratio, of file_size bytes, "
    "and thumbnail_small a smaller image",
    "seed 000, Example Response and Response Fields",
    paid=True,
    examples=4,
)
def completed_job_serves_its_images(session: Session) -> None:
    @given(form=forms)
    def check(form: dict[str, str]) -> None:
        done = follow(session, start(session, form)["uuid"])[-1]
        WrongJob.unless(
            done["status"] == COMPLETED, f"the job did not complete: {done}", expected=COMPLETED, got=done["status"]
        )
        image = session.http.get(done["generate_result"])
        expect_status(image, 200)
        picture = decode(image.content, done["generate_result"])
        WrongImage.unless(
            picture.format == "JPEG",
            f"{done['generate_result']} is {picture.format}, not JPEG",
            expected="JPEG",
            got=picture.format,
        )
        assert_shaped_like(picture, form.get("aspect_ratio", "1:1"), ASPECT_RATIOS, done["generate_result"])
        WrongImage.unless(
            done["file_size"] == len(image.content), f"file_size {done['file_size']}, served {len(image.content)}"
        )
        thumbnail = session.http.get(done["thumbnail_small"])
        expect_status(thumbnail, 200)
        small = decode(thumbnail.content, done["thumbnail_small"])
        WrongImage.unless(small.width < picture.width and small.height < picture.height, f"thumbnail is {small.size}")
        WrongImage.unless(
            [item.get("image_url") for item in done.get("generated_image", [])] == [done["generate_result"]], str(done)
        )

    session.run(check)


@CATALOGUE.behaviour(
    "histories-page-through-every-job",
    "GET /uapi/v1/histories lists the key's jobs newest first; its pages cover them all once, and total counts them",
    "research/apis.md §4.1: histories?filter_by=&items_per_page=&page= -> {result, total}",
    paid=True,
    examples=5,
    calls=3,
)
def histories_page_through_every_job(session: Session) -> None:
    @given(per_page=st.integers(1, 4), jobs=st.integers(1, 3))
    def check(per_page: int, jobs: int) -> None:
        started = [start(session, {"prompt": f"history {i}", "model": MODELS[0]})["uuid"] for i in range(jobs)]
        first = session.http.get(HISTORIES, headers=auth(session), params={"items_per_page": per_page, "page": 1})
        expect_status(first, 200)
        total = first.json()["total"]
        listed: list[str] = []
        for page in range(1, total // per_page + 2):
            params = {"filter_by": "all", "items_per_page": per_page, "page": page}
            answer = session.http.get(HISTORIES, headers=auth(session), params=params).json()
            WrongBody.unless(
                len(answer["result"]) <= per_page, f"page {page} has {len(answer['result'])} of {per_page}"
            )
            listed += [item["uuid"] for item in answer["result"]]
        WrongJob.unless(
            len(listed) == len(set(listed)) == total,
            f"{len(listed)} listed ({len(set(listed))} distinct), total {total}",
        )
        WrongJob.unless(listed[:jobs] == started[::-1], "the newest jobs do not come first")

    session.run(check)


@CATALOGUE.behaviour(
    "failed-job-reports-and-refunds",
    "A job that fails ends at status 3 with error_code and error_message, used_credit 0, and its credits back",
    "seed 000, Status Codes: 3 Failed (check error_message); research/apis.md §4.3",
    needs_control=True,
)
def failed_job_reports_and_refunds(session: Session) -> None:
    @given(form=forms, fault=st.sampled_from(["content-policy", "server-error"]))
    def check(form: dict[str, str], fault: str) -> None:
        before = session.mock_balance()
        job = start(session, form, headers={FAULT_HEADER: fault})
        done = follow(session, job["uuid"])[-1]
        WrongJob.unless(done["status"] == FAILED, f"the job did not fail: {done}", expected=FAILED, got=done["status"])
        WrongBody.unless(done["error_code"] and done["error_message"], f"no error_code or error_message: {done}")
        if fault == "content-policy":
            WrongBody.unless(
                done["error_code"] == "GEMINI_RAI_MEDIA_FILTERED",
                str(done),
                expected="GEMINI_RAI_MEDIA_FILTERED",
                got=done["error_code"],
            )
        WrongCharge.unless(
            done["used_credit"] == 0,
            f"a failed job shows used_credit {done['used_credit']}",
            expected=0,
            got=done["used_credit"],
        )
        after = session.mock_balance()
        WrongCharge.unless(after == before, f"balance {before} -> {after} after a failed job")

    session.run(check)


@CATALOGUE.behaviour(
    "credits-charged-once",
    "Starting a job takes its used_credit once; finishing it takes nothing more",
    "seed 000, used_credit: credits consumed for this generation",
    paid=True,
    needs_control=True,
)
def credits_charged_once(session: Session) -> None:
    @given(form=forms)
    def check(form: dict[str, str]) -> None:
        before = session.mock_balance()
        job = start(session, form)
        after_start = session.mock_balance()
        done = follow(session, job["uuid"])[-1]
        WrongCharge.unless(
            before - after_start == job["used_credit"] > 0, f"balance {before} -> {after_start} for {job}"
        )
        after_finish = session.mock_balance()
        WrongCharge.unless(after_finish == after_start, f"finishing the job changed the balance to {after_finish}")
        WrongCharge.unless(
            done["used_credit"] == job["used_credit"], str(done), expected=job["used_credit"], got=done["used_credit"]
        )

    session.run(check)


@CATALOGUE.behaviour(
    "not-enough-credit-402",
    "With fewer credits than the price, a generation gets 402 NOT_ENOUGH_CREDIT; nothing is charged or started",
    "seed 000, Example Response (imagen-4, unstable: used_credit 10); research/apis.md §4.3: NOT_ENOUGH_CREDIT",
    needs_control=True,
)
def not_enough_credit(session: Session) -> None:
    # The seed prices its own example; any other generation costs more than nothing.
    short = st.tuples(st.just(SEED_FORM), st.integers(0, SEED_PRICE - 1)) | st.tuples(forms, st.just(0))

    @given(case=short)
    def check(case: tuple[dict[str, str], int]) -> None:
        form, credits = case
        with session.credits_set_to(credits):
            total = session.http.get(HISTORIES, headers=auth(session)).json()["total"]
            response = session.http.post(GENERATE, headers=auth(session), data=form)
            expect_status(response, 402)
            code = response.json().get("detail", {}).get("error_code")
            WrongBody.unless(code == "NOT_ENOUGH_CREDIT", describe(response), expected="NOT_ENOUGH_CREDIT", got=code)
            left = session.mock_balance()
            WrongCharge.unless(
                left == credits, f"a refused generation moved the balance from {credits}", expected=credits, got=left
            )
            WrongJob.unless(
                session.http.get(HISTORIES, headers=auth(session)).json()["total"] == total, "a job was started"
            )

    session.run(check)


@CATALOGUE.behaviour(
    "rate-limit-429",
    "Too many requests get 429 GEMINI_RATE_LIMIT with Retry-After, and nothing is charged",
    "research/apis.md §4.3: GEMINI_RATE_LIMIT (observed as HTTP 429)",
    needs_control=True,
)
def rate_limited(session: Session) -> None:
    @given(form=forms)
    def check(form: dict[str, str]) -> None:
        before = session.mock_balance()
        headers = {**auth(session), FAULT_HEADER: "rate-limit"}
        response = session.http.post(GENERATE, headers=headers, data=form)
        expect_status(response, 429)
        code = response.json().get("detail", {}).get("error_code")
        WrongBody.unless(code == "GEMINI_RATE_LIMIT", describe(response), expected="GEMINI_RATE_LIMIT", got=code)
        WrongHeader.unless(
            response.headers.get("Retry-After", "").isdigit(), f"Retry-After: {response.headers.get('Retry-After')}"
        )
        after = session.mock_balance()
        WrongCharge.unless(
            after == before, f"a rate-limited request moved the balance from {before}", expected=before, got=after
        )

    session.run(check)

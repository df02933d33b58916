"""GeminiGen.AI's image API (seed 000; research/apis.md §4).

`POST /uapi/v1/generate_image` takes a multipart form with an `x-api-key` and starts an asynchronous
job: status 1 (processing), whose `status_percentage` rises with the mock's clock, then 2 (completed,
with JPEG result URLs) or 3 (failed, with `error_code` and `error_message`). Credits are taken when
the job starts and given back if it fails. Clients follow a job through `GET /uapi/v1/history/{uuid}`
and list jobs with `GET /uapi/v1/histories`. Errors look like FastAPI's:
`{"detail": {"error_code", "message"}}`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..images.sizes import GEMINI_25_FLASH, IMAGEN
from ..images.spec import ImageSpec
from ..images.uploads import Upload, UploadError, read_upload, too_large
from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile, ServiceRoute
from ..settings import Settings
from ..state.clock import iso
from ..state.files import StoredFile, file_url
from ..state.jobs import COMPLETED, FAILED, PROCESSING, Job, JobsReset
from ..wire.jsonio import JSONResponse

if TYPE_CHECKING:
    from ..state import State

GENERATE = "/uapi/v1/generate_image"
HISTORY = "/uapi/v1/history/{uuid}"
HISTORY_PLURAL = "/uapi/v1/histories/{uuid}"  # the spelling some clients poll
HISTORIES = "/uapi/v1/histories"

MODELS = {"imagen-flash": GEMINI_25_FLASH, "imagen-4-fast": IMAGEN, "imagen-4": IMAGEN, "imagen-4-ultra": IMAGEN}
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4")
STYLES = (
    "None", "3D Render", "Acrylic", "Anime General", "Creative", "Dynamic", "Fashion", "Game Concept",
    "Graphic Design 3D", "Illustration", "Photorealistic", "Portrait", "Portrait Cinematic", "Portrait Fashion",
    "Ray Traced", "Stock Photo", "Watercolor",
)  # fmt: skip
SERVICE_MODES = ("unstable", "stable")
FILTERS = ("all", "image", "video")

# Credits per image. The seed shows imagen-4 at 10 in service_mode unstable ("promotional pricing");
# stable is "original pricing", taken here as twice that. The other models' prices are assumptions.
PRICES = {"imagen-flash": 5, "imagen-4-fast": 5, "imagen-4": 10, "imagen-4-ultra": 20}
STABLE_PRICE_FACTOR = 2

MAX_FILES = 16
# GeminiGen documents no limit: this is the mock's own, so that no prompt costs more to take than a long one.
MAX_PROMPT_CHARACTERS = 131_072
THUMBNAIL_SIDE = 256
RETENTION_SECONDS = 30 * 86_400
RETRY_AFTER_SECONDS = 60
STATUS_CODES = {PROCESSING: 1, COMPLETED: 2, FAILED: 3}

# Every error the service answers: (HTTP status, error_code, message). The research gives the codes and
# some messages; the statuses are those a FastAPI service sends, as contracts/geminigen.yaml states.
ERRORS = {
    "missing-key": (401, "API_KEY_REQUIRED", "Api key is required"),
    "unknown-key": (401, "API_KEY_NOT_FOUND", "Api key is not found"),
    "credits": (402, "NOT_ENOUGH_CREDIT", "You do not have enough credits to perform the current action"),
    "no-history": (404, "HISTORY_NOT_FOUND", "History not found"),
    "unparsable": (400, "VALIDATION_ERROR", "There was an error parsing the body"),
    "invalid": (422, "VALIDATION_ERROR", "Invalid input"),
    "rate-limit": (429, "GEMINI_RATE_LIMIT", "Rate limit exceeded, please try again later"),
    "system": (500, "SYSTEM_ERROR", "System error, please try again later"),
    "timeout": (504, "SYSTEM_ERROR", "The request timed out"),
}
# The error_code of an error met outside any handler (a mock control header, a crash in the mock).
CODE_BY_STATUS = {400: "VALIDATION_ERROR", 413: "PAYLOAD_TOO_LARGE", 500: "SYSTEM_ERROR"}

# How a job fails when a failure is forced on it: its error_code and error_message.
JOB_FAILURES = {
    "content-policy": ("GEMINI_RAI_MEDIA_FILTERED", "Your prompt or image was blocked by the safety filter"),
    "server-error": ("SYSTEM_ERROR", "System error, please try again later"),
}

GENERATE_FAULTS = ("content-policy", "server-error", "rate-limit", "insufficient-credits", "timeout")
READ_FAULTS = ("server-error", "rate-limit", "timeout")


def error(profile: Profile, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if status in (404, 405):  # FastAPI's own answer for a path or method it has no route for
        return JSONResponse({"detail": HTTPStatus(status).phrase}, status, headers=headers)
    code = CODE_BY_STATUS.get(status, "SYSTEM_ERROR")
    return JSONResponse({"detail": {"error_code": code, "message": message}}, status, headers=headers)


def fail(kind: str, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    status, code, default = ERRORS[kind]
    return JSONResponse({"detail": {"error_code": code, "message": message or default}}, status, headers=headers)


def routes(profile: Profile, state: State) -> list[ServiceRoute]:
    state.jobs.serve(profile.name, partial(finish, state, profile), JobRecord)
    return [
        ServiceRoute("POST", GENERATE, generate, GENERATE_FAULTS),
        ServiceRoute("GET", HISTORY, history, READ_FAULTS),
        ServiceRoute("GET", HISTORY_PLURAL, history, READ_FAULTS),
        ServiceRoute("GET", HISTORIES, histories, READ_FAULTS),
    ]


def authenticate(call: Call) -> str:
    api_key = call.key(call.request.headers.get("x-api-key", "").strip())
    if not api_key:
        raise Reject(fail("missing-key"))
    if call.account(api_key) is None:
        raise Reject(fail("unknown-key"))
    return api_key


def rate_limited() -> Response:
    return fail("rate-limit", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# Forced faults answered before a job exists. On a generation, content-policy and server-error instead
# make the job itself fail (JOB_FAILURES).
SUBMIT_ANSWERS: dict[str, Callable[[], Response]] = {
    "rate-limit": rate_limited,
    "insufficient-credits": lambda: fail("credits"),
    "timeout": lambda: fail("timeout"),
}
READ_ANSWERS: dict[str, Callable[[], Response]] = {
    "rate-limit": rate_limited,
    "server-error": lambda: fail("system"),
    "timeout": lambda: fail("timeout"),
}


# POST /uapi/v1/generate_image


@dataclass(frozen=True)
class Generation:
    prompt: str
    model: str
    aspect_ratio: str
    style: str
    service_mode: str
    references: tuple[Upload, ...]

    @property
    def price(self) -> int:
        return PRICES[self.model] * (STABLE_PRICE_FACTOR if self.service_mode == "stable" else 1)


@dataclass
class JobRecord:
    """What a job keeps to describe itself."""

    prompt: str
    model: str
    price: int
    references: int
    base_url: str
    user_id: int
    resolution: str
    file_size: int


async def generate(call: Call) -> Response:
    api_key = authenticate(call)
    era = call.state.jobs.era
    generation = await generation_request(call)
    await call.fail_if_forced(SUBMIT_ANSWERS)
    settings = call.state.settings
    duration = 0.0 if settings.sync_jobs else job_seconds(settings)[generation.service_mode]
    try:
        with call.charged(api_key, generation.price, lambda refusal: fail("credits")) as charge:
            failure = JOB_FAILURES.get(call.take_fault(*JOB_FAILURES) or "")
            described, files = await job_record(call, api_key, generation, failure)
            job = call.state.jobs.start(call.profile.name, api_key, duration, described, charge, failure, era=era)
            publish(call.state, job, files)
    except JobsReset:  # its charge went with the reset
        return fail("system", "The mock was reset while this request ran")
    return JSONResponse(record(job, call.state.clock.now()))


def job_seconds(settings: Settings) -> dict[str, float]:
    return {"unstable": settings.job_seconds_unstable, "stable": settings.job_seconds_stable}


async def generation_request(call: Call) -> Generation:
    """The generation a valid form asks for, or a Reject with the service's validation error."""
    form = await read_form(call)
    references = []
    for index, item in enumerate(form.getlist("files")):
        if item == "":
            continue
        if not isinstance(item, UploadFile):
            raise invalid(("body", "files", index), f"Value error, Expected UploadFile, received: {type(item)}")
        references.append(await reference(call, item, index))
    return Generation(
        prompt=text_field(form, "prompt", max_length=MAX_PROMPT_CHARACTERS),
        model=text_field(form, "model", choices=tuple(MODELS)),
        aspect_ratio=text_field(form, "aspect_ratio", choices=ASPECT_RATIOS, default="1:1"),
        style=text_field(form, "style", choices=STYLES, default="None"),
        service_mode=text_field(form, "service_mode", choices=SERVICE_MODES, default="unstable"),
        references=tuple(references),
    )


async def read_form(call: Call) -> FormData:
    """The request's form; a body that is not a form reads as an empty one, as FastAPI reads it."""
    content_type = call.request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return FormData()
    try:
        return await call.form(max_files=MAX_FILES, max_fields=64)
    except HTTPException as problem:  # Starlette's word for a form it cannot parse
        raise Reject(fail("unparsable", f"There was an error parsing the body: {problem.detail}")) from None


def text_field(
    form: FormData, name: str, choices: tuple[str, ...] = (), default: str | None = None, max_length: int | None = None
) -> str:
    value = form.get(name)
    if value is None or value == "":  # FastAPI reads an empty form field as a missing one
        if default is None:
            raise invalid(("body", name), "Field required")
        return default
    if not isinstance(value, str):
        raise invalid(("body", name), "Input should be a valid string")
    if choices and value not in choices:
        quoted = [f"'{choice}'" for choice in choices]
        raise invalid(("body", name), f"Input should be {', '.join(quoted[:-1])} or {quoted[-1]}")
    if max_length is not None and len(value) > max_length:
        raise invalid(("body", name), f"String should have at most {max_length} characters")  # pydantic's words
    return value


async def reference(call: Call, upload: UploadFile, index: int) -> Upload:
    settings = call.state.settings
    max_bytes = settings.upload_max_bytes
    try:
        if upload.size is not None and upload.size > max_bytes:  # refused before it is read into memory
            raise UploadError(too_large(max_bytes))
        return await read_upload(await upload.read(max_bytes + 1), settings)
    except UploadError as problem:
        raise invalid(("body", "files", index), f"The file {problem}") from None


def invalid(location: tuple[str | int, ...], message: str) -> Reject:
    return Reject(fail("invalid", f"Invalid input field: {location!r}, {message}"))


async def job_record(
    call: Call, api_key: str, generation: Generation, failure: tuple[str, str] | None
) -> tuple[JobRecord, list[tuple[str, bytes, str]]]:
    """What the job's record shows, and the files (name pattern, content, media type) its completion
    publishes: none if it is to fail."""
    width, height = MODELS[generation.model][generation.aspect_ratio]
    label = generation.model if generation.style == "None" else f"{generation.model}, {generation.style}"
    tint = generation.references[0].mean_colour if generation.references else None
    spec = ImageSpec(generation.prompt, width, height, label, call.profile.name, call.state.settings.seed, "jpeg", tint)
    files = [] if failure else await result_files(call, spec)
    uploads = [(f"references/{{uuid}}_{i}", u.content, u.media_type) for i, u in enumerate(generation.references)]
    described = JobRecord(
        prompt=generation.prompt,
        model=generation.model,
        price=generation.price,
        references=len(generation.references),
        base_url=call.base_url,
        user_id=int(hashlib.sha256(api_key.encode()).hexdigest()[:8], 16) % 1_000_000,
        resolution=f"{width}x{height}",
        file_size=len(files[0][1]) if files else 0,
    )
    return described, [] if failure else files + uploads


async def result_files(call: Call, spec: ImageSpec) -> list[tuple[str, bytes, str]]:
    renderer = call.state.renderer
    return [
        ("images/{uuid}.jpg", await renderer.render(spec), "image/jpeg"),
        ("thumbnails/{uuid}_small.jpg", await renderer.thumbnail(spec, THUMBNAIL_SIDE), "image/jpeg"),
    ]


def publish(state: State, job: Job, files: list[tuple[str, bytes, str]]) -> None:
    """Store the job's files, to be served from the moment it completes."""
    expires = job.created_at + RETENTION_SECONDS
    stored = [
        StoredFile(file_name(job, name), content, media_type, job.due_at, expires)
        for name, content, media_type in files
    ]
    state.files.put_all(stored, job.charge)


def finish(state: State, profile: Profile, job: Job) -> None:
    """What happens once, when the job's time is up: a failure refunded, then the webhook."""
    if job.failure and job.charge:
        state.ledger.refund(job.charge)
    state.webhooks.send(job.api_key, profile.name, lambda: webhook_event(job, state.clock.now()))


def file_name(job: Job, pattern: str) -> str:
    return "geminigen/" + pattern.format(uuid=job.uuid)


def webhook_event(job: Job, now: float) -> dict[str, Any]:
    event = "IMAGE_GENERATION_FAILED" if job.failure else "IMAGE_GENERATION_COMPLETED"
    described = record(job, now)
    data = {**described, "media_url": described["generate_result"], "thumbnail_url": described["thumbnail_small"]}
    return {"event": event, "uuid": job.uuid, "data": data}


# The generation record.


def record(job: Job, now: float, history: bool = False) -> dict[str, Any]:
    """The job as the service describes it; the history endpoints add the generated and reference images."""
    done = job.status == COMPLETED
    url = partial(result_url, job) if done else lambda pattern: ""
    references = [url(f"references/{{uuid}}_{i}") for i in range(job.data.references)]
    error_code, error_message = job.failure if job.status == FAILED else ("", "")
    described = {
        "id": job.id,
        "uuid": job.uuid,
        "user_id": job.data.user_id,
        "model_name": job.data.model,
        "input_text": job.data.prompt,
        "negative_prompt": "",
        "generate_result": url("images/{uuid}.jpg"),
        "input_file_path": references[0] if references else "",
        "type": "image_generation",
        "used_credit": 0 if job.status == FAILED else job.data.price,
        "status": STATUS_CODES[job.status],
        "status_desc": job.status,
        "status_percentage": job.progress(now),
        "error_code": error_code,
        "error_message": error_message,
        "rating": "",
        "rating_content": "",
        "custom_prompt": "",
        "created_at": iso(job.created_at),
        "updated_at": iso(job.finished_at or job.created_at),
        "file_size": job.data.file_size if done else 0,
        "expired_at": iso(job.created_at + RETENTION_SECONDS),
        "inference_type": "image_to_image" if references else "text_to_image",
        "name": title(job.data.prompt),
        "created_by": f"user_{job.data.user_id}",
        "thumbnail_small": url("thumbnails/{uuid}_small.jpg"),
    }
    if history and done:
        described["generated_image"] = [generated_image(job, described)]
    if history and references:
        described["reference_item"] = [{"media_type": "image", "image_url": ref} for ref in references if ref]
    return described


def result_url(job: Job, pattern: str) -> str:
    return file_url(job.data.base_url, file_name(job, pattern))


def generated_image(job: Job, described: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": job.id,
        "uuid": job.uuid,
        "image_url": described["generate_result"],
        "image_uri": file_name(job, "images/{uuid}.jpg"),
        "status": STATUS_CODES[COMPLETED],
        "model": described["model_name"],
        "resolution": job.data.resolution,
    }


STOP_WORDS = frozenset(
    ["a", "an", "and", "the", "of", "over", "with", "in", "on", "at", "to", "for", "from", "by", "into", "under"]
)


def title(prompt: str) -> str:
    """A short name from the prompt's first words, as the service names a generation."""
    words = [w for w in re.findall(r"[^\W_]+", prompt) if w.lower() not in STOP_WORDS]
    return " ".join(word.capitalize() for word in words[:3]) or "Untitled"


# GET /uapi/v1/history/{uuid} and GET /uapi/v1/histories


async def history(call: Call) -> Response:
    api_key = authenticate(call)
    await call.fail_if_forced(READ_ANSWERS)
    job = call.state.jobs.get(call.request.path_params["uuid"])
    if job is None or job.api_key != api_key:
        return fail("no-history")
    return JSONResponse(record(job, call.state.clock.now(), history=True))


async def histories(call: Call) -> Response:
    api_key = authenticate(call)
    query = call.request.query_params
    kind = query.get("filter_by") or "all"
    if kind not in FILTERS:
        raise invalid(("query", "filter_by"), "Input should be 'all', 'image' or 'video'")
    per_page = whole_query(query.get("items_per_page"), "items_per_page", default=10, high=100)
    page = whole_query(query.get("page"), "page", default=1)
    await call.fail_if_forced(READ_ANSWERS)
    jobs = [] if kind == "video" else call.state.jobs.of_account(api_key)
    now = call.state.clock.now()
    shown = jobs[(page - 1) * per_page : page * per_page]
    return JSONResponse({"success": True, "total": len(jobs), "result": [record(j, now, history=True) for j in shown]})


def whole_query(raw: str | None, name: str, default: int, high: int | None = None) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(
            ("query", name), "Input should be a valid integer, unable to parse string as an integer"
        ) from None
    if value < 1:
        raise invalid(("query", name), "Input should be greater than or equal to 1")
    if high is not None and value > high:
        raise invalid(("query", name), f"Input should be less than or equal to {high}")
    return value

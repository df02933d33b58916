"""GeminiGen's server, broken once for each check of the kit."""

from __future__ import annotations

from collections.abc import Callable

from breaking import (
    adding_a_missing_key,
    allowing_overdraft,
    charging_twice_every,
    doubling_charges,
    dropping_headers,
    never_refunding,
    patching,
    rewriting_json,
    squaring_images,
    state_of,
    vague_dates,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.runner import BUNDLED_KEY


def falling_percentages(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if body.get("status") == 1:
        return status, {**body, "status_percentage": 100 - body["status_percentage"]}
    return status, body


def undocumented_final_status(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, ({**body, "status": 7} if body.get("status") in (2, 3) else body)


def charging_refused_generations(app: ASGIApp) -> ASGIApp:
    """Break the ledger: a generation the service refuses as invalid still costs a credit."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        async def charging(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 422:
                api_key = dict(scope["headers"]).get(b"x-api-key", b"").decode()
                account = state_of(app).ledger.find(api_key) if api_key else None
                if account is not None and account.balance >= 1:
                    state_of(app).ledger.charge(api_key, 1)
            await send(message)

        await app(scope, receive, charging if scope["type"] == "http" else send)

    return broken


def without_failed_jobs(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if scope["path"].endswith("/histories") and isinstance(body.get("result"), list):
        kept = [item for item in body["result"] if item.get("status") != 3]
        return status, {**body, "result": kept, "total": len(kept)}
    return status, body


def not_serving_files(app: ASGIApp) -> ASGIApp:
    """Generated images 404, though the jobs say where they are."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/files/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return broken


def overstated_file_size(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    if body.get("status") == 2:
        return status, {**body, "file_size": body["file_size"] + 1}
    return status, body


def oldest_first(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, ({**body, "result": body["result"][::-1]} if "result" in body else body)


def overcounted(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return status, ({**body, "total": body["total"] + 1} if "total" in body else body)


def regressing_once() -> Callable[[Scope, int, dict], tuple[int, dict]]:
    """A job's history that, polled once more after it completed, shows it processing again (once a job)."""
    completed: set[str] = set()
    regressed: set[str] = set()

    def rewrite(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
        uuid = body.get("uuid") if isinstance(body, dict) and "/history/" in scope["path"] else None
        if uuid is None:
            return status, body
        if uuid in completed and uuid not in regressed:
            regressed.add(uuid)
            return status, {**body, "status": 1, "status_percentage": 50}
        if body.get("status") == 2:
            completed.add(uuid)
        return status, body

    return rewrite


def validation_as_400(scope: Scope, status: int, body: dict) -> tuple[int, dict]:
    return (400 if status == 422 else status), body


BREAKAGES = {
    "percentage falls": (rewriting_json(falling_percentages), {"job-lifecycle", "jobs-state-machine"}),
    "a completed job processing again, once": (
        rewriting_json(regressing_once()),
        {"job-lifecycle", "jobs-state-machine"},
    ),
    "failed jobs left out of the histories": (
        rewriting_json(without_failed_jobs),
        {"histories-page-through-every-job", "jobs-state-machine"},
    ),
    "images not served": (not_serving_files, {"completed-job-serves-its-images", "jobs-state-machine"}),
    "jobs end in an undocumented status": (
        rewriting_json(undocumented_final_status),
        {
            "documented-scenarios",
            "job-lifecycle",
            "completed-job-serves-its-images",
            "failed-job-reports-and-refunds",
            "contract",
        },
    ),
    "refused uploads cost a credit": (
        charging_refused_generations,
        {"documented-scenarios", "reference-must-be-an-image", "credits-state-machine"},
    ),
    "never refunds": (patching(never_refunding), {"documented-scenarios", "failed-job-reports-and-refunds"}),
    "square images": (patching(squaring_images), {"completed-job-serves-its-images"}),
    "file_size off by one": (rewriting_json(overstated_file_size), {"completed-job-serves-its-images"}),
    "histories oldest first": (rewriting_json(oldest_first), {"histories-page-through-every-job"}),
    "histories overcount": (rewriting_json(overcounted), {"histories-page-through-every-job"}),
    "validation as 400": (
        rewriting_json(validation_as_400),
        {"documented-scenarios", "invalid-form-422", "reference-must-be-an-image", "contract"},
    ),
    "ignores a missing key": (
        adding_a_missing_key(b"x-api-key", BUNDLED_KEY.encode()),
        {"documented-scenarios", "api-key-required-401", "contract"},
    ),
    "charges twice": (
        patching(doubling_charges),
        {"documented-scenarios", "credits-charged-once", "credits-state-machine"},
    ),
    "one charge in twenty taken twice": (
        patching(charging_twice_every(20)),
        {"credits-charged-once", "credits-state-machine"},
    ),
    "lets balances go negative": (
        patching(allowing_overdraft),
        {"documented-scenarios", "not-enough-credit-402", "credits-state-machine"},
    ),
    "429 without Retry-After": (dropping_headers(b"retry-after"), {"documented-scenarios", "rate-limit-429"}),
    "dates that are not dates": (rewriting_json(vague_dates), {"contract"}),
}

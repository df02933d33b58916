"""The control API under /_mock/ (described by contracts/admin.yaml): reset, accounts, faults,
the request journal and the contracts."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import contracts

from ..broken_connections import broken_connections
from ..pipeline.forced import FAULTS, MAX_DELAY_MS, MockUsageError, check_fault_name
from ..pipeline.routing import Services
from ..scenarios import scenarios
from ..settings import MAX_CREDITS
from ..state import State
from ..state.attempts import logical_calls
from ..state.clock import iso
from ..state.faults import FaultOptionError, FaultOptions, Forced
from ..state.journal import Recorded
from ..state.ledger import MAX_KEY_LENGTH, Account, account_id
from ..state.metrics import MEDIA_TYPE as METRICS_MEDIA_TYPE
from ..state.shared import UNAVAILABLE, unreachable
from ..state.webhooks import WebhookError
from ..wire.jsonio import JSONResponse, parse_json
from .access import AdminTokenMiddleware, SameOriginMiddleware
from .dashboard import DASHBOARD
from .dashboard import HEADERS as DASHBOARD_HEADERS

THUMBNAIL_SIDE = 256
ADMIN_CONTRACT = "admin"


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_admin(state: State, services: Services) -> Starlette:
    app = Starlette(
        middleware=[
            Middleware(SameOriginMiddleware, allowed_hosts=state.settings.allowed_host_names),
            Middleware(AdminTokenMiddleware, token=state.settings.admin_token),
        ],
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/", dashboard, methods=["GET"]),
            Route("/reset", reset, methods=["POST"]),
            Route("/accounts", list_accounts, methods=["GET"]),
            Route("/accounts/{api_key:path}", Accounts),
            Route("/latency", Latency),
            Route("/jobs", list_jobs, methods=["GET"]),
            Route("/images", list_images, methods=["GET"]),
            Route("/images/{image_id:int}", get_image, methods=["GET"]),
            Route("/scenarios", list_scenarios, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/clock", Clock),
            Route("/webhooks/public-key", public_key, methods=["GET"]),
            Route("/faults", Faults),
            Route("/requests", Requests),
            Route("/attempts", list_attempts, methods=["GET"]),
            Route("/contracts", list_contracts, methods=["GET"]),
            Route("/contracts/{name}", get_contract, methods=["GET"]),
        ],
        exception_handlers={
            AdminError: admin_exception,
            MockUsageError: admin_exception,
            HTTPException: admin_exception,
            **dict.fromkeys(UNAVAILABLE, state_unavailable),
        },
    )
    app.state.mock = state
    app.state.services = services
    return app


def state_of(request: Request) -> State:
    return request.app.state.mock


def profiles_of(request: Request) -> list[str]:
    return list(request.app.state.services.profiles)


async def health(request: Request) -> Response:
    profiles = {
        name: {"title": p.title, "prefix": f"/{name}", "contract": f"/_mock/contracts/{p.contract}"}
        for name, p in request.app.state.services.profiles.items()
    }
    settings = state_of(request).settings
    return JSONResponse(
        {"status": "ok", "version": version("imagegen-mock"), "strict_keys": settings.strict_keys, "profiles": profiles}
    )


async def reset(request: Request) -> Response:
    state_of(request).reset()
    return JSONResponse({"status": "reset"})


class Accounts(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        state, api_key = state_of(request), request.path_params["api_key"]
        account = state.ledger.find(api_key)
        if account is None:
            raise AdminError(404, "no account has this API key yet: it opens on the key's first request, or with PUT")
        return JSONResponse(account_json(state, api_key, account))

    async def put(self, request: Request) -> Response:
        """Set the balance, the webhook URL, or both: all checked before anything changes."""
        state, api_key = state_of(request), request.path_params["api_key"]
        body = await json_object(request)
        if len(api_key) > MAX_KEY_LENGTH:
            raise AdminError(400, f"an API key is at most {MAX_KEY_LENGTH} characters, as no service's is longer")
        if not {"credits", "webhook_url"} & set(body):
            raise AdminError(400, 'give "credits", "webhook_url" or both')
        credits = whole_number(body["credits"]) if "credits" in body else None
        if "credits" in body and (credits is None or not 0 <= credits <= MAX_CREDITS):
            raise AdminError(400, f'"credits" must be a whole number from 0 to {MAX_CREDITS}')
        url = body.get("webhook_url")
        if url is not None and not isinstance(url, str):
            raise AdminError(400, '"webhook_url" must be a URL, or null to stop sending webhooks')
        try:
            if url is not None:
                state.webhooks.check(url)
        except WebhookError as problem:
            raise AdminError(400, str(problem)) from None
        if credits is not None:
            state.ledger.set_balance(api_key, credits)
        account = state.ledger.find_or_open(api_key)
        if account is None:
            raise AdminError(404, 'no account has this API key, and keys are strict: give "credits" to open one')
        if "webhook_url" in body:
            state.webhooks.register(api_key, url)
        return JSONResponse(account_json(state, api_key, account))


async def list_accounts(request: Request) -> Response:
    """Every account by its id (never its key), with its balance."""
    state = state_of(request)
    accounts = [
        {k: v for k, v in account_json(state, None, account).items() if k != "webhook_url"}
        for account in state.ledger.accounts()
    ]
    return JSONResponse({"accounts": accounts})


class Latency(HTTPEndpoint):
    """Latency added to every answer of a profile (or of all), without restarting the mock."""

    async def get(self, request: Request) -> Response:
        return latency_json(request)

    async def put(self, request: Request) -> Response:
        body = await json_object(request)
        milliseconds, profile = whole_number(body.get("milliseconds")), body.get("profile")
        if milliseconds is None or not 0 <= milliseconds <= MAX_DELAY_MS:
            raise AdminError(400, f'"milliseconds" must be a whole number from 0 to {MAX_DELAY_MS}')
        profiles = profiles_of(request)
        if profile is not None and (not isinstance(profile, str) or profile not in profiles):
            raise AdminError(400, f'"profile" must be one of: {", ".join(profiles)}, or left out for every profile')
        state_of(request).set_latency(profile, milliseconds)
        return latency_json(request)


def latency_json(request: Request) -> Response:
    state = state_of(request)
    by_profile = {name: state.latency_ms(name) for name in profiles_of(request)}
    return JSONResponse({"default_milliseconds": state.settings.latency, "milliseconds": by_profile})


async def list_jobs(request: Request) -> Response:
    state = state_of(request)
    now = state.clock.now()
    jobs = [
        {
            "uuid": job.uuid, "account": account_id(job.api_key), "status": job.status,
            "progress": job.progress(now), "created_at": iso(job.created_at), "due_at": iso(job.due_at),
        }
        for job in state.jobs.recent()
    ]  # fmt: skip
    return JSONResponse({"jobs": jobs})


async def list_images(request: Request) -> Response:
    shown = state_of(request).gallery.recent(request.query_params.get("profile"))
    return JSONResponse({"images": [image.as_json() for image in shown]})


async def get_image(request: Request) -> Response:
    state = state_of(request)
    shown = state.gallery.get(request.path_params["image_id"])
    if shown is None:
        raise AdminError(404, "no such image: the gallery keeps the latest ones only")
    if request.query_params.get("thumbnail") == "true":
        return Response(await state.renderer.thumbnail(shown.spec, THUMBNAIL_SIDE), media_type="image/jpeg")
    return Response(await state.renderer.render(shown.spec, shown=False), media_type=shown.spec.media_type)


async def list_scenarios(request: Request) -> Response:
    profile, profiles = request.query_params.get("profile"), profiles_of(request)
    if profile is not None and profile not in profiles:
        raise AdminError(400, f'"profile" must be one of: {", ".join(profiles)}')
    broken = request.query_params.get("broken_connections", "false")
    if broken not in ("true", "false"):
        raise AdminError(400, '"broken_connections" must be true or false')
    listing = (lambda name: scenarios(name) + broken_connections(name)) if broken == "true" else scenarios
    listed = [s for name in profiles if profile in (None, name) for s in listing(name)]
    return JSONResponse({"scenarios": [scenario.as_json() for scenario in listed]})


async def metrics(request: Request) -> Response:
    return Response(state_of(request).metrics.text(), media_type=METRICS_MEDIA_TYPE)


async def dashboard(request: Request) -> Response:
    return HTMLResponse(DASHBOARD, headers=DASHBOARD_HEADERS)


class Clock(HTTPEndpoint):
    """The mock's clock: reading it, and moving it ahead so that running jobs progress without waiting."""

    async def get(self, request: Request) -> Response:
        return clock_json(state_of(request))

    async def post(self, request: Request) -> Response:
        seconds = (await json_object(request)).get("advance_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise AdminError(400, '"advance_seconds" must be a number of seconds')
        state = state_of(request)
        try:
            state.clock.advance(seconds)
        except ValueError as problem:
            raise AdminError(400, f'"advance_seconds": {problem}') from None
        state.jobs.settle()
        return clock_json(state)


def clock_json(state: State) -> Response:
    now = state.clock.now()
    return JSONResponse({"now": iso(now), "offset_seconds": state.clock.offset})


async def public_key(request: Request) -> Response:
    """The public key that verifies the x-signature of the mock's webhooks."""
    return Response(state_of(request).webhooks.signer.public_key_pem(), media_type="application/x-pem-file")


QUEUE_FIELDS = ("profile", "fault", "times", "path", "key")  # the rest of a queued fault's fields are its options


class Faults(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return faults_json(state_of(request))

    async def post(self, request: Request) -> Response:
        body = await json_object(request)
        profile, fault, path, key = (body.get(k) for k in ("profile", "fault", "path", "key"))
        times = whole_number(body.get("times", 1))
        profiles = profiles_of(request)
        if not isinstance(profile, str) or profile not in profiles:
            raise AdminError(400, f'"profile" must be one of: {", ".join(profiles)}')
        if not isinstance(fault, str):
            raise AdminError(400, f'"fault" must be one of: {", ".join(FAULTS)}')
        check_fault_name(fault)
        if times is None or times < 1:
            raise AdminError(400, '"times" must be a whole number >= 1')
        check_fault_fits(request.app.state.services.endpoints(profile), profile, fault, path)
        if key is not None and not isinstance(key, str):
            raise AdminError(400, '"key" must be an API key (a string)')
        try:
            options = FaultOptions.read({k: v for k, v in body.items() if k not in QUEUE_FIELDS})
        except FaultOptionError as error:
            raise AdminError(400, str(error)) from None
        queued = state_of(request).faults.add(profile, Forced(fault, options), times, path, key)
        return JSONResponse(queued.as_json(), 201)

    async def delete(self, request: Request) -> Response:
        state_of(request).faults.clear(request.query_params.get("profile"))
        return faults_json(state_of(request))


def check_fault_fits(paths: dict[str, frozenset[str]], profile: str, fault: str, path: object) -> None:
    """Refuse a fault that no request could ever meet: an unknown path, or a fault the path never shows."""
    if path is None:
        if not any(fault in faults for faults in paths.values()):
            raise AdminError(400, f"no endpoint of {profile} takes the fault {fault!r}")
        return
    if not isinstance(path, str) or path not in paths:
        raise AdminError(
            400,
            f'"path" must be one of {profile}\'s documented paths, without the /{profile} prefix: '
            + ", ".join(sorted(paths)),
        )
    if fault not in paths[path]:
        raise AdminError(400, f"fault {fault!r} does not apply to {path}; it takes: {', '.join(sorted(paths[path]))}")


def faults_json(state: State) -> Response:
    return JSONResponse({"faults": [q.as_json() for q in state.faults.pending()], "known": FAULTS})


class Requests(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        query = request.query_params
        entries = state_of(request).journal.entries(query.get("profile"), query.get("path"))
        limit = query.get("limit")
        if limit is not None:
            count = whole_number_text(limit)
            if count is None or count < 0:
                raise AdminError(400, '"limit" must be a whole number >= 0')
            entries = entries[-count:] if count else []
        return JSONResponse({"requests": [e.as_json() for e in entries]})

    async def delete(self, request: Request) -> Response:
        state_of(request).journal.clear()
        return JSONResponse({"requests": []})


async def list_attempts(request: Request) -> Response:
    """The journal's requests as a client's attempts at its calls: retries, waits, charges caused twice."""
    query = request.query_params
    entries = state_of(request).journal.entries(query.get("profile"), query.get("path"))
    calls = logical_calls(entry for entry in entries if isinstance(entry, Recorded))
    duplicates = sum(call.duplicate_charge for call in calls)
    return JSONResponse({"calls": [call.as_json() for call in calls], "duplicate_charges": duplicates})


async def list_contracts(request: Request) -> Response:
    return JSONResponse({"contracts": {name: f"/_mock/contracts/{name}" for name in contracts.names()}})


async def get_contract(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in contracts.names():
        raise AdminError(404, f"no contract named {name!r}; known: {', '.join(contracts.names())}")
    if request.query_params.get("format") == "json":
        return JSONResponse(served_contract(name, profiles_of(request)))
    return Response(served_text(name, profiles_of(request)), media_type="application/yaml")


def served_contract(name: str, profiles: Iterable[str]) -> dict[str, Any]:
    """The contract as the mock serves it: the control API's own names the profiles of this mock, from its table."""
    document = contracts.load(name)
    if name == ADMIN_CONTRACT:
        document["components"]["schemas"]["ProfileName"]["enum"] = list(profiles)
    return document


def served_text(name: str, profiles: Iterable[str]) -> str:
    """The same as YAML: as written, but for the control API's (and those that extend a base), made whole."""
    if name != ADMIN_CONTRACT:
        return contracts.text(name)
    return yaml.safe_dump(served_contract(name, profiles), sort_keys=False, allow_unicode=True, width=120)


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = parse_json(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object")
    return body


def whole_number(value: object) -> int | None:
    """An integer, also when JSON wrote it as 3.0 (JSON Schema's `integer` allows that); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def whole_number_text(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def account_json(state: State, api_key: str | None, account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "credits": account.balance,
        "charged": account.charged,
        "refunded": account.refunded,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "webhook_url": state.webhooks.url_of(api_key) if api_key else None,
    }


async def state_unavailable(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": unreachable(exc)}, 503)


async def admin_exception(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)
    status = exc.status if isinstance(exc, AdminError) else 400
    return JSONResponse({"error": str(exc)}, status)

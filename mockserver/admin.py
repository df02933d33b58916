"""The control API under /_mock/ (described by contracts/admin.yaml): reset, accounts, faults,
the request journal and the contracts."""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import contracts

from .faults import FAULTS, MockUsageError, check_fault_name
from .ledger import Account
from .profiles import PROFILES
from .state import State


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_admin(state: State) -> Starlette:
    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/reset", reset, methods=["POST"]),
            Route("/accounts/{api_key:path}", Accounts),
            Route("/faults", Faults),
            Route("/requests", Requests),
            Route("/contracts", list_contracts, methods=["GET"]),
            Route("/contracts/{name}", get_contract, methods=["GET"]),
        ],
        exception_handlers={
            AdminError: admin_exception,
            MockUsageError: admin_exception,
            HTTPException: admin_exception,
        },
    )
    app.state.mock = state
    return app


def state_of(request: Request) -> State:
    return request.app.state.mock


async def health(request: Request) -> Response:
    profiles = {
        name: {"title": p.title, "prefix": f"/{name}", "contract": f"/_mock/contracts/{p.contract}"}
        for name, p in PROFILES.items()
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
        account = state_of(request).ledger.find(request.path_params["api_key"])
        if account is None:
            raise AdminError(404, "no account has this API key (the mock runs with --strict-keys)")
        return JSONResponse(account_json(account))

    async def put(self, request: Request) -> Response:
        credits = whole_number((await json_object(request)).get("credits"))
        if credits is None or credits < 0:
            raise AdminError(400, '"credits" must be a whole number >= 0')
        account = state_of(request).ledger.set_balance(request.path_params["api_key"], credits)
        return JSONResponse(account_json(account))


class Faults(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return faults_json(state_of(request))

    async def post(self, request: Request) -> Response:
        body = await json_object(request)
        profile, fault, path = (body.get(k) for k in ("profile", "fault", "path"))
        times = whole_number(body.get("times", 1))
        if not isinstance(profile, str) or profile not in PROFILES:
            raise AdminError(400, f'"profile" must be one of: {", ".join(PROFILES)}')
        if not isinstance(fault, str):
            raise AdminError(400, f'"fault" must be one of: {", ".join(FAULTS)}')
        check_fault_name(fault)
        if times is None or times < 1:
            raise AdminError(400, '"times" must be a whole number >= 1')
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise AdminError(400, '"path" must be a path starting with "/", such as /api/v1/models/gemini/generate')
        return JSONResponse(state_of(request).faults.add(profile, fault, times, path).as_json(), 201)

    async def delete(self, request: Request) -> Response:
        state_of(request).faults.clear(request.query_params.get("profile"))
        return faults_json(state_of(request))


def faults_json(state: State) -> Response:
    return JSONResponse({"faults": [q.as_json() for q in state.faults.pending()], "known": FAULTS})


class Requests(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        query = request.query_params
        entries = state_of(request).journal.entries(query.get("profile"), query.get("path"))
        limit = query.get("limit")
        if limit is not None:
            if not limit.isdigit():
                raise AdminError(400, '"limit" must be a whole number >= 0')
            entries = entries[len(entries) - int(limit) :] if int(limit) else []
        return JSONResponse({"requests": [e.as_json() for e in entries]})

    async def delete(self, request: Request) -> Response:
        state_of(request).journal.clear()
        return JSONResponse({"requests": []})


async def list_contracts(request: Request) -> Response:
    return JSONResponse({"contracts": {name: f"/_mock/contracts/{name}" for name in contracts.names()}})


async def get_contract(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        text = contracts.text(name)
    except KeyError:
        raise AdminError(404, f"no contract named {name!r}; known: {', '.join(contracts.names())}") from None
    if request.query_params.get("format") == "json":
        return JSONResponse(contracts.load(name))
    return Response(text, media_type="application/yaml")


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
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


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "credits": account.balance,
        "charged": account.charged,
        "refunded": account.refunded,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


async def admin_exception(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)
    status = exc.status if isinstance(exc, AdminError) else 400
    return JSONResponse({"error": str(exc)}, status)

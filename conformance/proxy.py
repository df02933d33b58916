"""`imagegen-mock proxy`: a validation proxy between an app and the real service.

It forwards every request upstream unchanged and returns the answer unchanged, and checks each exchange
on the way: the request's JSON body against the contract, the answer against the contract (status
documented, body of the documented shape) and against the documented rules of the service (images that
decode as what they claim, n images for n, usage that adds up, the seed's prices and job statuses).
Violations are printed as they happen and appended to a report (JSON lines); with a record folder each
exchange is saved, secrets redacted, for `imagegen-mock serve --replay`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import schemathesis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import contracts
from mockserver import HOP_HEADERS, Recording, api_key_of, save

from .failures import ContractViolation, Failure, WrongStatus
from .rules import RULES
from .traffic import redacted_url

FORWARDED_OUT = frozenset({"host", "content-length", "connection", "accept-encoding"})
UPSTREAM_TIMEOUT_SECONDS = 300
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    status: int
    kind: str  # the kit's name for it (failures.py): status, body, image, contract, ...
    problem: str

    def line(self) -> str:
        return f"VIOLATION [{self.kind}] {self.method} {self.path} -> {self.status}: {self.problem}"


class Validator:
    """What the contract and the rules say of one exchange."""

    def __init__(self, profile: str) -> None:
        self.contract = contracts.load(profile)
        self.schema = schemathesis.openapi.from_dict(self.contract)
        self.rules = RULES.get(contracts.dialect(profile) or "", [])

    def problems(self, request: httpx.Request, response: httpx.Response) -> list[Failure]:
        operation = self.schema.find_operation_by_path(request.method, request.url.path)
        if operation is None:
            unknown = ContractViolation("the contract documents no such operation")
            return [] if response.status_code == 404 else [unknown]
        found = self.request_problems(operation.definition.raw, request)
        documented = operation.definition.raw.get("responses", {})
        if str(response.status_code) not in documented and "default" not in documented:
            message = f"status {response.status_code} is not one the contract documents for {operation.label}"
            found.append(WrongStatus(message, expected=sorted(documented), got=response.status_code))
        else:
            found += self.answer_problems(operation, response)
        answer = json_of(response.content, response.headers.get("content-type", ""))
        asked = json_of(request.content, request.headers.get("content-type", ""))
        return found + [problem for rule in self.rules for problem in rule(asked, answer, response.status_code)]

    def request_problems(self, operation: dict[str, Any], request: httpx.Request) -> list[Failure]:
        media = request.headers.get("content-type", "").split(";")[0].strip()
        schema = operation.get("requestBody", {}).get("content", {}).get(media, {}).get("schema")
        body = json_of(request.content, media)
        if schema is None or "json" not in media or body is None:
            return []
        validator = jsonschema_rs.validator_for({**schema, "components": self.contract.get("components", {})})
        errors = list(validator.iter_errors(body))[:5]
        return [ContractViolation(f"the request body breaks the contract: {error.message}") for error in errors]

    def answer_problems(self, operation: Any, response: httpx.Response) -> list[Failure]:
        try:
            operation.validate_response(response)
        except AssertionError as failure:
            failures = getattr(failure, "exceptions", [failure])
            titles = [getattr(f, "title", "the answer breaks the contract") for f in failures]
            return [ContractViolation(f"{title}: {first_line(f)}") for title, f in zip(titles, failures, strict=True)]
        return []


def first_line(failure: BaseException) -> str:
    return (getattr(failure, "message", "") or str(failure)).strip().splitlines()[0][:300]


def json_of(content: bytes, content_type: str) -> Any:
    if "json" not in content_type or not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def create_proxy(
    profile: str,
    upstream: str,
    *,
    record: Path | None = None,
    report: Path | None = None,
    on_violation: Callable[[Violation], None] = lambda violation: print(violation.line(), flush=True),
) -> Starlette:
    validator = Validator(profile)
    client = httpx.AsyncClient(base_url=upstream.rstrip("/"), timeout=UPSTREAM_TIMEOUT_SECONDS)

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in FORWARDED_OUT]
        outgoing = client.build_request(
            request.method, request.url.path, params=request.query_params.multi_items(), headers=headers, content=body
        )
        answer = await client.send(outgoing)
        await answer.aread()
        checked = httpx.Request(request.method, httpx.URL(path=request.url.path), headers=headers, content=body)
        for problem in validator.problems(checked, answer):
            path = redacted_url(str(request.url.path))
            violation = Violation(request.method, path, answer.status_code, problem.kind, problem.message)
            on_violation(violation)
            if report:
                with report.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(violation)) + "\n")
        if record:
            key = api_key_of(request.headers, request.query_params)
            save(record, recording_of(request, body, answer), frozenset({key} if key else ()))
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    @asynccontextmanager
    async def closing(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/{path:path}", forward, methods=METHODS)], lifespan=closing)


def recording_of(request: Request, body: bytes, answer: httpx.Response) -> Recording:
    return Recording(
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        body=body,
        content_type=request.headers.get("content-type", ""),
        status=answer.status_code,
        headers=dict(answer.headers),
        answer=answer.content,
    )

"""Schema conformance: Schemathesis sends examples, boundary cases and fuzzed requests from the
profile's contract, and every answer must match it."""

from __future__ import annotations

import io
from typing import Any

import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.engine import events, from_schema

import contracts

from .behaviours import Behaviour
from .session import USER_AGENT, Session

# Documented answers a valid request may get besides success.
ACCEPTABLE_STATUSES = ["2xx", "401", "402", "403", "404", "409", "429"]
MAX_REPORTED = 8
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def tiny_image(pil_format: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 120, 40)).save(out, pil_format)
    return out.getvalue()


# Schemathesis fills `format: binary` parts with sample files of many kinds (PDF, ZIP, ...); a contract that
# asks for images gets real ones.
for _media_type, _pil_format in {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
}.items():
    schemathesis.openapi.media_type(_media_type, st.just(tiny_image(_pil_format)))


def contract_behaviour(profile: str) -> Behaviour:
    return Behaviour(
        name="contract",
        summary=f"Every answer matches contracts/{profile}.yaml (Schemathesis: examples, boundaries, fuzzing)",
        source=f"contracts/{profile}.yaml",
        check=check_contract,
        paid=True,
    )


OPEN_KEYS_NOTE = (
    "not checked: that unknown keys are refused (ignored_auth), because this mock accepts any key; "
    "start it with --strict-keys to check that too"
)


def check_contract(session: Session) -> str | None:
    contract = contracts.load(session.target.profile)
    schema = schemathesis.openapi.from_dict(contract, config=schemathesis_config(session, contract))
    failures: dict[str, str] = {}
    errors: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            failures.update(scenario_failures(event))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(f"{getattr(event, 'label', 'run')}: {getattr(event, 'value', None) or event.exception}")
    problems = [*failures.values(), *errors]
    if problems:
        shown = problems[:MAX_REPORTED]
        more = f"\n… and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise AssertionError(f"{len(problems)} contract violation(s):\n" + "\n".join(shown) + more)
    return OPEN_KEYS_NOTE if session.accepts_any_key else None


def schemathesis_config(session: Session, contract: dict[str, Any]) -> schemathesis.Config:
    schemes = contract.get("components", {}).get("securitySchemes", {})
    auth = {name: credentials(scheme, session.target.api_key) for name, scheme in schemes.items()}
    # Against a real service only the contract's own examples are sent: every generated request may cost.
    off = {"enabled": False}
    phases = {} if session.target.loopback else {"coverage": off, "fuzzing": off, "stateful": off}
    return schemathesis.Config.from_dict(
        {
            "operations": [
                {"include-name": name, "phases": {"coverage": {"enabled": False}}}
                for name in multipart_operations(contract)
            ],
            "base-url": session.target.base_url,
            "headers": {"User-Agent": USER_AGENT},
            "seed": session.seed,
            "auth": {"openapi": auth},
            "generation": {"max-examples": session.examples, "database": "none"},
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ACCEPTABLE_STATUSES},
                "ignored_auth": {"enabled": not session.accepts_any_key},
            },
            "phases": phases,
            "output": {"sanitization": {"enabled": True}},
        }
    )


def multipart_operations(contract: dict[str, Any]) -> list[str]:
    """Operations whose body is multipart. Schemathesis' coverage phase sends their file parts without a
    filename, which a server rightly reads as text fields, so that phase is left out for them; examples,
    fuzzing and stateful runs still send real files."""
    return [
        f"{method.upper()} {path}"
        for path, operations in contract.get("paths", {}).items()
        for method, operation in operations.items()
        if method in HTTP_METHODS and "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    ]


def credentials(scheme: dict[str, Any], key: str) -> dict[str, str]:
    if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
        return {"bearer": key}
    return {"api_key": key}


def scenario_failures(event: events.ScenarioFinished) -> dict[str, str]:
    """One line per distinct failure of a scenario, keyed so repeats collapse."""
    found = {}
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            key = f"{event.recorder.label}|{check.name}|{failure.title}"
            message = " ".join(failure.message.split())[:300]
            found[key] = f"{event.recorder.label}: {failure.title} ({check.name}) {message}".rstrip()
    return found

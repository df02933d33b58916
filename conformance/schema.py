"""Schema conformance: Schemathesis sends examples, boundary cases and fuzzed requests from the
profile's contract, and every answer must match it."""

from __future__ import annotations

import base64
import copy
import io
from typing import Any

import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.engine import events, from_schema

import contracts

from .behaviours import Behaviour
from .failures import ContractViolation
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
# A contract's base64 image in JSON (Gemini's inlineData) is `format: image-base64`.
schemathesis.openapi.format("image-base64", st.just(base64.b64encode(tiny_image("PNG")).decode()))


def contract_behaviour(profile: str) -> Behaviour:
    return Behaviour(
        name="contract",
        summary=f"Every answer matches contracts/{profile}.yaml (Schemathesis: examples, boundaries, fuzzing)",
        source=f"contracts/{profile}.yaml",
        check=check_contract,
        paid=True,
        # On a budget, billable operations send only the contract's own examples, once each.
        calls=len(billable_examples(contracts.load(profile))),
        examples=1,
    )


def billable_operations(contract: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The operations the service charges for (x-billable), by Schemathesis' name for them."""
    return {
        f"{method.upper()} {path}": operation
        for path, operations in contract.get("paths", {}).items()
        for method, operation in operations.items()
        if method in HTTP_METHODS and operation.get("x-billable")
    }


def billable_examples(contract: dict[str, Any]) -> list[str]:
    """One entry per request body example of a billable operation: what its examples phase sends."""
    return [
        name
        for name, operation in billable_operations(contract).items()
        for media in operation.get("requestBody", {}).get("content", {}).values()
        for _ in ([media["example"]] if "example" in media else list(media.get("examples", {})))
    ]


OPEN_KEYS_NOTE = (
    "that unknown keys are refused (ignored_auth), because this mock accepts any key; "
    "start it with --strict-keys to check that too"
)


def check_contract(session: Session) -> str | None:
    contract = contracts.load(session.target.profile)
    if on_a_budget(session):
        for example in billable_examples(contract):
            session.budget.spend(f"the contract's example of {example}")
    schema = schemathesis.openapi.from_dict(generated(contract), config=schemathesis_config(session, contract))
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
        raise ContractViolation(f"{len(problems)} contract violation(s):\n" + "\n".join(shown) + more)
    left_out = [f"{check} ({why})" for check, why in excluded_checks(contract).items()]
    left_out += [OPEN_KEYS_NOTE] if session.accepts_any_key and "ignored_auth" not in excluded_checks(contract) else []
    return "not checked: " + "; ".join(left_out) if left_out else None


def generated(contract: dict[str, Any]) -> dict[str, Any]:
    """The contract as Schemathesis makes requests from it: without the properties its `x-schemathesis`
    lists as `not-generated`, nor the anyOf branches that require one of them."""
    left_out = contract.get("x-schemathesis", {}).get("not-generated", {})
    if not left_out:
        return contract
    contract = copy.deepcopy(contract)
    for name, properties in left_out.items():
        schema = contract["components"]["schemas"][name]
        for property_name in properties:
            del schema["properties"][property_name]
        if "anyOf" in schema:
            schema["anyOf"] = [
                branch for branch in schema["anyOf"] if not set(branch.get("required", ())) & set(properties)
            ]
    return contract


def excluded_checks(contract: dict[str, Any]) -> dict[str, str]:
    """The Schemathesis checks the contract says do not apply to its service, with why."""
    return contract.get("x-schemathesis", {}).get("exclude-checks", {})


def schemathesis_config(session: Session, contract: dict[str, Any]) -> schemathesis.Config:
    schemes = contract.get("components", {}).get("securitySchemes", {})
    auth = {name: credentials(scheme, session.target.api_key) for name, scheme in schemes.items()}
    off = {"enabled": False}
    # Stateful runs follow only the links a contract declares: inferring them from the schema makes
    # hundreds of scenarios that each may render images.
    phases: dict[str, Any] = {"stateful": {"inference": {"algorithms": []}}}
    settings = contract_settings(contract)
    if on_a_budget(session):
        # Billable operations send only the contract's own examples; free ones are fuzzed too.
        phases = {"coverage": off, "stateful": off}
        settings["operations"] += [
            {"include-name": name, "phases": {"fuzzing": off}} for name in billable_operations(contract)
        ]
    settings["checks"]["ignored_auth"] = {"enabled": "ignored_auth" not in excluded_checks(contract)
                                          and not session.accepts_any_key}  # fmt: skip
    pacing = {"rate-limit": f"{max(1, int(session.pacer.rate * 60))}/m"} if session.pacer.rate else {}
    return schemathesis.Config.from_dict(
        {
            **settings,
            **pacing,
            "base-url": session.target.base_url,
            "headers": {"User-Agent": USER_AGENT},
            "seed": session.seed,
            "auth": {"openapi": auth},
            "generation": {"max-examples": session.examples, "database": "none"},
            "phases": phases,
            "output": {"sanitization": {"enabled": True}},
        }
    )


def on_a_budget(session: Session) -> bool:
    """Every generated request may cost: against a real service, or a mock given a budget."""
    return not session.target.loopback or session.budget.limit is not None


def contract_settings(contract: dict[str, Any]) -> dict[str, Any]:
    """The Schemathesis settings a contract asks for in `x-schemathesis`: checks that do not apply to its
    service, and operations that may rightly refuse a valid-looking request with 400 (a rule across fields,
    or state, that a schema cannot state); plus what every multipart operation needs."""
    hints = contract.get("x-schemathesis", {})
    refusing = {"positive_data_acceptance": {"expected-statuses": [*ACCEPTABLE_STATUSES, "400"]}}
    return {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ACCEPTABLE_STATUSES},
            **{check: {"enabled": False} for check in excluded_checks(contract)},
        },
        "operations": [
            *({"include-name": name, "checks": refusing} for name in hints.get("may-refuse", {})),
            *(
                {"include-name": name, "phases": {"coverage": {"enabled": False}}}
                for name in multipart_operations(contract)
            ),
        ],
    }


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

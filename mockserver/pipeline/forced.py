"""The failures and the latency a request can be given.

A fault is asked for per request with the ``X-Mock-Fault`` header, or queued through the control API for
the next N requests of a profile (optionally of one path; the queue is state/faults.py), so a client needs
no change at all. Each profile answers a fault with its own documented failure; an endpoint takes only the
faults that make sense for it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from starlette.types import Scope

from ..state.faults import FaultOptionError, FaultOptions, Forced

FAULTS = {
    "content-policy": "the service refuses the prompt or the result (its content filter)",
    "blocked-prompt": "the service refuses the prompt itself, before generating anything",
    "no-image": "the model answers without the image it was asked for",
    "server-error": "the service fails with an internal error",
    "overloaded": "the service is overloaded and asks to try again later",
    "rate-limit": "the service says the caller sent too many requests",
    "insufficient-credits": "the account has too few credits",
    "timeout": "the service takes too long and gives up",
    # What a real service was seen to do against its own documentation (research/fidelity.md, "Documented vs
    # observed"): off by default, forced like any other fault.
    "fewer-images": "the service answers fewer images than n asked for, as it was observed to",
    "edit-hints-ignored": "an edit's output_format, background and mask are only hints, as they were observed to be",
    "ratios-as-given": "sizes and ratios reach the model as given, which refuses one it does not draw",
}
# How a connection breaks instead of an answer (pipeline/transport.py acts them out).
TRANSPORT_FAULTS = {
    "connection-reset": "the connection is reset (a TCP RST) before any answer",
    "disconnect-after-headers": "the status line and headers arrive, then the connection closes",
    "truncated-body": "the answer declares its length, half of its body arrives, then the connection closes",
    "slow-body": "the answer arrives whole, but in 20 pieces spread over the fault's seconds",
    "stall-before-headers": "nothing arrives for the fault's seconds (or until the client gives up), then the "
    "connection closes",
    "stall-midway": "the answer's first part (a stream's first event) arrives, then nothing for the fault's seconds, "
    "then the connection closes",
    "not-http": "bytes that are not HTTP arrive, then the connection closes",
}
FAULTS |= TRANSPORT_FAULTS
TRANSPORT_FAULT_NAMES = frozenset(TRANSPORT_FAULTS)
FAULT_HEADER = "x-mock-fault"
DELAY_HEADER = "x-mock-delay-ms"
MAX_DELAY_MS = 600_000


class MockUsageError(Exception):
    """A mock control header or admin request the mock cannot act on; the message says why."""


def mock_headers(scope: Scope) -> dict[str, str]:
    """The request's X-Mock-* headers (the first of each name), names in lower case."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name.startswith(b"x-mock-"):
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


def check_fault_name(name: str) -> None:
    if name not in FAULTS:
        raise MockUsageError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")


def header_fault(headers: Mapping[str, str], applicable: Collection[str], endpoint: str) -> Forced | None:
    """The fault a request asks for in its X-Mock-Fault header, if any, with the options after it."""
    name, *parameters = headers.get(FAULT_HEADER, "").split(";")
    name = name.strip()
    if not name:
        return None
    check_fault_name(name)
    if name not in applicable:
        raise MockUsageError(
            f"fault {name!r} does not apply to {endpoint}; it takes: {', '.join(sorted(applicable)) or 'none'}"
        )
    given = {}
    for parameter in filter(str.strip, parameters):
        option, equals, value = parameter.partition("=")
        if not equals:
            raise MockUsageError(f"{FAULT_HEADER}: the option {parameter.strip()!r} needs a value (name=value)")
        given[option.strip().replace("-", "_")] = value.strip()
    try:
        return Forced(name, FaultOptions.read(given))
    except FaultOptionError as error:
        raise MockUsageError(f"{FAULT_HEADER}: {error}") from None


def delay_seconds(headers: Mapping[str, str], default_ms: int) -> float:
    """The latency to add: the request's X-Mock-Delay-Ms header, else the global setting."""
    raw = headers.get(DELAY_HEADER)
    if raw is None:
        return default_ms / 1000
    try:
        delay_ms = int(raw.strip())
    except ValueError:
        delay_ms = -1
    if not 0 <= delay_ms <= MAX_DELAY_MS:
        raise MockUsageError(f"X-Mock-Delay-Ms must be a whole number of milliseconds from 0 to {MAX_DELAY_MS}")
    return delay_ms / 1000

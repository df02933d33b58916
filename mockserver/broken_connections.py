"""The scenario catalogue's broken connections: for each transport fault (pipeline/transport.py), what a client
meets, what a correct client does, and what the real services are known to do when a connection breaks, with
the source of each fact; and, for each profile, the scenario that forces it on the profile's documented success.

A fact here is what a public source shows, in code, documentation or a report on the service's own tracker;
a service with no such source is said to have none. The pytest plugin gives these scenarios with
`@pytest.mark.imagegen_scenarios(profile, broken_connections=True)`, the CLI with `imagegen-mock scenarios
--broken-connections`, the control API with `GET /_mock/scenarios?broken_connections=true`, and the README's
table is printed from them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import contracts

from .scenarios import Scenario, Step, scenarios

OPENAI, AZURE, GOOGLE, NEW_API, LLM_GATEWAY = "OpenAI", "Azure OpenAI", "Google", "new-api", "LLM Gateway"
SERVICES = {OPENAI: ("openai",), AZURE: ("azure",), GOOGLE: ("gemini", "google"), NEW_API: ("vastnum",),
            LLM_GATEWAY: ("llmgateway",)}  # fmt: skip
HOLD = {"seconds": 0.2}  # how long a scenario's stall or slow body lasts: long enough to be one, short in a test
HOLDING = frozenset({"slow-body", "stall-before-headers", "stall-midway"})
NOTHING_KNOWN = "no public source found on how the service breaks here"


@dataclass(frozen=True)
class Known:
    """What a real service is known to do, and where that is shown."""

    service: str  # one of SERVICES
    does: str
    source: str

    def __str__(self) -> str:
        return f"{self.does} ({self.source})"


@dataclass(frozen=True)
class Breakage:
    fault: str
    meets: str  # what the client meets
    client: str  # what a correct client does
    known: tuple[Known, ...] = ()

    def known_of(self, profile: str) -> tuple[str, ...]:
        return tuple(str(fact) for fact in self.known if profile in SERVICES[fact.service]) or (NOTHING_KNOWN,)


NEW_API_UPSTREAM_FAILED = Known(
    NEW_API,
    "an upstream that fails to answer becomes its own 500 `do_request_failed`",
    "Calcium-Ion/new-api relay/relay-image.go, 2025",
)

BREAKAGES = (
    Breakage(
        "connection-reset",
        "a TCP reset before any answer; nothing ran, nothing charged",
        "retry on its own backoff: the request may never have arrived",
        (
            NEW_API_UPSTREAM_FAILED,
            Known(
                LLM_GATEWAY,
                "an upstream that cannot be reached becomes a 502 `upstream_error`",
                "theopenco/llmgateway#1578",
            ),
        ),
    ),
    Breakage(
        "disconnect-after-headers",
        "the status line and headers, then a close; the charge refunded",
        "retry: no answer was read, though a real service may have charged",
        (
            Known(OPENAI, "long streams end in `incomplete chunked read`", "openai/openai-python#2065, #2356"),
            Known(
                GOOGLE,
                "clients meet `Server disconnected without sending a response`",
                "googleapis/python-genai#1617, #2176",
            ),
            Known(
                NEW_API,
                "an upstream stream that ends early ends the client's stream too, billed for what arrived",
                "Calcium-Ion/new-api relay/channel/openai/relay-openai.go, 2025",
            ),
        ),
    ),
    Breakage(
        "truncated-body",
        "`Content-Length` as declared, half the body, then a close; the charge refunded",
        "retry, never parse the half",
        (
            Known(
                NEW_API,
                "an upstream body it cannot read becomes its own 500 `read_response_body_failed`",
                "Calcium-Ion/new-api relay/channel/openai/relay-openai.go, 2025",
            ),
        ),
    ),
    Breakage(
        "slow-body",
        "the whole answer, in 20 pieces over the fault's `seconds`; charged as answered",
        "a deadline for the whole call, not only a read timeout, which each piece resets",
        (
            Known(
                GOOGLE,
                "an image answer of 2.7 MB was still arriving when a client's 300 s timeout ended it",
                "tidyverse/ellmer#908",
            ),
        ),
    ),
    Breakage(
        "stall-before-headers",
        "nothing for the fault's `seconds`, then a close; nothing charged",
        "a read timeout shorter than the service's own, then a retry",
        (
            Known(
                OPENAI,
                "a request unanswered for 100 s meets Cloudflare's 524 `cf_gateway_timeout`",
                "community.openai.com/t/219369",
            ),
            Known(OPENAI, "an image generation could hang until the SDK's 600 s timeout", "openai/openai-python#618"),
            Known(AZURE, "a gpt-image-2 generation took about 394 s before it answered", "openclaw/openclaw#71705"),
            Known(
                GOOGLE,
                "504 `DEADLINE_EXCEEDED` when the model cannot finish in time",
                "ai.google.dev/gemini-api/docs/troubleshooting",
            ),
            Known(
                NEW_API,
                "no total relay timeout by default (`RELAY_TIMEOUT` 0); a 504 or 524 is not retried",
                "Calcium-Ion/new-api service/http_client.go, controller/relay.go, 2025",
            ),
            Known(
                LLM_GATEWAY, "its own timeout ends the call with a 504 `upstream_timeout`", "theopenco/llmgateway#1578"
            ),
        ),
    ),
    Breakage(
        "stall-midway",
        "a stream's first event (or half a body), then nothing for the fault's `seconds`; the charge refunded",
        "a read timeout between events; a stream cannot be resumed, so a new call, paid again",
        (
            Known(
                NEW_API,
                "`STREAMING_TIMEOUT`, reset by each line, ends a silent upstream stream",
                "Calcium-Ion/new-api relay/helper/stream_scanner.go, 2025",
            ),
            Known(
                LLM_GATEWAY,
                "a stream is bounded by a total timeout, not by silence",
                "theopenco/llmgateway apps/gateway/src/lib/timeout-config.ts",
            ),
        ),
    ),
    Breakage(
        "not-http",
        "bytes that are not HTTP, then a close; nothing charged",
        "fail clearly: a proxy or the wrong port is in the way",
        (
            Known(
                NEW_API,
                "an upstream error that is not JSON comes back with its status, as `bad response status code`",
                "Calcium-Ion/new-api service/error.go, 2025",
            ),
        ),
    ),
)


@cache
def broken_connections(profile: str) -> list[Scenario]:
    """The profile's broken-connection scenarios: each transport fault forced on its documented success (a stream,
    for a stall midway, where the service streams)."""
    success = next(s for s in scenarios(profile) if s.status == 200 and not s.fault and s.then is None)
    return [scenario(profile, breakage, success) for breakage in BREAKAGES]


def scenario(profile: str, breakage: Breakage, success: Scenario) -> Scenario:
    answered = breakage.fault == "slow-body"
    request = streamed(profile, success.request) if breakage.fault == "stall-midway" else success.request
    return Scenario(
        profile,
        breakage.fault,
        breakage.meets,
        request,
        fault=breakage.fault,
        options=HOLD if breakage.fault in HOLDING else {},
        status=200 if answered else None,
        expect=success.expect if answered else {},
        charged=success.charged if answered else 0,
        client=breakage.client,
        known=breakage.known_of(profile),
    )


def streamed(profile: str, request: Step) -> Step:
    """The streaming twin of a request, where the service has one."""
    if profile == "openai":
        return replace(request, json={**request.json, "n": 1, "stream": True, "partial_images": 1})
    if contracts.dialect(profile) == "gemini":
        return replace(request, path=request.path.replace(":generateContent", ":streamGenerateContent"),
                       query={"alt": "sse"})  # fmt: skip
    return request


def markdown() -> str:
    """The README's table of the broken connections, and what the real services are known to do in each."""
    rows = []
    for b in BREAKAGES:
        known = "; ".join(f"{fact.service}: {fact}" for fact in b.known) or NOTHING_KNOWN
        rows.append(f"| `{b.fault}` | {b.meets} | {b.client} | {known} |")
    header = "| fault | what the client meets | what a correct client does | what the real services are known to do |"
    return "\n".join([header, "|---|---|---|---|", *rows])

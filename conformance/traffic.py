"""What the kit sends: counted against the budget, paced, retried after a 429 only when that is safe,
and recorded for the reports.

A request is billable when it goes to an operation the contract marks `x-billable`. A paid behaviour
spends one unit of the budget before each billable request, and none is sent once the budget is spent.
A free behaviour's billable requests are meant to be refused (bad key, bad body); one that succeeds
was probably billed, so it is counted too, and once such a server has spent the budget, the budget
guards free requests as well.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

import contracts
from mockserver import FAULT_HEADER, REDACTED, is_secret_header, is_secret_query

MAX_RETRY_AFTER_SECONDS = 60.0  # a longer wait is reported, not waited out
EXCERPT = 2000
MAX_IMAGES = 6  # a behaviour's images kept for the report
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"GIF8")
# Headers any HTTP client sends of its own accord; a request repeated by hand needs none of them.
CLIENT_HEADERS = frozenset({"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"})


class BudgetSpent(Exception):
    """The budget has no paid request left; the message says what was spent."""


class Budget:
    """How many billable requests the kit may still send; None is no limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.spent = 0
        self.unexpected = 0  # requests the kit meant to be free that the server answered as if it billed them
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit

    @property
    def distrusted(self) -> bool:
        """The server billed a request meant to be free, and the budget is spent: free ones stop too."""
        return self.unexpected > 0 and self.exhausted

    def spend(self, what: str) -> None:
        with self._lock:
            if self.exhausted:
                raise BudgetSpent(f"the budget of {self.limit} paid request(s) is spent; not sent: {what}")
            self.spent += 1

    def charged_anyway(self) -> None:
        with self._lock:
            self.spent += 1
            self.unexpected += 1


class Billing:
    """Which requests the service may charge for: the operations its contract marks x-billable."""

    def __init__(self, contract: str, base_path: str) -> None:
        self.base_path = base_path.rstrip("/")
        self.operations = [
            (method.upper(), template_pattern(path))
            for path, operations in contracts.load(contract).get("paths", {}).items()
            for method, operation in operations.items()
            if isinstance(operation, dict) and operation.get("x-billable")
        ]

    def billable(self, method: str, path: str) -> bool:
        path = path.removeprefix(self.base_path) or "/"
        return any(method == m and pattern.fullmatch(path) for m, pattern in self.operations)


def template_pattern(template: str) -> re.Pattern[str]:
    """A path template such as /v1beta/models/{model}:generateContent as a pattern of concrete paths."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))


class Pacer:
    """At most `rate` requests a second (None: no pacing)."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.interval = 1 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            delay = max(0.0, self._next - now)
            self._next = max(now, self._next) + self.interval
        if delay:
            self.sleep(delay)


@dataclass
class Exchange:
    """One request the kit sent and its answer, secrets redacted, bodies cut to an excerpt."""

    method: str
    url: str
    headers: dict[str, str]
    body: str
    status: int
    answer: str
    billable: bool
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Recorder:
    """The exchanges and images of the behaviour being checked."""

    exchanges: list[Exchange] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)
    limit: int = 200

    def add(self, exchange: Exchange) -> None:
        if len(self.exchanges) < self.limit:
            self.exchanges.append(exchange)

    def keep_images(self, images: list[bytes]) -> None:
        self.images += images[: max(0, MAX_IMAGES - len(self.images))]


class KitTransport(httpx.BaseTransport):
    """An httpx transport that keeps the kit's rules for every request a check sends."""

    def __init__(
        self, inner: httpx.BaseTransport, billing: Billing, budget: Budget, pacer: Pacer,
        paid_now: Callable[[], bool], recorder: Callable[[], Recorder],
    ) -> None:  # fmt: skip
        self.inner, self.billing, self.budget, self.pacer = inner, billing, budget, pacer
        self.paid_now, self.recorder = paid_now, recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        forced = FAULT_HEADER in request.headers  # a mock's forced fault: the mock answers it, its 429 is the point
        billable = self.billing.billable(request.method, request.url.path) and not forced
        paid = billable and self.paid_now()
        if paid or (billable and self.budget.distrusted):
            self.budget.spend(f"{request.method} {request.url.path}")
        response = self.send(request)
        wait = None if forced else retry_after(response)
        if wait is not None:
            if paid:
                self.budget.spend(f"a retry of {request.method} {request.url.path}")
            self.pacer.sleep(wait)
            response = self.send(request)
        if billable and not paid and response.is_success:
            self.budget.charged_anyway()
        return response

    def send(self, request: httpx.Request) -> httpx.Response:
        self.pacer.wait()
        started = time.perf_counter()
        response = self.inner.handle_request(request)
        response.read()
        billable = self.billing.billable(request.method, request.url.path)
        recorder = self.recorder()
        recorder.add(exchange_of(request, response, billable, time.perf_counter() - started))
        recorder.keep_images(images_in(response))
        return response

    def close(self) -> None:
        self.inner.close()


def retry_after(response: httpx.Response) -> float | None:
    """How long a 429 asks to wait, if it says and the wait is short enough to wait out."""
    if response.status_code != 429:
        return None
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER_SECONDS else None


def exchange_of(request: httpx.Request, response: httpx.Response, billable: bool, seconds: float) -> Exchange:
    return Exchange(
        method=request.method,
        url=redacted_url(str(request.url)),
        headers={k: redacted_header(k, v) for k, v in request.headers.items()},
        body=request_excerpt(request),
        status=response.status_code,
        answer=excerpt_of(response.content, response),
        billable=billable,
        seconds=round(seconds, 4),
    )


def redacted_header(name: str, value: str) -> str:
    """The header with its secret hidden; an Authorization header keeps its scheme (Bearer [redacted])."""
    if not is_secret_header(name):
        return value
    scheme, _, secret = value.partition(" ")
    return f"{scheme} {REDACTED}" if name.lower() == "authorization" and secret else REDACTED


def redacted_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(
        f"{name}={REDACTED}" if is_secret_query(name) else f"{name}={value}"
        for name, _, value in (item.partition("=") for item in parts.query.split("&"))
    )
    return parts._replace(query=query).geturl()


def request_excerpt(request: httpx.Request) -> str:
    try:
        return excerpt_of(request.content, request)
    except httpx.RequestNotRead:  # a streamed body, such as a multipart upload, is not kept
        return f"({request.headers.get('content-type', 'streamed').split(';')[0]} body)"


def excerpt_of(content: bytes, message: httpx.Request | httpx.Response) -> str:
    kind = message.headers.get("content-type", "")
    if not content:
        return ""
    if kind.startswith(("image/", "multipart/", "application/octet-stream")):
        return f"({len(content)} bytes of {kind.split(';')[0]})"
    text = content.decode("utf-8", errors="replace")
    return text if len(text) <= EXCERPT else text[:EXCERPT] + f"… ({len(content)} bytes)"


def images_in(response: httpx.Response) -> list[bytes]:
    """The images an answer carries: its body, if it is one, or the base64 images inside its JSON."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("image/"):
        return [response.content]
    if "json" not in kind:
        return []
    try:
        return [image for text in long_strings(response.json()) if (image := base64_image(text))]
    except ValueError:
        return []


def long_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if len(value) > 100 else []
    if isinstance(value, dict):
        value = list(value.values())
    return [text for item in value for text in long_strings(item)] if isinstance(value, list) else []


def base64_image(text: str) -> bytes | None:
    try:
        content = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return content if content.startswith(IMAGE_MAGIC) else None

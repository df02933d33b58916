"""How a service endpoint runs: the mock's control headers, latency, forced faults, the one money rule, and
errors that always come back in the service's own format."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..state import State
from ..state.faults import HINT_HEADERS, Forced
from ..state.ledger import Account, Charge, InsufficientCredits
from ..state.rates import MINUTE
from ..state.shared import UNAVAILABLE, unreachable
from ..wire.keys import key_at
from .forced import TRANSPORT_FAULT_NAMES, MockUsageError, delay_seconds, header_fault, mock_headers
from .routing import Profile, ServiceRoute
from .transport import BEFORE_THE_ANSWER, Broken, connection_of

log = logging.getLogger("imagegen_mock")


class Reject(Exception):
    """Ends a call early with a finished answer, usually an error in the service's format."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Call:
    """One request to a service endpoint, with what the mock knows about it."""

    request: Request
    body: bytes  # read once, by the pipeline
    state: State
    profile: Profile
    route: ServiceRoute
    header_fault: Forced | None = None  # the fault the request's X-Mock-Fault header asks for
    forced: Forced | None = None  # the fault forced on it, once taken
    charges: list[Charge] = field(default_factory=list)  # settled by the pipeline once the answer has gone
    answer_headers: list[Callable[[], Mapping[str, str]]] = field(default_factory=list)
    form_read: FormData | HTTPException | None = None  # the form, or why it could not be read: for the journal
    keys: set[str] = field(default_factory=set)  # the API keys the service read, for the journal to hide
    faults_queued: bool | None = None  # whether the queue held any fault when the call first asked
    accounts_read: dict[str, Account] = field(default_factory=dict)  # with a shared state, as the call began

    def key(self, api_key: str) -> str:
        """Note an API key the request gives (valid or not): the journal hides it wherever it appears."""
        self.keys.add(api_key)
        return api_key

    @property
    def fault(self) -> str | None:
        """The name of the fault forced on the call, if one was."""
        return self.forced.name if self.forced else None

    @property
    def endpoint(self) -> str:
        """The path as the service documents it, such as /v1beta/models/{model}:generateContent."""
        return self.route.documented

    @contextmanager
    def charged(
        self, api_key: str, amount: int, refused: Callable[[InsufficientCredits], Response]
    ) -> Iterator[Charge]:
        """The rule the mock exists for: take `amount` credits from the key's account for the block, or end the
        call with the answer `refused` gives and take nothing. Any failure inside the block (a forced fault, an
        error, a client gone) gives the credits back; once the answer has been sent, the charge is final."""
        try:
            charge = self.state.ledger.charge(api_key, amount)
        except InsufficientCredits as refusal:
            raise Reject(refused(refusal)) from None
        self.charges.append(charge)
        try:
            yield charge
        except BaseException:
            self.state.ledger.refund(charge)
            raise

    async def form(self, *, max_files: int, max_fields: int) -> FormData:
        """The request's form, read once by Starlette's parser within these limits (HTTPException, 400, beyond
        them); the journal describes the same."""
        try:
            self.form_read = await self.request.form(max_files=max_files, max_fields=max_fields)
        except HTTPException as refused:
            self.form_read = refused
            raise
        return self.form_read

    def counted(self, key: str, headers: Callable[[int, float], Mapping[str, str]]) -> None:
        """Count the request towards `key`'s rate figures, and give whatever the call answers (an error too) the
        `headers` made from them as the answer leaves (the requests of the last minute, this one among them, and
        when the oldest of them leaves it), unless the answer has them already."""
        figures = self.state.usage.hit(key, MINUTE)
        self.answer_headers.append(lambda: headers(*figures()))

    @property
    def base_url(self) -> str:
        """Where clients reach the server, for the URLs of its answers: --public-url, else the address the request
        came in on; never its Host header, which a client (or a page that rebinds a name of its own) chooses."""
        if self.state.settings.public_url:
            return self.state.settings.public_url.rstrip("/") + "/"
        scope = self.request.scope
        root_path = scope.get("app_root_path", scope.get("root_path", ""))
        return base_url_of(scope.get("scheme", "http"), tuple(scope.get("server") or ()), root_path)

    def take_fault(self, *names: str) -> str | None:
        """The fault among `names` (and this endpoint's faults) to force now: the one the request's
        header asks for, else the oldest queued one that fits.

        Ask at the point where those faults happen, so that a request failing earlier for its own
        reasons (validation, too few credits) leaves the queue alone.
        """
        if self.header_fault is not None:
            taken = self.header_fault if self.header_fault.name in names else None  # one the endpoint takes, as checked
        elif self.queue_holds_faults():
            applicable = self.route.faults.intersection(names)
            taken = self.state.faults.take(self.profile.name, self.route.documented, applicable, self.given_keys)
        else:
            return None
        self.forced = taken or self.forced
        return taken.name if taken else None

    def queue_holds_faults(self) -> bool:
        """Whether any fault is queued, asked once a call (with a shared state, the round trip to Redis that reads the
        clock, the latency and the given keys' accounts too): a fault queued while the call runs is for the requests
        after it."""
        if self.faults_queued is None:
            self.faults_queued, self.accounts_read = self.state.call_start(self.given_keys())
        return self.faults_queued

    def account(self, api_key: str) -> Account | None:
        """The key's account, opened if the service opens one on a key's first request (else None): with a shared
        state, the one read as the call began, if the key had one then."""
        return self.accounts_read.pop(api_key, None) or self.state.ledger.find_or_open(api_key)

    def given_keys(self) -> set[str]:
        """The API keys the request gives: those the service has read so far, else wherever its contract says."""
        if self.keys:
            return self.keys
        headers, query = self.request.headers, self.request.query_params
        return {key for place in self.profile.key_places if (key := key_at(headers, query, place.kind, place.name))}

    def retry_after(self, default: float) -> float:
        """The wait a forced fault's answer asks for: its retry_after option, else the service's own `default`."""
        asked = self.forced.options.retry_after if self.forced else None
        return default if asked is None else asked

    def hold_seconds(self, forced: Forced) -> float:
        """How long a fault holds the request (a timeout, a stall): its own seconds, or the setting's."""
        seconds = forced.options.seconds
        return self.state.settings.timeout_seconds if seconds is None else seconds

    async def fail_if_forced(self, answers: Mapping[str, Callable[[], Response]]) -> None:
        """If one of the faults `answers` names is forced now, end the call with that answer (holding
        the request first, for a timeout)."""
        fault = self.take_fault(*answers)
        if fault is None:
            return
        if fault == "timeout":
            await asyncio.sleep(self.hold_seconds(self.forced))
        raise Reject(answers[fault]())


async def run(call: Call) -> Response | Broken:
    """The endpoint's answer to the call, in the service's format whatever happens; or, with a transport fault
    forced, the connection broken."""
    label = f"{call.route.method} {call.endpoint}"
    broken = None
    try:
        controls = mock_headers(call.request.scope)
        call.header_fault = header_fault(controls, call.route.faults, label)
        if call.take_fault(*transport_faults(call, label)):
            broken = call.forced
            if broken.name in BEFORE_THE_ANSWER:
                return Broken(broken, None, call.hold_seconds(broken))
        delay = delay_seconds(controls, call.state.latency_ms(call.profile.name))
        if delay:
            await asyncio.sleep(delay)
        try:
            response = await call.route.handler(call)
        except Reject as rejection:
            response = rejection.response
        add_headers(response, call)  # the rate figures may come from Redis
    except MockUsageError as error:
        return call.profile.error(400, str(error))
    except UNAVAILABLE as gone:
        return call.profile.error(503, unreachable(gone))
    except Exception:
        log.exception("%s failed inside the mock", label)
        return call.profile.error(500, f"The mock failed while handling {label}; see its log.")
    return Broken(broken, response, call.hold_seconds(broken)) if broken else response


def transport_faults(call: Call, label: str) -> frozenset[str]:
    """The transport faults the call can be given: all of them where the mock has the connection at hand."""
    if connection_of(call.request.scope) is not None:
        return TRANSPORT_FAULT_NAMES
    if call.header_fault is not None and call.header_fault.name in TRANSPORT_FAULT_NAMES:
        raise MockUsageError(
            f"fault {call.header_fault.name!r} breaks the connection, which only imagegen-mock's own server can do "
            f"(imagegen-mock serve, the pytest plugin); {label} was served another way"
        )
    return frozenset()


def add_headers(response: Response, call: Call) -> None:
    """The headers the call gathered for its answer, and the forced fault's status and retry hints."""
    given = {name for name, _ in response.raw_headers}
    for headers in call.answer_headers:
        for name, value in headers().items():
            if (key := name.lower().encode("latin-1")) not in given:
                response.raw_headers.append((key, value.encode("latin-1")))
                given.add(key)
    options = call.forced.options if call.forced else None
    if options and options.status is not None:
        response.status_code = options.status
    if options and options.hints:
        kept = [(name, value) for name, value in response.raw_headers if name not in HINT_HEADERS]
        response.raw_headers[:] = kept + options.hint_headers(time.time())


@lru_cache(maxsize=64)
def base_url_of(scheme: str, server: tuple, root_path: str) -> str:
    """Starlette's base URL of a request to this address (worked out once for each address the server has)."""
    scope = {"type": "http", "scheme": scheme, "server": server or None, "root_path": root_path, "path": "/",
             "headers": []}  # fmt: skip
    return str(Request(scope).base_url)

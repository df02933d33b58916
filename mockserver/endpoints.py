"""How a service endpoint runs: mock control headers, latency, forced faults, and errors that
always come back in the service's own format."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import MockUsageError, delay_seconds, header_fault
from .ledger import Charge

if TYPE_CHECKING:
    from .profiles import Profile
    from .state import State

log = logging.getLogger("imagegen_mock")

CHARGES = "imagegen.charges"  # the scope's list of what its request was charged


class Reject(Exception):
    """Ends a call early with a finished answer, usually an error in the service's format."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Call:
    """One request to a service endpoint, with what the mock knows about it."""

    request: Request
    state: State
    profile: Profile
    endpoint: str
    faults: frozenset[str]
    header_fault: str | None

    def charge(self, api_key: str, amount: int) -> Charge:
        """Charge the account for this request; the charge is settled once the answer has been sent."""
        charge = self.state.ledger.charge(api_key, amount)
        self.request.scope.setdefault(CHARGES, []).append(charge)
        return charge

    def take_fault(self, *names: str) -> str | None:
        """The fault among `names` (and this endpoint's faults) to force now: the one the request's
        header asks for, else the oldest queued one that fits.

        Ask at the point where those faults happen, so that a request failing earlier for its own
        reasons (validation, too few credits) leaves the queue alone.
        """
        wanted = self.faults.intersection(names)
        if self.header_fault is not None:
            return self.header_fault if self.header_fault in wanted else None
        return self.state.faults.take(self.profile.name, self.endpoint, wanted)

    async def fail_if_forced(self, answers: Mapping[str, Callable[[], Response]]) -> None:
        """If one of the faults `answers` names is forced now, end the call with that answer (holding
        the request first, for a timeout)."""
        fault = self.take_fault(*answers)
        if fault is None:
            return
        if fault == "timeout":
            await asyncio.sleep(self.state.settings.timeout_seconds)
        raise Reject(answers[fault]())


Handler = Callable[[Call], Awaitable[Response]]


class ServiceRoute(Route):
    """A route to a documented endpoint of a service, with the faults it can be made to show."""

    def __init__(
        self, path: str, endpoint: Callable, method: str, name: str, documented: str, faults: Collection[str]
    ) -> None:
        super().__init__(path, endpoint, methods=[method], name=name)
        self.documented = documented
        self.faults = frozenset(faults)


def service_route(
    profile: Profile,
    state: State,
    method: str,
    path: str,
    handler: Handler,
    faults: Collection[str] = (),
    documented: str | None = None,
) -> ServiceRoute:
    """A route at `path` to the endpoint the service documents as `documented` (by default, `path` itself)."""
    documented = documented or path
    label = f"{method} {documented}"
    faults = frozenset(faults)

    async def endpoint(request: Request) -> Response:
        try:
            requested = header_fault(request.headers, faults, label)
            delay = delay_seconds(request.headers, state.latency_ms(profile.name))
            if delay:
                await asyncio.sleep(delay)
            return await handler(Call(request, state, profile, documented, faults, requested))
        except MockUsageError as error:
            return profile.error(400, str(error))
        except Reject as rejection:
            return rejection.response
        except Exception:
            log.exception("%s failed inside the mock", label)
            return profile.error(500, f"The mock failed while handling {label}; see its log.")

    return ServiceRoute(path, endpoint, method, f"{profile.name}:{method} {path}", documented, faults)

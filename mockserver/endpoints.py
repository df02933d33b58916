"""How a service endpoint runs: mock control headers, latency, forced faults, and errors that
always come back in the service's own format."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import MockUsageError, delay_seconds, header_fault

if TYPE_CHECKING:
    from .profiles import Profile
    from .state import State

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
    state: State
    profile: Profile
    endpoint: str
    applicable_faults: Collection[str]
    requested_fault: str | None
    _fault_decided: bool = field(default=False, repr=False)

    def fault(self) -> str | None:
        """The failure to force on this call: its header's, else the next queued one that fits.

        Ask only once the request is known to be valid, so that a queued fault is not used up by a
        request that fails for its own reasons first.
        """
        if not self._fault_decided:
            self._fault_decided = True
            if self.requested_fault is None:
                self.requested_fault = self.state.faults.take(self.profile.name, self.endpoint, self.applicable_faults)
        return self.requested_fault


Handler = Callable[[Call], Awaitable[Response]]


def service_route(
    profile: Profile, state: State, method: str, path: str, handler: Handler, faults: Collection[str] = ()
) -> Route:
    label = f"{method} {path}"

    async def endpoint(request: Request) -> Response:
        try:
            requested = header_fault(request.headers, faults, label)
            delay = delay_seconds(request.headers, state.settings.latency)
            if delay:
                await asyncio.sleep(delay)
            return await handler(Call(request, state, profile, path, faults, requested))
        except MockUsageError as error:
            return profile.error(400, str(error))
        except Reject as rejection:
            return rejection.response
        except Exception:
            log.exception("%s failed inside the mock", label)
            return profile.error(500, f"The mock failed while handling {label}; see its log.")

    return Route(path, endpoint, methods=[method], name=f"{profile.name}:{label}")

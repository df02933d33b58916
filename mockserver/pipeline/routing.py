"""The services, and which one a request's path belongs to.

A profile is one documented service: a dialect (the code of its wire format) plus that service's quirks.
Every profile answers under its own prefix (/vydra/api/v1/...); those marked `at_root` also answer at the
root (/api/v1/...), where each owns the namespaces (the first two segments, such as /api/v1) of its paths.
Routing decides this once for every request: the journal records it, errors come back in that service's
envelope, and the endpoint the path names runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Scope

import contracts

from .forced import TRANSPORT_FAULT_NAMES

if TYPE_CHECKING:
    from ..state import State


class Dialect(Protocol):
    """A wire format: the routes it serves and the shape of its errors."""

    def routes(self, profile: Profile, state: State) -> list[ServiceRoute]: ...

    def error(
        self, profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> Response: ...


@dataclass(frozen=True)
class Profile:
    name: str  # its prefix, and the name of its contract
    title: str
    source: str  # the documentation it follows
    dialect: Dialect
    quirks: Any = None  # what sets it apart from the other profiles of its dialect, beyond its contract
    at_root: bool = True  # its paths also answer at the root (one profile per path there)

    @property
    def contract(self) -> str:
        """The name of its contract (contracts/<name>.yaml), which is its own."""
        return self.name

    @cached_property
    def key_places(self) -> list[contracts.KeyPlace]:
        """Where the service reads the API key, as its contract's `security` lists them (the first is the one
        its documentation shows)."""
        return contracts.key_places(self.contract)

    def error(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
        """An error in the service's own envelope."""
        return self.dialect.error(self, status, message, headers)


class ServiceRoute:
    """A route to an endpoint the service documents (`documented`, by default `path` itself), with its handler
    (which takes the pipeline's Call) and the faults it can be made to show; `at_root` False keeps it under its
    profile's prefix only, where another service answers its path at the root."""

    def __init__(
        self,
        method: str,
        path: str,
        handler: Callable[..., Awaitable[Response]],
        faults: Collection[str] = (),
        documented: str | None = None,
        at_root: bool = True,
    ) -> None:
        self.method = method
        self.at_root = at_root
        self.methods = frozenset({method, "HEAD"} if method == "GET" else {method})
        self.path = path
        self.documented = documented or path
        self.handler = handler
        self.faults = frozenset(faults) | TRANSPORT_FAULT_NAMES  # any connection can break
        self._pattern, _, self._convertors = compile_path(path)

    def match(self, path: str) -> dict[str, Any] | None:
        """The path parameters, if `path` is this route's; else None."""
        if not self._convertors:
            return {} if path == self.path else None
        found = self._pattern.match(path)
        if found is None:
            return None
        return {name: self._convertors[name].convert(value) for name, value in found.groupdict().items()}


@dataclass(frozen=True)
class Destination:
    """Where a request's path leads."""

    profile: Profile | None  # the service it belongs to; None for no service's (the files, an unknown path)
    path: str  # as the service documents it: without the profile's prefix
    prefix: str = ""  # the profile's prefix it came under; "" at the root


@dataclass(frozen=True)
class Found:
    """The endpoint a request asks for, with the path's parameters."""

    route: ServiceRoute
    params: dict[str, Any]


class Services:
    """Every profile with its routes."""

    def __init__(self, profiles: Mapping[str, Profile], state: State) -> None:
        self.profiles = dict(profiles)
        self.routes = {name: profile.dialect.routes(profile, state) for name, profile in self.profiles.items()}
        self._at_root: dict[str, Profile] = {}  # namespace -> its profile
        for profile in self.profiles.values():
            for route in self.routes[profile.name] if profile.at_root else ():
                if not route.at_root:
                    continue
                owner = self._at_root.setdefault(namespace(route.path), profile)
                if owner is not profile:
                    raise ValueError(f"{route.path}: {owner.name} and {profile.name} both answer it at the root")

    def destination(self, path: str) -> Destination:
        first, _, rest = path[1:].partition("/")
        profile = self.profiles.get(first)
        if profile is not None:
            return Destination(profile, "/" + rest, "/" + first)
        return Destination(self._at_root.get(namespace(path)), path)

    def find(self, destination: Destination, method: str) -> Found | frozenset[str]:
        """The endpoint a request asks for; or, if it has none, the methods the first path that matches takes
        (none: an unknown path), as Starlette's router answers, a path's routes taken together."""
        allowed: frozenset[str] = frozenset()
        first: str | None = None
        for route in self.routes[destination.profile.name] if destination.profile else ():
            params = route.match(destination.path)
            if params is None:
                continue
            if method in route.methods:
                return Found(route, params)
            if first in (None, route.path):
                first, allowed = route.path, allowed | route.methods
        return allowed

    def has(self, profile: Profile, path: str) -> bool:
        """Whether `path` (as the service documents it) is one of the profile's, for any method."""
        return any(route.match(path) is not None for route in self.routes[profile.name])

    def endpoints(self, profile: str) -> dict[str, frozenset[str]]:
        """The profile's documented paths, and the faults each can be made to show."""
        endpoints: dict[str, frozenset[str]] = {}
        for route in self.routes[profile]:
            endpoints[route.documented] = endpoints.get(route.documented, frozenset()) | route.faults
        return endpoints


def route_path(scope: Scope) -> str:
    """The request's path below the app's root path (an ASGI server's --root-path), as Starlette's routes see it."""
    path, root = scope["path"], scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    return "" if path == root else path[len(root) :] if path[len(root)] == "/" else path


def slash_toggled(path: str) -> str:
    return path[:-1] if path.endswith("/") else path + "/"


def namespace(path: str) -> str:
    """The first two segments of a path, such as /api/v1: a service's own part of the root."""
    return "/".join(path.split("/")[:3])

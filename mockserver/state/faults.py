"""The faults queued through the control API, each for the next N requests of a profile (optionally of one
path, or of one API key) that can show it."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from email.utils import formatdate
from typing import Any

MAX_HOLD_SECONDS = 600


class FaultOptionError(ValueError):
    """A fault option the mock cannot act on; the message says why."""


RETRY_AFTER_FORMS = ("seconds", "http-date", "milliseconds")
RETRY_AFTER_HEADERS = (b"retry-after", b"retry-after-ms")  # the wait an answer asks for, as the SDKs read it
HINT_HEADERS = (*RETRY_AFTER_HEADERS, b"x-should-retry")
MAX_RETRY_AFTER_SECONDS = 86_400


@dataclass(frozen=True)
class FaultOptions:
    """How a forced fault's answer differs from the service's usual one: the retry hints clients read, another
    status, how long it holds the request. Given as the fault's JSON fields when queued, or after it in the header
    (``X-Mock-Fault: rate-limit; retry-after=2; retry-after-as=http-date``)."""

    seconds: float | None = None  # how long timeout, stall-* and slow-body hold the request; else --timeout-seconds
    retry_after: float | None = None  # the wait the answer asks for, instead of the service's own
    retry_after_as: str = "seconds"  # Retry-After in seconds, Retry-After as an HTTP date, or retry-after-ms
    should_retry: bool | None = None  # x-should-retry, which the openai SDKs obey before anything else
    status: int | None = None  # the answer's status instead of the service's own, in the same envelope

    @classmethod
    def read(cls, given: Mapping[str, Any]) -> FaultOptions:
        """The options from JSON fields or header parameters (strings); FaultOptionError names a wrong one."""
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(given) - known):
            raise FaultOptionError(f"unknown fault option {unknown[0]!r}; the options are: {', '.join(sorted(known))}")
        options = cls(
            seconds=number(given, "seconds", MAX_HOLD_SECONDS),
            retry_after=number(given, "retry_after", MAX_RETRY_AFTER_SECONDS),
            retry_after_as=given.get("retry_after_as", "seconds"),
            should_retry=flag(given, "should_retry"),
            status=number(given, "status", 599),
        )
        if options.retry_after_as not in RETRY_AFTER_FORMS:
            raise FaultOptionError(f"retry_after_as must be one of: {', '.join(RETRY_AFTER_FORMS)}")
        if options.status is not None and (options.status < 400 or options.status != int(options.status)):
            raise FaultOptionError("status must be an error status, a whole number from 400 to 599")
        return options

    @property
    def hints(self) -> bool:
        return self.retry_after is not None or self.should_retry is not None

    def hint_headers(self, now: float) -> list[tuple[bytes, bytes]]:
        """The retry hints as answer headers; `now` is the time (Unix seconds) an HTTP date counts from."""
        headers: list[tuple[str, str]] = []
        if self.retry_after is not None:
            wait = self.retry_after
            if self.retry_after_as == "milliseconds":
                headers.append(("retry-after-ms", str(round(wait * 1000))))
            elif self.retry_after_as == "http-date":
                headers.append(("retry-after", formatdate(math.ceil(now + wait), usegmt=True)))
            else:
                headers.append(("retry-after", str(int(wait)) if wait == int(wait) else str(wait)))
        if self.should_retry is not None:
            headers.append(("x-should-retry", "true" if self.should_retry else "false"))
        return [(name.encode(), value.encode()) for name, value in headers]

    def as_json(self) -> dict[str, Any]:
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in given.items() if value != getattr(NO_OPTIONS, name)}


def number(given: Mapping[str, Any], name: str, most: float) -> Any:
    value = given.get(name)
    if value is None:
        return None
    try:
        figure = float(value) if isinstance(value, str) else value
    except ValueError:
        figure = None
    if isinstance(figure, bool) or not isinstance(figure, int | float) or not 0 <= figure <= most:
        raise FaultOptionError(f"{name} must be a number from 0 to {most:g}")
    return int(figure) if name == "status" and figure == int(figure) else figure


def flag(given: Mapping[str, Any], name: str) -> bool | None:
    value = given.get(name)
    if isinstance(value, str):
        value = {"true": True, "false": False}.get(value.lower(), value)
    if value is not None and not isinstance(value, bool):
        raise FaultOptionError(f"{name} must be true or false")
    return value


NO_OPTIONS = FaultOptions()


@dataclass(frozen=True)
class Forced:
    """A fault forced on a request, with its options."""

    name: str
    options: FaultOptions = NO_OPTIONS


@dataclass
class QueuedFault:
    id: int
    profile: str
    forced: Forced
    remaining: int
    path: str | None
    key: str | None  # only requests that give this API key

    def fits(
        self, profile: str, endpoint: str, applicable: Collection[str], keys: Callable[[], Collection[str]]
    ) -> bool:
        return (
            self.profile == profile
            and self.forced.name in applicable
            and self.path in (None, endpoint)
            and (self.key is None or self.key in keys())
        )

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "profile": self.profile, "fault": self.forced.name, "remaining": self.remaining,
                "path": self.path, "key": self.key, **self.forced.options.as_json()}  # fmt: skip


class FaultQueue:
    def __init__(self) -> None:
        self._queued: list[QueuedFault] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, profile: str, forced: Forced, times: int, path: str | None, key: str | None = None) -> QueuedFault:
        with self._lock:
            queued = QueuedFault(self._next_id, profile, forced, times, path, key)
            self._next_id += 1
            self._queued.append(queued)
            return queued

    def take(
        self, profile: str, endpoint: str, applicable: Collection[str], keys: Callable[[], Collection[str]]
    ) -> Forced | None:
        """Use up one queued fault that fits this request, oldest first; `keys` gives the API keys it carries."""
        with self._lock:
            for queued in self._queued:
                if queued.fits(profile, endpoint, applicable, keys):
                    queued.remaining -= 1
                    if queued.remaining == 0:
                        self._queued.remove(queued)
                    return queued.forced
            return None

    def __bool__(self) -> bool:
        """Whether any fault is queued (read without the lock: the usual answer, no, needs no wait)."""
        return bool(self._queued)

    def pending(self) -> list[QueuedFault]:
        with self._lock:
            return list(self._queued)

    def clear(self, profile: str | None = None) -> None:
        with self._lock:
            self._queued = [q for q in self._queued if profile is not None and q.profile != profile]

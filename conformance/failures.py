"""The kinds of deviation the kit finds. A failed check raises one: what was expected, what came back, and the
request that showed it, as Schemathesis' checks raise their named failures. Reports group failures by kind, JUnit
shows it as the failure's type, and the validation proxy names its violations with the same kinds.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx


class Failure(AssertionError):
    """A documented behaviour the server does not keep."""

    kind: ClassVar[str] = "deviation"
    title: ClassVar[str] = "the server deviates from the documentation"

    def __init__(
        self, message: str, *, expected: Any = None, got: Any = None, response: httpx.Response | None = None
    ) -> None:
        self.message, self.expected, self.got = message, expected, got
        self.request = describe(response) if response is not None else None
        super().__init__(self.text())

    @classmethod
    def unless(cls, condition: object, message: str, **details: Any) -> None:
        """Raise this kind of failure, with `message`, unless `condition` holds."""
        if not condition:
            raise cls(message, **details)

    def text(self) -> str:
        lines = [self.message]
        if self.expected is not None or self.got is not None:
            lines.append(f"expected {self.expected!r}, got {self.got!r}")
        if self.request and self.request not in self.message:
            lines.append(self.request)
        return "\n".join(lines)


class WrongStatus(Failure):
    kind = "status"
    title = "the answer's status code is not the documented one"


class WrongBody(Failure):
    kind = "body"
    title = "a field of the answer is not what the documentation says"


class WrongHeader(Failure):
    kind = "header"
    title = "a header of the answer is missing or not what the documentation says"


class WrongImage(Failure):
    kind = "image"
    title = "an image that does not decode, or of the wrong format, size or number"


class WrongUsage(Failure):
    kind = "usage"
    title = "token counts that do not add up or do not match the documented figures"


class WrongCharge(Failure):
    kind = "charge"
    title = "credits taken or kept other than the documented price says"


class WrongJob(Failure):
    kind = "job"
    title = "a job's status, progress or history other than documented"


class ContractViolation(Failure):
    kind = "contract"
    title = "the exchange breaks the profile's OpenAPI contract"


KINDS: dict[str, type[Failure]] = {
    kind.kind: kind
    for kind in (WrongStatus, WrongBody, WrongHeader, WrongImage, WrongUsage, WrongCharge, WrongJob, ContractViolation)
}


def expect_status(response: httpx.Response, *statuses: int) -> None:
    """Raise WrongStatus unless the answer's status is one of `statuses`."""
    if response.status_code not in statuses:
        expected = statuses[0] if len(statuses) == 1 else list(statuses)
        raise WrongStatus(describe(response), expected=expected, got=response.status_code)


def kinds_of(error: BaseException) -> list[str]:
    """The kinds of the failures in `error` (several, for a Hypothesis group), in order, once each; a bare
    AssertionError is a plain deviation."""
    found = [kinds_of(inner) for inner in error.exceptions] if isinstance(error, BaseExceptionGroup) else []
    kinds = [kind for group in found for kind in group] or [getattr(error, "kind", Failure.kind)]
    return list(dict.fromkeys(kinds))


def describe(response: httpx.Response) -> str:
    """The request and its answer, for a failure message that stands on its own."""
    request = response.request
    try:
        sent = excerpt(request.content)
    except httpx.RequestNotRead:  # a streamed body, such as a multipart upload, is not kept
        sent = f"({request.headers.get('content-type', 'streamed').split(';')[0]} body)"
    return f"{request.method} {request.url.path} {sent} -> {response.status_code} {excerpt(response.content)}"


def excerpt(content: bytes, limit: int = 300) -> str:
    """The first `limit` characters of a body. Only the bytes they can span are decoded: a check builds its message
    whether it fails or not, and an answer may hold megabytes of base64 images."""
    text = content[: 4 * limit + 4].decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"

"""pytest fixtures for testing your own client against the mock. Installing the package is enough: the plugin
is registered through the `pytest11` entry point.

    def test_my_client_survives_a_402(imagegen_mock):
        imagegen_mock.set_credits(0)
        client = MyClient(base_url=imagegen_mock.url("vydra"), api_key=imagegen_mock.api_key)
        with pytest.raises(OutOfCredits):
            client.generate("a fox")
        assert imagegen_mock.requests("vydra")[0]["body"] == {"prompt": "a fox"}

    @pytest.mark.imagegen_scenarios("vydra")
    def test_my_client_handles_every_documented_behaviour(imagegen_mock, imagegen_scenario):
        imagegen_mock.arm(imagegen_scenario)
        ...  # call your client as usual; imagegen_scenario.status and .answers say what the service does

The mock is served once per session on a free loopback port, and reset before every test.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .app import create_app
from .background import BackgroundServer
from .broken_connections import broken_connections
from .dialects.profiles import PROFILES
from .scenarios import Scenario, scenarios
from .settings import Settings

TIMEOUT_SECONDS = 0.05  # a forced 'timeout' holds a request this long in tests
MARKER = "imagegen_scenarios"


@dataclass(frozen=True)
class ReceivedImage:
    """An image the mock handed to a client."""

    profile: str
    model: str
    prompt: str
    width: int
    height: int
    format: str
    content: bytes

    def open(self) -> Any:
        from PIL import Image

        return Image.open(io.BytesIO(self.content))


class ImagegenMock:
    """A served imagegen-mock, as a test sees it: its URLs, a fresh API key, and its control API."""

    def __init__(self, base_url: str, api_key: str, admin_token: str = "") -> None:
        self.base_url = base_url
        self.api_key = api_key
        headers = {"X-Admin-Token": admin_token} if admin_token else {}
        # The mock is on loopback: no proxy the environment names (HTTP_PROXY) may stand in between.
        self.admin = httpx.Client(base_url=f"{base_url}/_mock", timeout=30, headers=headers, trust_env=False)

    def url(self, profile: str | None = None) -> str:
        """The base URL of a profile (its prefix), or the root, where every documented path also answers."""
        return f"{self.base_url}/{profile}" if profile else self.base_url

    def set_credits(self, credits: int, api_key: str | None = None) -> None:
        self._control("PUT", f"/accounts/{api_key or self.api_key}", json={"credits": credits})

    def credits(self, api_key: str | None = None) -> int | None:
        """The key's balance; None if the key has not been used yet."""
        response = self.admin.get(f"/accounts/{api_key or self.api_key}")
        return None if response.status_code == 404 else response.raise_for_status().json()["credits"]

    def fail_next(
        self, profile: str, fault: str, times: int = 1, path: str | None = None, key: str | None = None,
        **options: Any,
    ) -> None:  # fmt: skip
        """Force `fault` on the profile's next `times` requests that can show it (optionally on one path, or of one
        API key). The options change its answer: `retry_after` (seconds) with `retry_after_as` ("seconds",
        "http-date", "milliseconds"), `should_retry`, `status`, and `seconds` for the faults that hold a request."""
        asked = {"profile": profile, "fault": fault, "times": times, "path": path, "key": key, **options}
        self._control("POST", "/faults", json={name: value for name, value in asked.items() if value is not None})

    def delay(self, milliseconds: int, profile: str | None = None) -> None:
        """Add latency to every answer of the profile (of every profile, without one)."""
        self._control("PUT", "/latency", json={"milliseconds": milliseconds, "profile": profile})

    def advance_clock(self, seconds: float) -> None:
        """Move the mock's clock: jobs progress and finish, files expire, without sleeping."""
        self._control("POST", "/clock", json={"advance_seconds": seconds})

    def requests(self, profile: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """What clients sent, oldest first: method, path, query, headers (secrets redacted), body (parsed JSON,
        or form fields with files described), status and answer."""
        query = {k: v for k, v in {"profile": profile, "path": path}.items() if v}
        entries = self._control("GET", "/requests", params=query).json()["requests"]
        return [entry for entry in entries if entry["kind"] == "request"]

    def attempts(self, profile: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """The client's calls, oldest first, each with its attempts (status, fault, charged, waited_ms, asked_wait),
        its retries, and whether the client paid for it twice (duplicate_charge)."""
        query = {k: v for k, v in {"profile": profile, "path": path}.items() if v}
        return self._control("GET", "/attempts", params=query).json()["calls"]

    def assert_retried(
        self, path: str, retries: int, *, honoured_waits: bool = True, never_after: tuple[int, ...] = (402,)
    ) -> None:
        """Check the one call to `path`: retried exactly `retries` times, each retry at least the wait its previous
        answer asked for (Retry-After in seconds, retry-after-ms), none after a status in `never_after`, and not
        paid for twice."""
        [call] = self.attempts(path=path)
        tries = call["attempts"]
        assert call["retries"] == retries, f"{path}: {call['retries']} retries, expected {retries}"
        assert not call["duplicate_charge"], f"{path}: the client paid twice for one call"
        for earlier, later in itertools.pairwise(tries):
            assert earlier["status"] not in never_after, f"{path}: retried after a {earlier['status']}"
            asked = asked_seconds(earlier["asked_wait"])
            if honoured_waits and asked is not None:
                assert later["waited_ms"] >= asked * 1000, f"{path}: waited {later['waited_ms']} ms of {asked} s"

    def images(self, profile: str | None = None) -> list[ReceivedImage]:
        """The images the mock handed out, oldest first."""
        listed = self._control("GET", "/images", params={"profile": profile} if profile else {}).json()["images"]
        return [self._received(image) for image in reversed(listed)]

    def _received(self, image: dict[str, Any]) -> ReceivedImage:
        content = self._control("GET", f"/images/{image['id']}").content
        facts = (image[name] for name in ("profile", "model", "prompt", "width", "height", "format"))
        return ReceivedImage(*facts, content=content)

    def arm(self, scenario: Scenario, api_key: str | None = None) -> None:
        """Prepare a scenario of the catalogue: its balance, and its fault for the profile's next request that
        can show it."""
        if scenario.credits is not None:
            self.set_credits(scenario.credits, api_key)
        if scenario.fault:
            self.fail_next(scenario.profile, scenario.fault, **scenario.options)

    def reset(self) -> None:
        self._control("POST", "/reset")

    def close(self) -> None:
        self.admin.close()

    def _control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.admin.request(method, path, **kwargs).raise_for_status()


def asked_seconds(asked: dict[str, str] | None) -> float | None:
    """The wait in seconds an answer's retry-after-ms or Retry-After (in seconds) asked for; None for none, or a
    date, which only the client's clock can count down."""
    asked = asked or {}
    for name, scale in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            return float(asked[name]) / scale
        except (KeyError, ValueError):
            continue
    return None


@pytest.fixture(scope="session")
def imagegen_mock_settings() -> Settings:
    """The served mock's settings; override this fixture to change them (strict keys, a seed, ...)."""
    return Settings(timeout_seconds=TIMEOUT_SECONDS)


@pytest.fixture(scope="session")
def imagegen_mock_server(imagegen_mock_settings: Settings) -> Iterator[str]:
    """The base URL of the mock, served on a free loopback port for the whole session."""
    with BackgroundServer(create_app(imagegen_mock_settings)) as server:
        yield server.url


@pytest.fixture
def imagegen_mock(
    imagegen_mock_server: str, imagegen_mock_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[ImagegenMock]:
    """The session's mock, reset, with an API key of this test's own."""
    api_key = "test-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    mock = ImagegenMock(imagegen_mock_server, api_key, imagegen_mock_settings.admin_token)
    mock.reset()
    try:
        yield mock
    finally:
        mock.close()


def imagegen_scenarios(profile: str, broken_connections: bool = False) -> pytest.MarkDecorator:
    """Run the test once per documented scenario of `profile`, given as the `imagegen_scenario` argument; with
    `broken_connections`, once more per way its connection can break (a scenario whose `status` is None)."""
    return getattr(pytest.mark, MARKER)(profile, broken_connections=broken_connections)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(profile, broken_connections=False): run the test for each documented scenario of the profile "
        "(imagegen_scenario), and for each broken connection too if asked",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    (profile,) = marker.args
    if profile not in PROFILES:
        raise pytest.UsageError(f"{MARKER}: no profile {profile!r}; known: {', '.join(PROFILES)}")
    listed = scenarios(profile) + (broken_connections(profile) if marker.kwargs.get("broken_connections") else [])
    metafunc.parametrize("imagegen_scenario", listed, ids=[scenario.name for scenario in listed])

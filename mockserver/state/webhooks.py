"""Webhooks: signed POSTs to the URL an account registered, retried with backoff.

A delivery runs in the background and never holds up a request. The mock only calls loopback hosts,
and hosts named in --webhook-hosts. The signature follows GeminiGen's scheme: the body's MD5 digest,
signed with RSA (PKCS#1 v1.5, SHA-256), hex in the `x-signature` header; the public key is served by
the admin API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..settings import Settings
from ..wire.hosts import is_loopback
from .clock import Clock, iso
from .journal import Entry, Journal, describe_body
from .ledger import account_id

DELIVERY_TIMEOUT_SECONDS = 10.0
CONTROL_SEGMENT = "_mock"  # of the control API's paths


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]
    profile: str
    api_key: str


class WebhookError(ValueError):
    """A webhook URL the mock will not call; the message says why."""


def without_credentials(url: str) -> str:
    """The URL with any user:password in it replaced, for the journal."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="[redacted]@" + parts.netloc.rpartition("@")[2]).geturl()


class Signer:
    """The mock's key pair, made when first needed and kept for the life of the server; with `shared_as`, the one
    every server sharing its state signs with (`shared_as` is given a new key's PEM and returns the one to use)."""

    def __init__(self, shared_as: Callable[[bytes], bytes] | None = None) -> None:
        self._shared_as = shared_as

    @cached_property
    def _key(self) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if self._shared_as is None:
            return key
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        kept = serialization.load_pem_private_key(self._shared_as(pem), password=None)
        assert isinstance(kept, rsa.RSAPrivateKey)
        return kept

    def sign(self, body: bytes) -> str:
        digest = hashlib.md5(body).digest()
        return self._key.sign(digest, padding.PKCS1v15(), hashes.SHA256()).hex()

    def public_key_pem(self) -> str:
        public = self._key.public_key()
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Webhooks:
    def __init__(
        self, settings: Settings, clock: Clock, journal: Journal, urls: MutableMapping[str, str] | None = None,
        signer: Signer | None = None,
    ) -> None:  # fmt: skip
        """`urls` and `signer`: the registrations and the key pair, where they are shared with other servers."""
        self._allowed_hosts = {h.strip().lower() for h in settings.webhook_hosts.split(",") if h.strip()}
        self._retries = settings.webhook_retries
        self._backoff = settings.webhook_backoff_seconds
        self._body_limit = settings.journal_body_kib * 1024
        self._clock = clock
        self._journal = journal
        self._urls = {} if urls is None else urls
        self._deliveries: set[asyncio.Task] = set()
        self.signer = signer or Signer()

    def register(self, api_key: str, url: str | None) -> None:
        """Send this account's events to `url` (None: send them nowhere)."""
        if url is None:
            self._urls.pop(api_key, None)
            return
        self.check(url)
        self._urls[api_key] = url

    def url_of(self, api_key: str) -> str | None:
        return self._urls.get(api_key)

    def check(self, url: str) -> None:
        """Refuse a URL the mock could not or may not call, so that no delivery fails for its URL."""
        try:
            parsed = httpx.URL(url)
            host, port = parsed.host, parsed.port
        except (httpx.InvalidURL, ValueError, TypeError):
            raise WebhookError("a webhook URL must be an absolute http or https URL") from None
        if parsed.scheme not in ("http", "https") or not host or not 0 < (port or 80) < 65536:
            raise WebhookError("a webhook URL must be an absolute http or https URL")
        if not is_loopback(host) and host.lower() not in self._allowed_hosts:
            raise WebhookError(
                f"the mock only calls loopback hosts, and {host} is not one; name it in --webhook-hosts to allow it"
            )
        if CONTROL_SEGMENT in parsed.path.split("/"):  # decoded and normalised: %5Fmock and ../ reach it too
            raise WebhookError(
                "a webhook URL may not be an imagegen-mock's control API (/_mock/): events would drive it"
            )

    def send(self, api_key: str, profile: str, event: Callable[[], dict[str, Any]]) -> None:
        """Deliver the event to the account's URL, if it registered one, in the background.

        `event` makes the event only when there is somewhere to send it.
        """
        url = self._urls.get(api_key)
        if url is None:
            return
        body = json.dumps(event(), ensure_ascii=False).encode("utf-8", errors="backslashreplace")
        headers = {"Content-Type": "application/json", "x-signature": self.signer.sign(body)}
        task = asyncio.get_running_loop().create_task(self._deliver(Delivery(url, body, headers, profile, api_key)))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    def clear(self) -> None:
        """Forget every registration and stop deliveries under way."""
        self._urls.clear()
        self.stop()

    def stop(self) -> None:
        """Stop the deliveries under way (the registrations stay, for the other servers sharing them)."""
        for delivery in list(self._deliveries):
            delivery.cancel()

    async def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            started = time.perf_counter()
            try:
                status, reply = await self._post(delivery)
            except Exception as error:  # whatever goes wrong is journalled and retried, never lost
                status, reply = 0, f"{type(error).__name__}: {error}"
            self._record(delivery, status, reply, started)
            if 200 <= status < 300:
                return

    async def _post(self, delivery: Delivery) -> tuple[int, Any]:
        # trust_env=False: no proxy from the environment may carry a delivery off this machine
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_SECONDS, trust_env=False) as client:
            answer = await client.post(delivery.url, content=delivery.body, headers=delivery.headers)
        content_type = answer.headers.get("content-type", "")
        return answer.status_code, describe_body(content_type, answer.content, len(answer.content), self._body_limit)

    def _record(self, delivery: Delivery, status: int, reply: Any, started: float) -> None:
        self._journal.add(
            Entry(
                id=self._journal.next_id(),
                time=iso(self._clock.now()),
                profile=delivery.profile,
                method="POST",
                path=without_credentials(delivery.url),
                endpoint="webhook",
                query={},
                headers={k.lower(): v for k, v in delivery.headers.items()},
                account=account_id(delivery.api_key),
                body=describe_body("application/json", delivery.body, len(delivery.body), self._body_limit),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                response=reply,
                kind="webhook",
            )
        )

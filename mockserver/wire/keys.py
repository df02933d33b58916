"""Where clients put their API keys, so that the dialects can read them and the journal, recordings and
the kit's reports can hide them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"  # what a secret is shown as
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-goog-api-key", "api-key", "x-auth-token"}
)
SECRET_QUERY = frozenset({"key", "api_key", "apikey", "api-key", "access_token", "token"})


def is_secret_header(name: str) -> bool:
    return name.lower() in SECRET_HEADERS


def is_secret_query(name: str) -> bool:
    return name.lower() in SECRET_QUERY


def hidden(value: Any, secrets: frozenset[str]) -> Any:
    """`value` with every string equal to a secret (bare or after a scheme, as in "Bearer <key>") redacted,
    however deep in it."""
    if isinstance(value, str):
        return REDACTED if value in secrets or value.partition(" ")[2] in secrets else value
    if isinstance(value, dict):
        return {name: hidden(item, secrets) for name, item in value.items()}
    if isinstance(value, list):
        return [hidden(item, secrets) for item in value]
    return value


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other form."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def key_at(headers: Mapping[str, str], query: Mapping[str, str], kind: str, name: str) -> str | None:
    """The key in one place: a header or query parameter of that name, or a Bearer token ("bearer")."""
    if kind == "bearer":
        return bearer_token(headers.get("authorization"))
    return (query if kind == "query" else headers).get(name)


def api_key_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The API key a request carries, in whichever of the usual places it is (names lower-case)."""
    return (
        bearer_token(headers.get("authorization"))
        or headers.get("x-api-key")
        or headers.get("x-goog-api-key")
        or next((value for name, value in query.items() if is_secret_query(name) and value), None)
    )

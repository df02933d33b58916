"""Exchanges recorded from a real service (by `imagegen-mock proxy --record DIR`), and the mock replaying
them (`imagegen-mock serve --replay DIR`): capture real behaviour once, test against it offline.

One JSON file per exchange. Secrets are redacted before anything is written, so a recording is safe
to commit. A request matches a recording when its method, path, non-secret query and body are the same
(JSON bodies compared as data, so key order and spacing do not matter).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Scope

from ..wire.keys import REDACTED, hidden, is_secret_header, is_secret_query

# Headers that describe one transfer, not the answer: the replay computes its own.
HOP_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection", "date", "server"})


@dataclass(frozen=True)
class Recording:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    content_type: str
    status: int
    headers: dict[str, str]
    answer: bytes

    @property
    def key(self) -> tuple[str, str, str, str]:
        return request_key(self.method, self.path, self.query, self.body, self.content_type)


def request_key(method: str, path: str, query: dict[str, str], body: bytes, content_type: str) -> tuple[str, ...]:
    kept = sorted((k, v) for k, v in query.items() if not is_secret_query(k))
    return method.upper(), path, json.dumps(kept), body_digest(body, content_type)


def body_digest(body: bytes, content_type: str) -> str:
    if "json" in content_type:
        try:
            return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
        except ValueError:
            pass
    return hashlib.sha256(body).hexdigest()


def encoded(content: bytes, content_type: str) -> Any:
    """A body as a recording holds it: parsed JSON, text, or base64 for anything else."""
    if "json" in content_type:
        try:
            return {"json": json.loads(content)}
        except ValueError:
            pass
    if content_type.startswith("text/"):
        return {"text": content.decode("utf-8", errors="replace")}
    return {"base64": base64.b64encode(content).decode()}


def decoded(body: dict[str, Any]) -> bytes:
    if "json" in body:
        return json.dumps(body["json"], ensure_ascii=False, separators=(",", ":")).encode()
    if "text" in body:
        return body["text"].encode()
    return base64.b64decode(body.get("base64", ""))


def redacted_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): REDACTED if is_secret_header(k) else v for k, v in headers.items()}


def save(folder: Path, recording: Recording, keys: frozenset[str] = frozenset()) -> Path:
    """Write the recording, every secret hidden: under secret names, and any value equal to one of `keys` (the
    request's API keys) wherever it is."""
    folder.mkdir(parents=True, exist_ok=True)
    number = len(list(folder.glob("*.json"))) + 1
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{recording.method} {recording.path}").strip("-")[:80]
    path = folder / f"{number:05d}-{name}.json"
    document = {
        "request": {
            "method": recording.method,
            "path": recording.path,
            "query": {k: REDACTED if is_secret_query(k) else v for k, v in recording.query.items()},
            "content_type": recording.content_type,
            "body": encoded(recording.body, recording.content_type),
        },
        "response": {
            "status": recording.status,
            "headers": {k: v for k, v in redacted_headers(recording.headers).items() if k not in HOP_HEADERS},
            "body": encoded(recording.answer, recording.headers.get("content-type", "")),
        },
    }
    path.write_text(json.dumps(hidden(document, keys), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def load(folder: Path) -> dict[tuple[str, ...], Recording]:
    """Every recording in the folder, by what a request must match; a later one wins."""
    found = {}
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        request, response = document["request"], document["response"]
        recording = Recording(
            method=request["method"],
            path=request["path"],
            query=request["query"],
            body=decoded(request["body"]),
            content_type=request["content_type"],
            status=response["status"],
            headers=response["headers"],
            answer=decoded(response["body"]),
        )
        found[recording.key] = recording
    return found


class Recordings:
    """The recordings of a folder, by what a request must match."""

    def __init__(self, folder: Path) -> None:
        self._by_key = load(folder)

    def answer(self, scope: Scope, body: bytes) -> Response | None:
        """The recorded answer to the request, if one matches it."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        key = request_key(scope["method"], scope["path"], query, body, headers.get("content-type", ""))
        recording = self._by_key.get(key)
        if recording is None:
            return None
        answer = Response(recording.answer, recording.status, headers=recording.headers)
        answer.headers["x-mock-replayed"] = "true"
        return answer

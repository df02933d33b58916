"""General-purpose mock servers on an equivalent endpoint, for `python -m benchmarks --peers`: Prism (from
an OpenAPI document with a static example) and WireMock (a stub, its request journal off), installed from
the npm registry into a scratch folder (WireMock's npm package carries its jar; Java runs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .servers import Server, free_port, serving

SCRATCH = Path(__file__).resolve().parent / ".peers"
PACKAGES = ["@stoplight/prism-cli@5", "wiremock@3"]
PATH = "/v1/images/generations"
ANSWER = {"created": 1700000000, "data": [{"url": "http://127.0.0.1/x.png", "revised_prompt": "a cat"}]}
REQUEST = {
    "type": "object",
    "required": ["prompt"],
    "properties": {"prompt": {"type": "string"}, "n": {"type": "integer", "minimum": 1}},
}
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "one image operation", "version": "1"},
    "paths": {
        PATH: {
            "post": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"example": ANSWER}}}},
            }
        }
    },
}
STUB = {
    "request": {"method": "POST", "url": PATH},
    "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "jsonBody": ANSWER},
}


def install() -> None:
    if (SCRATCH / "node_modules" / ".bin" / "prism").exists() and jar():
        return
    if shutil.which("npm") is None or shutil.which("java") is None:
        raise SystemExit("--peers needs npm and java on the machine")
    SCRATCH.mkdir(exist_ok=True)
    (SCRATCH / "package.json").write_text(json.dumps({"name": "imagegen-mock-peers", "private": True}))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", *PACKAGES], cwd=SCRATCH, check=True)


def jar() -> Path | None:
    return next(iter(sorted((SCRATCH / "node_modules" / "wiremock").glob("**/wiremock-standalone-*.jar"))), None)


@contextmanager
def prism() -> Iterator[Server]:
    document = SCRATCH / "openapi.json"
    document.write_text(json.dumps(OPENAPI))
    port = free_port()
    command = [str(SCRATCH / "node_modules" / ".bin" / "prism"), "mock", str(document), "-h", "127.0.0.1",
               "-p", str(port), "-v", "silent"]  # fmt: skip
    with serving("Prism 5 (-v silent)", command, PATH, port) as server:
        yield server


@contextmanager
def wiremock() -> Iterator[Server]:
    mappings = SCRATCH / "wm" / "mappings"
    mappings.mkdir(parents=True, exist_ok=True)
    (mappings / "generate.json").write_text(json.dumps(STUB))
    port = free_port()
    command = ["java", "-jar", str(jar()), "--port", str(port), "--bind-address", "127.0.0.1",
               "--root-dir", str(SCRATCH / "wm"), "--disable-banner", "--no-request-journal"]  # fmt: skip
    with serving("WireMock 3 (journal off)", command, "/__admin/mappings", port) as server:
        yield server

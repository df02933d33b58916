"""Hostile and broken input, on every profile: always the service's own 4xx, never a 500, never a hang."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

KEY = "hostile-key"
BEARER = {"Authorization": f"Bearer {KEY}"}
GOOG = {"x-goog-api-key": KEY}
JSON = {"Content-Type": "application/json"}


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 60, 90)).save(out, "PNG")
    return out.getvalue()


def bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming billions of pixels, with hardly any data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


VYDRA = "/vydra/api/v1/models/gemini/generate"
GEMINIGEN = "/geminigen/uapi/v1/generate_image"
LLM = "/llmgateway/v1/images/generations"
EDITS = "/llmgateway/v1/images/edits"
GOOGLE = "/google/v1beta/models/gemini-2.5-flash-image:generateContent"
FORM = {"prompt": "a fox", "model": "imagen-4"}


def gemini_image(data: str, mime: str = "image/png") -> dict:
    return {"contents": [{"parts": [{"text": "edit"}, {"inlineData": {"mimeType": mime, "data": data}}]}]}


# (what, request) — every one must get a 4xx in the service's own format.
HOSTILE = {
    "vydra truncated JSON": dict(method="POST", url=VYDRA, headers={**BEARER, **JSON}, content=b'{"prompt": "a fo'),
    "vydra JSON as text/plain": dict(
        method="POST", url=VYDRA, headers={**BEARER, "Content-Type": "text/plain"}, content=b'{"prompt": "x"}'
    ),
    "vydra a JSON array": dict(method="POST", url=VYDRA, headers={**BEARER, **JSON}, content=b"[1, 2, 3]"),
    "vydra nested a thousand deep": dict(
        method="POST", url=VYDRA, headers={**BEARER, **JSON}, content=b"[" * 100_000 + b"]" * 100_000
    ),
    "vydra a huge prompt number": dict(
        method="POST", url=VYDRA, headers={**BEARER, **JSON}, content=b'{"prompt": 1e999999}'
    ),
    "vydra a bad UTF-8 body": dict(
        method="POST", url=VYDRA, headers={**BEARER, **JSON}, content=b'{"prompt": "\xff\xfe"}'
    ),
    "geminigen broken multipart": dict(
        method="POST",
        url=GEMINIGEN,
        headers={"x-api-key": KEY, "Content-Type": "multipart/form-data; boundary=xyz"},
        content=b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nunterminated',
    ),
    "geminigen multipart without a boundary": dict(
        method="POST",
        url=GEMINIGEN,
        headers={"x-api-key": KEY, "Content-Type": "multipart/form-data"},
        content=b"whatever",
    ),
    "geminigen a text file as reference": dict(
        method="POST",
        url=GEMINIGEN,
        headers={"x-api-key": KEY},
        data=FORM,
        files=[("files", ("a.png", b"not an image", "image/png"))],
    ),
    "geminigen a truncated image": dict(
        method="POST",
        url=GEMINIGEN,
        headers={"x-api-key": KEY},
        data=FORM,
        files=[("files", ("a.png", png()[:70], "image/png"))],
    ),
    "geminigen a decompression bomb": dict(
        method="POST",
        url=GEMINIGEN,
        headers={"x-api-key": KEY},
        data=FORM,
        files=[("files", ("a.png", bomb(), "image/png"))],
    ),
    "geminigen a page of a billion": dict(
        method="GET",
        url="/geminigen/uapi/v1/histories",
        headers={"x-api-key": KEY},
        params={"items_per_page": "1000000000", "page": "-3"},
    ),
    "llmgateway n of a billion": dict(method="POST", url=LLM, headers=BEARER, json={"prompt": "x", "n": 10**9}),
    "llmgateway a size of a million pixels a side": dict(
        method="POST", url=LLM, headers=BEARER, json={"prompt": "x", "size": "0x1000000"}
    ),
    "llmgateway invalid base64": dict(
        method="POST",
        url=EDITS,
        headers=BEARER,
        json={"prompt": "x", "images": [{"image_url": "data:image/png;base64,@@@@"}]},
    ),
    "llmgateway a decompression bomb": dict(
        method="POST",
        url=EDITS,
        headers=BEARER,
        json={"prompt": "x", "images": [{"image_url": "data:image/png;base64," + b64(bomb())}]},
    ),
    "llmgateway a non-image upload": dict(
        method="POST",
        url=EDITS,
        headers=BEARER,
        data={"prompt": "x"},
        files=[("image", ("a.png", b"%PDF-1.4 not an image", "image/png"))],
    ),
    "llmgateway a truncated image": dict(
        method="POST",
        url=EDITS,
        headers=BEARER,
        json={"prompt": "x", "images": [{"image_url": "data:image/png;base64," + b64(png()[:80])}]},
    ),
    "google invalid base64": dict(method="POST", url=GOOGLE, headers=GOOG, json=gemini_image("!!!not base64!!!")),
    "google a decompression bomb": dict(method="POST", url=GOOGLE, headers=GOOG, json=gemini_image(b64(bomb()))),
    "google a text file as an image": dict(
        method="POST", url=GOOGLE, headers=GOOG, json=gemini_image(b64(b"plain text"))
    ),
    "google a thousand images": dict(
        method="POST",
        url="/crazyrouter/v1beta/models/gemini-2.5-flash-image:generateContent",
        headers=GOOG,
        json={
            "contents": [{"parts": [{"text": "x"}]}],
            "generationConfig": {"imageGenerationConfig": {"numberOfImages": 1000}},
        },
    ),
    "google a negative page size": dict(
        method="GET",
        url="/google/v1beta/models",
        headers=GOOG,
        params={"pageSize": "-1", "pageToken": "../../etc/passwd"},
    ),
    "a file path that climbs": dict(method="GET", url="/files/../../etc/passwd"),
    "a file path that climbs, encoded": dict(method="GET", url="/files/%2e%2e/%2e%2e/etc/passwd"),
    "a file path with a NUL": dict(method="GET", url="/files/vydra/%00.png"),
}


@pytest.mark.parametrize("what", HOSTILE)
def test_hostile_input_gets_a_clear_4xx(client, what):
    response = client.request(**HOSTILE[what], timeout=30)

    assert 400 <= response.status_code < 500, response.text[:300]
    body = response.json()
    assert isinstance(body, dict) and body, response.text[:300]
    assert "Traceback" not in response.text


NESTED_IN = {  # where each profile reads a value a client may nest, and how it authenticates
    "vydra": (VYDRA, BEARER, lambda nested: {"prompt": "x", "aspectRatio": nested}),
    "llmgateway": (LLM, BEARER, lambda nested: {"prompt": "x", "size": nested}),
    "google": (GOOGLE, GOOG, lambda nested: {"contents": nested}),
    "gemini": ("/v1beta/models/gemini-2.5-flash-image:generateContent", GOOG, lambda nested: {"contents": nested}),
}


@pytest.mark.parametrize("depth", [250, 970, 1500])
@pytest.mark.parametrize("profile", NESTED_IN)
def test_json_nested_at_any_depth_gets_the_services_400_and_the_journal_still_reads(client, profile, depth):
    url, headers, body = NESTED_IN[profile]
    nested = "[" * depth + "]" * depth
    content = json.dumps(body("NESTED")).replace('"NESTED"', nested).encode()

    response = client.post(url, headers={**headers, **JSON}, content=content)

    assert response.status_code == 400, response.text[:300]
    assert client.get("/_mock/requests").status_code == 200


@pytest.mark.parametrize("prompt", ["\x00\x01\x02 control", "🦊" * 1000, "مرحبا", "\u202etext reversed", "a" * 50_000])
def test_any_prompt_is_drawn(client, prompt):
    response = client.post(VYDRA, headers=BEARER, json={"prompt": prompt})

    assert response.status_code == 200
    assert client.get(response.json()["imageUrl"]).headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("url", "headers", "status", "envelope"),
    [
        (VYDRA, BEARER, 413, {"code": "PAYLOAD_TOO_LARGE"}),
        (GEMINIGEN, {"x-api-key": KEY}, 413, {"detail": {"error_code": "PAYLOAD_TOO_LARGE"}}),
        (LLM, BEARER, 413, {"error": {"type": "invalid_request_error", "code": "request_too_large"}}),
        (GOOGLE, GOOG, 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}),  # as Google answers it
        ("/_mock/faults", {}, 413, {}),
    ],
)
def test_a_body_over_the_limit_is_refused_in_the_services_format(serve, url, headers, status, envelope):
    from mockserver.scenarios import contains

    client = serve(max_request_mib=1)

    response = client.post(url, headers={**headers, **JSON}, content=b'{"prompt": "' + b"x" * 1_200_000 + b'"}')

    assert response.status_code == status
    assert contains(response.json(), envelope), response.text


def test_a_body_over_the_limit_without_a_length_is_cut_off_too(serve):
    client = serve(max_request_mib=1)

    def chunks():
        for _ in range(300):
            yield b"x" * 10_000

    response = client.post(VYDRA, headers={**BEARER, **JSON}, content=chunks())

    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_the_mock_still_answers_after_all_of_it(client):
    for what in HOSTILE:
        client.request(**HOSTILE[what], timeout=30)

    assert client.post(VYDRA, headers=BEARER, json={"prompt": "still here"}).status_code == 200
    assert client.get("/_mock/health").json()["status"] == "ok"


def test_the_mock_makes_no_outbound_request(client, monkeypatch):
    import socket

    def refuse(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"the mock tried to reach {address}")
        return real_connect(self, address)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    edit = {"prompt": "x", "images": [{"image_url": "https://example.com/a.png"}], "model": "gemini-2.5-flash-image"}

    assert client.post(EDITS, headers=BEARER, json=edit).status_code == 200
    assert (
        client.post(
            GOOGLE, headers=GOOG, json={"contents": [{"parts": [{"fileData": {"fileUri": "https://x.y/z"}}]}]}
        ).status_code
        == 400
    )
    webhook = client.put(f"/_mock/accounts/{KEY}", json={"webhook_url": "https://example.com/hook"})
    assert webhook.status_code == 400


def vydra_ask(prompt: str) -> dict:
    return dict(url=VYDRA, headers=BEARER, json={"prompt": prompt})


def vydra_refused(response) -> bool:
    body = response.json()
    return (response.status_code, body["code"], body["details"]["maxLength"]) == (400, "INVALID_INPUT", 131_072)


def geminigen_ask(prompt: str) -> dict:
    return dict(url=GEMINIGEN, headers={"x-api-key": KEY}, data={**FORM, "prompt": prompt})


def geminigen_refused(response) -> bool:
    return response.status_code == 422 and "at most 131072 characters" in response.json()["detail"]["message"]


def llmgateway_ask(prompt: str) -> dict:
    return dict(url=LLM, headers=BEARER, json={"prompt": prompt, "model": "gemini-2.5-flash-image"})


def llmgateway_refused(response) -> bool:
    error = response.json()["error"]
    return (response.status_code, error["type"]) == (400, "invalid_request_error") and "allowed (32768)" in error[
        "message"
    ]


def google_ask(prompt: str) -> dict:
    return dict(url=GOOGLE, headers=GOOG, json={"contents": [{"parts": [{"text": prompt}]}]})


def google_refused(response) -> bool:
    error = response.json()["error"]
    return (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT") and "allowed (32768)" in error[
        "message"
    ]


# The longest prompt each service takes (Google's 32,768 tokens, about four characters each), how to ask with a
# prompt, and whether an answer is its refusal of one longer.
LONGEST = {
    "vydra": (131_072, vydra_ask, vydra_refused),
    "geminigen": (131_072, geminigen_ask, geminigen_refused),
    "llmgateway": (4 * 32_768, llmgateway_ask, llmgateway_refused),
    "google": (4 * 32_768, google_ask, google_refused),
}


@pytest.mark.parametrize("profile", LONGEST)
def test_a_prompt_beyond_the_services_limit_gets_its_400_and_costs_nothing(client, profile):
    longest, request, refused = LONGEST[profile]

    at_the_limit = client.post(**request("a" * longest))
    balance = client.get(f"/_mock/accounts/{KEY}").json()["credits"]
    over = client.post(**request("a" * (longest + 1)))

    assert at_the_limit.status_code == 200, at_the_limit.text[:300]
    assert refused(over), over.text[:300]
    assert client.get(f"/_mock/accounts/{KEY}").json()["credits"] == balance


BOUNDARY = "hostile"


def multipart(*parts: str) -> bytes:
    return "".join(f"--{BOUNDARY}\r\n{part}\r\n" for part in parts).encode() + f"--{BOUNDARY}--\r\n".encode()


HOSTILE_FORMS = {  # what once froze every client for 10-47 s, or went missing from the journal
    "100,000 empty fields": multipart(*['Content-Disposition: form-data; name="f"\r\n'] * 100_000),
    "20,000 encoded words": multipart(f'Content-Disposition: form-data; name="{"=?utf-8?q?a?= " * 20_000}"\r\n\r\nx'),
    "20,000 parameters": multipart(f'Content-Disposition: form-data; name="a"{"; x=" * 20_000}\r\n\r\nx'),
    "20,000 parentheses": multipart(f'Content-Disposition: form-data; name="a" {"(" * 20_000}\r\n\r\nx'),
    "a field of 2 MiB": multipart(f'Content-Disposition: form-data; name="prompt"\r\n\r\n{"a" * 2**21}'),
}


@pytest.mark.parametrize("form", HOSTILE_FORMS)
@pytest.mark.parametrize("url", [GEMINIGEN, EDITS])
def test_a_hostile_form_never_holds_up_other_clients_and_is_journalled_as_refused(server, client, form, url):
    """The bound is measured, not assumed: 50 times the slowest of ten answers before, and at least a second
    (the freeze this guards against held every client for 10-47 s)."""

    def health() -> float:
        started = time.perf_counter()
        httpx.get(f"{server.url}/_mock/health", timeout=120).raise_for_status()
        return time.perf_counter() - started

    bound = max(1.0, 50 * max(health() for _ in range(10)))
    headers = {"x-api-key": KEY, **BEARER, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with ThreadPoolExecutor(1) as pool:
        hostile = pool.submit(client.post, url, headers=headers, content=HOSTILE_FORMS[form], timeout=120)
        waits = [health() for _ in range(20)]
        answer = hostile.result()

    assert max(waits) < bound, f"a health check waited {max(waits):.2f} s (bound {bound:.2f} s)"
    assert 400 <= answer.status_code < 500, answer.text[:300]
    (entry,) = client.get("/_mock/requests", params={"limit": 1}).json()["requests"]
    assert (entry["path"], entry["status"]) == (url, answer.status_code)
    assert entry["body"]["refused"], entry["body"]


def test_a_key_longer_than_any_services_opens_no_account(client):
    key = "k" * 1_000_000
    answer = client.post(VYDRA, headers={"Authorization": f"Bearer {key}"}, json={"prompt": "a fox"})
    given = client.put(f"/_mock/accounts/{'k' * 513}", json={"credits": 5})

    assert (answer.status_code, answer.json()["code"]) == (401, "KEY_NOT_FOUND")
    assert client.get("/_mock/accounts").json()["accounts"] == []
    assert given.status_code == 400

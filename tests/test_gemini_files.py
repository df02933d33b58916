"""The Gemini API's Files API: uploads as the SDK makes them, and fileData naming an uploaded image."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import types
from PIL import Image

from mockserver import create_app
from mockserver.background import BackgroundServer
from mockserver.settings import Settings
from mockserver.state.uploads import Session, Uploads

KEY = "files-key"


@pytest.fixture(scope="module")
def mock_url(test_state) -> Iterator[str]:
    settings = Settings(strict_keys=True, accounts={KEY: 10_000, "other": 10}, state=test_state(1))
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


def picture(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


def test_an_image_uploaded_with_the_sdk_is_an_edit_s_input(mock_url):
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=f"{mock_url}/google"))
    uploaded = client.files.upload(file=io.BytesIO(picture()), config={"mime_type": "image/png", "display_name": "cat"})

    assert uploaded.name.startswith("files/") and uploaded.state == "ACTIVE" and uploaded.size_bytes > 0
    assert client.files.get(name=uploaded.name).display_name == "cat"
    assert uploaded.name in [f.name for f in client.files.list()]
    response = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents=[types.Part.from_uri(file_uri=uploaded.uri, mime_type="image/png"), "add a hat"],
    )
    image = next(p.inline_data for p in response.candidates[0].content.parts if p.inline_data)
    assert Image.open(io.BytesIO(image.data)).size == (1248, 832)  # the input's 3:2, as an edit keeps its shape
    assert response.usage_metadata.prompt_tokens_details[1].token_count == 258  # the image counts as one

    client.files.delete(name=uploaded.name)
    with pytest.raises(genai.errors.ClientError) as gone:
        client.files.get(name=uploaded.name)
    assert gone.value.code == 403


def start(http: httpx.Client, size: int, key: str = KEY) -> str:
    started = http.post("/google/upload/v1beta/files", headers={
        "x-goog-api-key": key, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(size), "X-Goog-Upload-Header-Content-Type": "image/png",
    }, json={"file": {"displayName": "chunks"}})  # fmt: skip
    assert started.status_code == 200 and started.headers["x-goog-upload-status"] == "active"
    return started.headers["x-goog-upload-url"]


def chunk(http: httpx.Client, url: str, content: bytes, offset: int, command: str) -> httpx.Response:
    return http.post(url, content=content, headers={"X-Goog-Upload-Command": command,
                                                     "X-Goog-Upload-Offset": str(offset)})  # fmt: skip


def test_a_resumable_upload_in_chunks_keeps_every_byte_and_checks_offsets(mock_url):
    content = picture()
    with httpx.Client(base_url=mock_url) as http:
        url = start(http, len(content))
        first = chunk(http, url, content[:100], 0, "upload")
        wrong = chunk(http, url, content[100:], 50, "upload, finalize")
        last = chunk(http, url, content[100:], 100, "upload, finalize")

        assert first.headers["x-goog-upload-status"] == "active"
        assert wrong.status_code == 400 and "must be 100" in wrong.json()["error"]["message"]
        assert last.headers["x-goog-upload-status"] == "final"
        file = last.json()["file"]
        assert file["sizeBytes"] == str(len(content)) and file["displayName"] == "chunks"
        assert chunk(http, url, b"", len(content), "finalize").status_code == 404  # the session is over


def test_a_file_is_its_uploader_s_alone(mock_url):
    content = picture()
    with httpx.Client(base_url=mock_url) as http:
        file = chunk(http, start(http, len(content)), content, 0, "upload, finalize").json()["file"]
        mine = http.get(f"/google/v1beta/{file['name']}", headers={"x-goog-api-key": KEY})
        theirs = http.get(f"/google/v1beta/{file['name']}", headers={"x-goog-api-key": "other"})
        generate = "/google/v1beta/models/gemini-2.5-flash-image:generateContent"
        named = {"contents": [{"parts": [{"fileData": {"fileUri": file["uri"], "mimeType": "image/png"}},
                                         {"text": "a hat"}]}]}  # fmt: skip
        borrowed = http.post(generate, headers={"x-goog-api-key": "other"}, json=named)
        elsewhere = http.post(generate, headers={"x-goog-api-key": KEY}, json={"contents": [{"parts": [
            {"fileData": {"fileUri": "https://example.com/cat.png", "mimeType": "image/png"}}]}]})  # fmt: skip

    assert mine.status_code == 200 and mine.json()["uri"] == file["uri"]
    assert theirs.status_code == borrowed.status_code == 403
    assert theirs.json()["error"]["message"] == (
        f"You do not have permission to access the File {file['name'].removeprefix('files/')} or it may not exist."
    )
    assert elsewhere.status_code == 400 and "never fetches" in elsewhere.json()["error"]["message"]


def test_an_upload_must_be_resumable_and_announce_its_size(mock_url):
    with httpx.Client(base_url=mock_url, headers={"x-goog-api-key": KEY}) as http:
        plain = http.post("/google/upload/v1beta/files", content=picture())
        sizeless = http.post("/google/upload/v1beta/files", headers={"X-Goog-Upload-Protocol": "resumable",
                                                                      "X-Goog-Upload-Command": "start"})  # fmt: skip
        keyless = http.post("/google/upload/v1beta/files", headers={"x-goog-api-key": ""})

    assert plain.status_code == sizeless.status_code == 400
    assert keyless.status_code == 403


def test_a_chunk_goes_only_where_the_bytes_received_end():
    uploads = Uploads(max_count=10, max_bytes=1000)
    uploads.begin("started", Session(KEY, {}, size=10))

    assert uploads.append("started", 0, b"12345") and not uploads.append("started", 0, b"12345")
    assert not uploads.append("never started", 0, b"1")
    assert uploads.session("started").received == 5
    assert uploads.finish("started") == b"12345" and uploads.session("started") is None

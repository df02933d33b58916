"""The Gemini API's Files API, so that a generation can name an image uploaded to the mock (`fileData.fileUri`):
`POST /upload/v1beta/files` as the SDKs upload (resumable: a start, then chunks, the last one finalizing), and
`GET /v1beta/files`, `GET` and `DELETE /v1beta/files/{file}`. Uploads are free, each key's own, and last 48
hours, as Google's do. Sources: python-genai files.py (`Files.upload`, `_create`) and _api_client.py
(`upload_file`: X-Goog-Upload-Command, -Offset, the x-goog-upload-status it waits for); Google's Files API
reference (the File resource).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ..pipeline.endpoint import Call, Reject
from ..state.uploads import Session, UploadedFile
from ..wire.jsonio import JSONResponse, parse_json
from .gemini_api import authenticate, camel, google_error, invalid, page_size, page_start, page_token

LIFETIME = 48 * 3600  # seconds an uploaded file lasts
CHUNK_GRANULARITY = 8 * 1024 * 1024  # what Google's upload service asks chunks to be multiples of
LIST_PAGE, LIST_MAX = 10, 100
FILE_ID = re.compile(r"[a-z0-9-]{1,40}")
URI_OF_A_FILE = re.compile(r"(?:^|/)files/([a-z0-9-]{1,40})$")


async def upload(call: Call) -> Response:
    """The upload URL takes the chunks (it names the session, and carries no key); the bare path starts one."""
    if "upload_id" in call.request.query_params:
        return upload_chunk(call)
    return start_upload(call)


def start_upload(call: Call) -> Response:
    api_key = authenticate(call)
    headers = call.request.headers
    if (headers.get("x-goog-upload-protocol"), headers.get("x-goog-upload-command")) != ("resumable", "start"):
        raise invalid("The mock takes resumable uploads: X-Goog-Upload-Protocol: resumable, X-Goog-Upload-Command: "
                      "start, then the file's bytes to the X-Goog-Upload-URL it answers.")  # fmt: skip
    size = headers.get("x-goog-upload-header-content-length", "")
    if not size.isdigit():
        raise invalid("X-Goog-Upload-Header-Content-Length must give the file's size in bytes.")
    if int(size) > call.state.settings.upload_max_bytes:
        raise invalid(f"The file is larger than this mock takes ({call.state.settings.upload_max_bytes} bytes).")
    metadata = file_metadata(call)
    metadata.setdefault("mimeType", headers.get("x-goog-upload-header-content-type", ""))
    upload_id = call.state.ids.hex(32)
    call.state.uploads.begin(upload_id, Session(api_key, metadata, int(size)))
    url = f"{call.base_url}{prefix(call)}upload/v1beta/files?upload_id={upload_id}&upload_protocol=resumable"
    return Response(headers={"X-Goog-Upload-Status": "active", "X-Goog-Upload-URL": url,
                             "X-Goog-Upload-Control-URL": url,
                             "X-Goog-Upload-Chunk-Granularity": str(CHUNK_GRANULARITY)})  # fmt: skip


def file_metadata(call: Call) -> dict[str, str]:
    """The start's body, {"file": {"displayName", "mimeType", "name"}} (every part optional)."""
    if not call.body.strip():
        return {}
    try:
        body = parse_json(call.body)
    except ValueError:
        raise invalid("Invalid JSON payload received. Unexpected token.") from None
    given = body.get("file") if isinstance(body, dict) else None
    if not isinstance(given, dict):
        return {}
    given = {camel(key): value for key, value in given.items()}  # the SDK writes snake_case, as proto allows
    metadata = {key: value for key in ("displayName", "mimeType", "name") if isinstance(value := given.get(key), str)}
    if "name" in metadata and not FILE_ID.fullmatch(metadata["name"].removeprefix("files/")):
        raise invalid("A file's name is files/ and at most 40 lower-case letters, digits or dashes.", "file.name")
    return metadata


def upload_chunk(call: Call) -> Response:
    upload_id = call.request.query_params["upload_id"]
    session = call.state.uploads.session(upload_id)
    if session is None:
        raise no_session()
    commands = {command.strip() for command in call.request.headers.get("x-goog-upload-command", "").split(",")}
    received = session.received
    if "upload" in commands:
        if call.request.headers.get("x-goog-upload-offset", "") != str(received):
            raise invalid(f"X-Goog-Upload-Offset must be {received}, the bytes received so far.")
        if received + len(call.body) > session.size:
            raise invalid(f"More bytes than the {session.size} the upload's start announced.")
        if not call.state.uploads.append(upload_id, received, call.body):  # another chunk came first
            raise invalid("Another chunk of this upload came first: ask the upload URL for the bytes received.")
        received += len(call.body)
    if "finalize" not in commands:
        return Response(headers={"X-Goog-Upload-Status": "active", "X-Goog-Upload-Size-Received": str(received)})
    if received != session.size:
        raise invalid(f"{received} bytes received of the {session.size} announced.")
    content = call.state.uploads.finish(upload_id)
    if content is None:  # finalized meanwhile by another request
        raise no_session()
    file = kept(call, session, content)
    return JSONResponse({"file": entry(call, file)}, headers={"X-Goog-Upload-Status": "final"})


def no_session() -> Reject:
    return Reject(google_error(404, "No upload session has that upload_id (finished, or never started)."))


def kept(call: Call, session: Session, content: bytes) -> UploadedFile:
    now = call.state.clock.now()
    file_id = session.metadata.get("name", "").removeprefix("files/") or call.state.ids.hex(12)
    file = UploadedFile(session.api_key, file_id, session.metadata.get("mimeType") or "application/octet-stream",
                        session.metadata.get("displayName"), len(content), hashlib.sha256(content).hexdigest(), now,
                        now + LIFETIME)  # fmt: skip
    if not call.state.uploads.keep(file, content):
        raise invalid("The file does not fit in what the mock keeps of uploaded files (--files-max-mib).")
    return file


def entry(call: Call, file: UploadedFile) -> dict[str, Any]:
    """The File resource, its URI one the mock answers."""
    shown = {
        "name": f"files/{file.id}", "mimeType": file.mime_type, "sizeBytes": str(file.size),
        "createTime": timestamp(file.created_at), "updateTime": timestamp(file.created_at),
        "expirationTime": timestamp(file.expires_at), "sha256Hash": base64.b64encode(file.sha256.encode()).decode(),
        "uri": f"{call.base_url}{prefix(call)}v1beta/files/{file.id}", "state": "ACTIVE", "source": "UPLOADED",
    }  # fmt: skip
    return ({"displayName": file.display_name} if file.display_name else {}) | shown


def prefix(call: Call) -> str:
    """The profile's prefix the request came in under ("" at the root), which the pipeline adds to the root path
    as a Mount would."""
    scope = call.request.scope
    mounted = scope.get("root_path", "").removeprefix(scope.get("app_root_path", scope.get("root_path", "")))
    return f"{mounted.lstrip('/')}/" if mounted else ""


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# GET /v1beta/files, GET and DELETE /v1beta/files/{file}


async def list_files(call: Call) -> Response:
    api_key = authenticate(call)
    query = call.request.query_params
    size, start = page_size(query.get("pageSize"), LIST_PAGE, LIST_MAX), page_start(query.get("pageToken"))
    files = call.state.uploads.listed(api_key, call.state.clock.now())
    page = [entry(call, file) for file in files[start : start + size]]
    following = {"nextPageToken": page_token(start + size)} if start + size < len(files) else {}
    return JSONResponse(({"files": page} if page else {}) | following)


async def get_file(call: Call) -> Response:
    return JSONResponse(entry(call, owned(call, authenticate(call), call.request.path_params["file"])))


async def delete_file(call: Call) -> Response:
    file = owned(call, authenticate(call), call.request.path_params["file"])
    call.state.uploads.delete(file.id)
    return JSONResponse({})


def owned(call: Call, api_key: str, file_id: str) -> UploadedFile:
    """The key's file, or Google's answer for a file that is someone else's or none at all."""
    file = call.state.uploads.of(api_key, file_id, call.state.clock.now())
    if file is None:
        raise no_such_file(file_id)
    return file


def no_such_file(file_id: str) -> Reject:
    return Reject(google_error(403, f"You do not have permission to access the File {file_id} or it may not exist."))


def named_by(call: Call, uri: str) -> tuple[UploadedFile, bytes] | None:
    """The uploaded file a fileData URI names and its content (None for a URI that is not one of the Files API's),
    the request's key's, or its 403."""
    found = URI_OF_A_FILE.search(uri)
    if found is None:
        return None
    for api_key in call.keys:
        file = call.state.uploads.of(api_key, found[1], call.state.clock.now())
        content = None if file is None else call.state.uploads.content(file.id)
        if file is not None and content is not None:
            return file, content
    raise no_such_file(found[1])


def routes() -> list[tuple[str, str, Any]]:
    """(method, path, handler) of the Files API."""
    return [
        ("POST", "/upload/v1beta/files", upload),
        ("GET", "/v1beta/files", list_files),
        ("GET", "/v1beta/files/{file}", get_file),
        ("DELETE", "/v1beta/files/{file}", delete_file),
    ]

"""Files clients upload (the Gemini API's Files API), each its uploader's, for a generation to name by its URI:
the uploads under way (a resumable upload's session, until its last chunk) and the files they made.

Kept in memory only, within the generated files' budgets, and emptied by a reset; with --state, in Redis instead
(shared_uploads.py), so that an upload may go through one server and be read through another.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .bounded import BoundedMap

MAX_SESSIONS = 100  # uploads started and not finished; the oldest is forgotten first


@dataclass(frozen=True)
class Session:
    """A resumable upload under way: who started it, what it will be, and how much of it has come."""

    api_key: str
    metadata: dict[str, str]  # the file's displayName, mimeType and name, as the client gave them
    size: int  # the bytes it said it would send (X-Goog-Upload-Header-Content-Length)
    received: int = 0


@dataclass(frozen=True)
class UploadedFile:
    api_key: str
    id: str  # its name is files/{id}
    mime_type: str
    display_name: str | None
    size: int
    sha256: str  # of its content, in hex
    created_at: float
    expires_at: float


class Uploads:
    def __init__(self, max_count: int, max_bytes: int) -> None:
        self._sessions: BoundedMap[str, tuple[Session, bytearray]] = BoundedMap(
            MAX_SESSIONS, max_bytes, lambda started: started[0].size
        )
        self._files: BoundedMap[str, tuple[UploadedFile, bytes]] = BoundedMap(
            max_count, max_bytes, lambda kept: kept[0].size
        )

    def begin(self, upload_id: str, session: Session) -> None:
        self._sessions.put(upload_id, (session, bytearray()))

    def session(self, upload_id: str) -> Session | None:
        started = self._sessions.get(upload_id)
        return None if started is None else replace(started[0], received=len(started[1]))

    def append(self, upload_id: str, offset: int, chunk: bytes) -> bool:
        """Add `chunk` at `offset`: False if the session is gone, or has received other bytes meanwhile."""
        started = self._sessions.get(upload_id)
        if started is None or len(started[1]) != offset:
            return False
        started[1].extend(chunk)
        return True

    def finish(self, upload_id: str) -> bytes | None:
        """End the session, giving back every byte it received (None if it was not under way)."""
        started = self._sessions.pop(upload_id)
        return None if started is None else bytes(started[1])

    def keep(self, file: UploadedFile, content: bytes) -> bool:
        """Keep the file, unless it alone is larger than the budget (False)."""
        return self._files.put(file.id, (file, content))

    def of(self, api_key: str, file_id: str, now: float) -> UploadedFile | None:
        """The key's file of that id, while it lasts."""
        kept = self._files.get(file_id)
        return kept[0] if kept is not None and kept[0].api_key == api_key and now < kept[0].expires_at else None

    def content(self, file_id: str) -> bytes | None:
        kept = self._files.get(file_id)
        return None if kept is None else kept[1]

    def listed(self, api_key: str, now: float) -> list[UploadedFile]:
        """The key's files, newest first, as Google lists them."""
        files = (file for file, _ in reversed(self._files.values()))
        return [file for file in files if file.api_key == api_key and now < file.expires_at]

    def delete(self, file_id: str) -> None:
        self._files.pop(file_id)

    def clear(self) -> None:
        self._sessions.clear()
        self._files.clear()

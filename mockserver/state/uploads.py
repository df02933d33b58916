"""Files clients upload (the Gemini API's Files API), each its uploader's, for a generation to name by its URI:
the uploads under way (a resumable upload's session, until its last chunk) and the files they made.

Kept in memory only, within the generated files' budgets, and emptied by a reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bounded import BoundedMap

MAX_SESSIONS = 100  # uploads started and not finished; the oldest is forgotten first


@dataclass
class Session:
    """A resumable upload under way: who started it, what it will be, and the bytes received so far."""

    api_key: str
    metadata: dict[str, str]  # the file's displayName, mimeType and name, as the client gave them
    size: int  # the bytes it said it would send (X-Goog-Upload-Header-Content-Length)
    content: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class UploadedFile:
    api_key: str
    id: str  # its name is files/{id}
    mime_type: str
    display_name: str | None
    content: bytes
    created_at: float
    expires_at: float


class Uploads:
    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.sessions: BoundedMap[str, Session] = BoundedMap(MAX_SESSIONS, max_bytes, lambda s: s.size)
        self._files: BoundedMap[str, UploadedFile] = BoundedMap(max_count, max_bytes, lambda f: len(f.content))

    def keep(self, file: UploadedFile) -> bool:
        return self._files.put(file.id, file)

    def of(self, api_key: str, file_id: str, now: float) -> UploadedFile | None:
        """The key's file of that id, while it lasts."""
        file = self._files.get(file_id)
        return file if file is not None and file.api_key == api_key and now < file.expires_at else None

    def listed(self, api_key: str, now: float) -> list[UploadedFile]:
        """The key's files, newest first, as Google lists them."""
        return [f for f in reversed(self._files.values()) if f.api_key == api_key and now < f.expires_at]

    def delete(self, file_id: str) -> None:
        self._files.pop(file_id)

    def clear(self) -> None:
        self.sessions.clear()
        self._files.clear()

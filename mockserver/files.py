"""Generated files the mock serves at stable URLs until they expire or are pushed out by newer ones."""

from __future__ import annotations

from dataclasses import dataclass

from .bounded import BoundedMap


@dataclass(frozen=True)
class StoredFile:
    name: str
    content: bytes
    media_type: str
    created_at: float
    expires_at: float | None

    def alive(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


class FileStore:
    def __init__(self, max_count: int, max_bytes: int) -> None:
        self._files: BoundedMap[str, StoredFile] = BoundedMap(max_count, max_bytes, lambda f: len(f.content))

    def put(self, file: StoredFile) -> None:
        self._files.put(file.name, file)

    def get(self, name: str, now: float) -> StoredFile | None:
        file = self._files.get(name)
        return file if file is not None and file.alive(now) else None

    def clear(self) -> None:
        self._files.clear()


FILES_PREFIX = "/files/"


def file_url(base_url: str, name: str) -> str:
    """The absolute URL the mock serves a stored file at; `base_url` is the server's own origin."""
    return base_url.rstrip("/") + FILES_PREFIX + name

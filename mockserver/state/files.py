"""Generated files the mock serves at stable URLs until they expire or are pushed out by newer ones.

With a store, each file is also written to disk (its content once, however many files share it, and
its row to the store) and comes back after a restart; a file dropped from memory is deleted there too.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bounded import BoundedMap
from .ledger import Charge
from .store import Store


@dataclass(frozen=True)
class StoredFile:
    name: str
    content: bytes
    media_type: str
    created_at: float  # served from then on: a job's files appear when the job completes
    expires_at: float | None

    def alive(self, now: float) -> bool:
        return self.created_at <= now and (self.expires_at is None or now < self.expires_at)


class FileStore:
    def __init__(self, max_count: int, max_bytes: int, store: Store | None = None) -> None:
        self._store = store
        self._files: BoundedMap[str, StoredFile] = BoundedMap(
            max_count, max_bytes, lambda f: len(f.content), on_drop=self._forget
        )
        if store is not None:
            contents: dict[str, bytes] = {}  # one copy in memory of a content shared by several files
            for row in store.rows("SELECT * FROM files ORDER BY rowid"):
                if row["digest"] not in contents:
                    contents[row["digest"]] = store.content(row["digest"])
                file = StoredFile(
                    row["name"], contents[row["digest"]], row["media_type"], row["created_at"], row["expires_at"]
                )
                self._files.put(file.name, file)

    def put(self, file: StoredFile, charge: Charge | None = None) -> None:
        """Keep the file; with a store, on disk too, undone at restart while `charge` is still pending."""
        if self._store is None:
            self._files.put(file.name, file)
            return
        with self._store.transaction() as db:
            digest = self._store.write_content(file.content)  # before its row: a row always has its content
            pending = charge.pending_id if charge else None
            row = (file.name, file.media_type, file.created_at, file.expires_at, pending, digest)
            db.execute("REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", row)
            if not self._files.put(file.name, file):
                self._forget(file.name)

    def put_all(self, files: list[StoredFile], charge: Charge | None = None) -> None:
        for file in files:
            self.put(file, charge)

    def get(self, name: str, now: float) -> StoredFile | None:
        file = self._files.get(name)
        return file if file is not None and file.alive(now) else None

    def clear(self) -> None:
        if self._store is not None:
            with self._store.transaction() as db:
                db.execute("DELETE FROM files")
            self._store.delete_unused_contents()
        self._files.clear()

    def _forget(self, name: str) -> None:
        if self._store is not None:
            with self._store.transaction() as db:
                digests = [row["digest"] for row in db.execute("SELECT digest FROM files WHERE name = ?", (name,))]
                db.execute("DELETE FROM files WHERE name = ?", (name,))
            self._store.delete_unused_contents(digests)


FILES_PREFIX = "/files/"


def file_url(base_url: str, name: str) -> str:
    """The absolute URL the mock serves a stored file at; `base_url` is the server's own origin."""
    return base_url.rstrip("/") + FILES_PREFIX + name

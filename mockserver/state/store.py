"""What the mock keeps on disk with --data-dir: accounts, pending charges, jobs and generated files.

SQLite in WAL mode, one transaction per change, so that a process killed at any instant (kill -9)
leaves either the whole change or none of it. A charge stays pending until its request's answer has
been sent; opening the store refunds every charge still pending, and drops the jobs and files its
request made, because no client ever heard of them.
"""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..settings import SettingsError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    api_key TEXT PRIMARY KEY, id TEXT NOT NULL, balance INTEGER NOT NULL, charged INTEGER NOT NULL,
    refunded INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS charges (
    id INTEGER PRIMARY KEY AUTOINCREMENT, api_key TEXT NOT NULL, amount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    uuid TEXT PRIMARY KEY, id INTEGER NOT NULL, profile TEXT NOT NULL, api_key TEXT NOT NULL,
    created_at REAL NOT NULL, duration REAL NOT NULL, failure TEXT, data TEXT NOT NULL,
    charge_id INTEGER, amount INTEGER NOT NULL, finished_at REAL);
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY, media_type TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL,
    charge_id INTEGER, digest TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS files_by_digest ON files (digest);
CREATE TABLE IF NOT EXISTS given (api_key TEXT PRIMARY KEY);
"""


class Store:
    def __init__(self, folder: Path) -> None:
        self.files_folder = folder / "files"
        try:
            self.files_folder.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(folder / "lock", "w")  # noqa: SIM115 -- held for the life of the server
        except OSError as error:
            raise SettingsError(f"data_dir: cannot keep state in {folder}: {error.strerror or error}") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SettingsError(f"data_dir: another imagegen-mock keeps its state in {folder}") from None
        self._lock = threading.RLock()
        self._depth = 0
        path = folder / "state.sqlite3"
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process, if not a power cut
            self._db.executescript(SCHEMA)
            self._check_tables(path)
            self.boot = self._count_boot()
            self._undo_unanswered()
        except sqlite3.DatabaseError as error:
            self._lock_file.close()
            raise SettingsError(f"data_dir: {path} is not an imagegen-mock state file ({error})") from None

    def value(self, name: str, default: float) -> float:
        rows = self.rows("SELECT value FROM meta WHERE name = ?", name)
        return rows[0]["value"] if rows else default

    def set_value(self, name: str, value: float) -> None:
        with self.transaction() as db:
            db.execute("REPLACE INTO meta VALUES (?, ?)", (name, value))

    def close(self) -> None:
        self._db.close()
        self._lock_file.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change; a transaction opened inside another joins it."""
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._depth == 1:
                    self._db.execute("ROLLBACK")
                raise
            else:
                if self._depth == 1:
                    self._db.execute("COMMIT")
            finally:
                self._depth -= 1

    def rows(self, query: str, *parameters: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(query, parameters).fetchall()

    # File contents on disk, named by their SHA-256: written once however many files share them (a cached
    # image handed out again), and no name a client chose can reach the file system.

    def write_content(self, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        path = self.files_folder / digest
        if not path.exists():
            partial = path.with_suffix(".partial")
            partial.write_bytes(content)
            partial.replace(path)
        return digest

    def content(self, digest: str) -> bytes:
        return (self.files_folder / digest).read_bytes()

    def delete_unused_contents(self, digests: Iterable[str] | None = None) -> None:
        """Delete the contents no file row uses any more: of `digests`, or of the whole folder."""
        if digests is None:
            candidates = {path.name for path in self.files_folder.iterdir()}
            used = {row["digest"] for row in self.rows("SELECT DISTINCT digest FROM files")}
        else:
            candidates = set(digests)
            used = {d for d in candidates if self.rows("SELECT 1 FROM files WHERE digest = ? LIMIT 1", d)}
        for digest in candidates - used:
            (self.files_folder / digest).unlink(missing_ok=True)

    def _check_tables(self, path: Path) -> None:
        """Refuse a database whose tables are not the ones this mock writes (another program's, or a newer one's)."""
        with sqlite3.connect(":memory:") as fresh:
            fresh.executescript(SCHEMA)
            expected = tables_of(fresh)
        found = tables_of(self._db)
        for table, columns in expected.items():
            if found.get(table) != columns:
                self._lock_file.close()
                raise SettingsError(f"data_dir: {path} holds a table {table} unlike this mock's")

    def _count_boot(self) -> int:
        boot = int(self.value("boots", 0)) + 1
        self.set_value("boots", boot)
        return boot

    def _undo_unanswered(self) -> None:
        """Refund every charge whose request never got its answer, with what that request wrote."""
        with self.transaction() as db:
            db.execute(
                "UPDATE accounts SET balance = balance + pending.amount, refunded = refunded + pending.amount "
                "FROM (SELECT api_key, SUM(amount) AS amount FROM charges GROUP BY api_key) AS pending "
                "WHERE accounts.api_key = pending.api_key"
            )
            db.execute("DELETE FROM jobs WHERE charge_id IN (SELECT id FROM charges)")
            db.execute("DELETE FROM files WHERE charge_id IN (SELECT id FROM charges)")
            db.execute("DELETE FROM charges")
        self.delete_unused_contents()  # theirs, and any left by a request killed before its row was written


def tables_of(db: sqlite3.Connection) -> dict[str, list[str]]:
    """Each table of the database and its columns, in order."""
    names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {name: [row[1] for row in db.execute(f"PRAGMA table_info({name})")] for name in names}

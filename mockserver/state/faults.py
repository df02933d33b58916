"""The faults queued through the control API, each for the next N requests of a profile (optionally of one
path) that can show it."""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class QueuedFault:
    id: int
    profile: str
    fault: str
    remaining: int
    path: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultQueue:
    def __init__(self) -> None:
        self._queued: list[QueuedFault] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, profile: str, fault: str, times: int, path: str | None) -> QueuedFault:
        with self._lock:
            queued = QueuedFault(self._next_id, profile, fault, times, path)
            self._next_id += 1
            self._queued.append(queued)
            return queued

    def take(self, profile: str, endpoint: str, applicable: Collection[str]) -> str | None:
        """Use up one queued fault that fits this request, oldest first."""
        with self._lock:
            for queued in self._queued:
                if queued.profile == profile and queued.fault in applicable and queued.path in (None, endpoint):
                    queued.remaining -= 1
                    if queued.remaining == 0:
                        self._queued.remove(queued)
                    return queued.fault
            return None

    def __bool__(self) -> bool:
        """Whether any fault is queued (read without the lock: the usual answer, no, needs no wait)."""
        return bool(self._queued)

    def pending(self) -> list[QueuedFault]:
        with self._lock:
            return list(self._queued)

    def clear(self, profile: str | None = None) -> None:
        with self._lock:
            self._queued = [q for q in self._queued if profile is not None and q.profile != profile]

"""Identifiers drawn from the mock's seed, so a run can be repeated response for response."""

from __future__ import annotations

import random
import threading
import uuid


class Ids:
    def __init__(self, seed: int, boot: int = 1) -> None:
        """`boot` counts the starts of a server that keeps its state: each start draws new identifiers,
        so that none repeats one kept from before."""
        self._seed: int | str = seed if boot == 1 else f"{seed}/{boot}"
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._random = random.Random(self._seed)

    def hex(self, length: int = 16) -> str:
        with self._lock:
            return f"{self._random.getrandbits(length * 4):0{length}x}"

    def uuid(self) -> str:
        """A version-1-shaped UUID, like the ones GeminiGen hands out."""
        return str(uuid.UUID(int=int(self.hex(32), 16), version=1))

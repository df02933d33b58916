"""A map that stays within a count and a byte budget by dropping its oldest entries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    def __init__(
        self,
        max_count: int,
        max_bytes: int,
        size_of: Callable[[V], int],
        *,
        lru: bool = False,
        on_drop: Callable[[K], None] = lambda key: None,
    ) -> None:
        """With `lru`, reading an entry makes it the newest, so the least recently used goes first;
        `on_drop` hears of every key dropped to stay within the budget."""
        self._items: OrderedDict[K, V] = OrderedDict()
        self._max_count = max_count
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._lru = lru
        self._on_drop = on_drop
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None and self._lru:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> bool:
        """Keep `value` under `key`, unless it alone is larger than the whole budget (False)."""
        size = self._size_of(value)
        if size > self._max_bytes or self._max_count == 0:
            return False
        with self._lock:
            if key in self._items:
                self._bytes -= self._size_of(self._items.pop(key))
            self._items[key] = value
            self._bytes += size
            while len(self._items) > self._max_count or self._bytes > self._max_bytes:
                dropped_key, dropped = self._items.popitem(last=False)
                self._bytes -= self._size_of(dropped)
                self._on_drop(dropped_key)
        return True

    def pop(self, key: K) -> V | None:
        """Drop `key`'s entry, giving it back (None if there was none)."""
        with self._lock:
            value = self._items.pop(key, None)
            if value is not None:
                self._bytes -= self._size_of(value)
            return value

    def values(self) -> list[V]:
        """Every value, oldest first."""
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

"""Where images are drawn and encoded, off the event loop: threads of the server, or with --workers N that
many processes, each free to use a core of its own (the state stays in the server's process either way).

The processes are spawned on first use, replaced once if one dies, stopped with the server, and end by
themselves if the server is killed without the time to stop them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from starlette.concurrency import run_in_threadpool

PARENT_CHECK_SECONDS = 0.5  # how often a worker looks whether the server still runs


class Workers:
    def __init__(self, count: int) -> None:
        self._count = count
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        if self._count <= 1:
            return await run_in_threadpool(work, *args)
        try:
            return await self._in_pool(work, *args)
        except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh, once
            self.close()
            return await self._in_pool(work, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _in_pool(self, work: Callable[..., Any], *args: Any) -> Any:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._count, multiprocessing.get_context("spawn"), exit_with, (os.getpid(),)
            )
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)


def exit_with(server: int) -> None:
    """In a worker, first thing: end when the server does."""

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()

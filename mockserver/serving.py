"""How `imagegen-mock serve` runs: one process, or with --state and --workers N, N processes answering on one
port, each with its own connection to the state they share in Redis.

The processes are spawned, told apart by nothing but their process id, and watched: one that dies is replaced
(what it held is refunded by the others once its lease runs out, state/shared.py), and Ctrl-C or SIGTERM stops
them all. Their counters for `/_mock/metrics` are written to a folder they share (prometheus-client's
multiprocess mode), so whichever answers the scrape reports all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from multiprocessing.synchronize import Event

import uvicorn

from .app import create_app
from .connections import bound_socket, guarded_protocol
from .dialects.profiles import PROFILES
from .images.workers import exit_with
from .settings import Settings, SettingsError
from .state.metrics import MULTIPROCESS_DIR

WATCH_SECONDS = 0.2  # how often the first process looks whether the others still run
STOP_SECONDS = 10.0  # how long a process has to finish its answers once told to stop


def serve(settings: Settings) -> int:
    if settings.serving_processes > 1:
        return serve_in_processes(settings)
    with contextlib.suppress(KeyboardInterrupt):
        run_one(settings, on_listening=lambda: print(banner(settings), flush=True))
    print("imagegen-mock stopped.", flush=True)
    return 0


def run_one(settings: Settings, on_listening: Callable[[], None], sockets: list[socket.socket] | None = None) -> None:
    """Serve until told to stop; `on_listening` once the server takes connections."""
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, log_level="warning", lifespan="on",
        http=guarded_protocol(settings),
    )  # fmt: skip
    # What start-up made (modules, contracts, the app) lives as long as the server: out of the collector's
    # full scans, which took ~50 ms every few hundred requests (the p99 latency of the benchmarks' metadata path).
    gc.freeze()
    # The loop uvicorn itself would run (uvloop where installed): asyncio's own serves a third fewer requests.
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(until_stopped(uvicorn.Server(config), on_listening, sockets))


async def until_stopped(
    server: uvicorn.Server, on_listening: Callable[[], None], sockets: list[socket.socket] | None
) -> None:
    async def announce_when_listening() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        on_listening()

    announcer = asyncio.create_task(announce_when_listening())
    await server.serve(sockets=sockets)
    announcer.cancel()


def serve_in_processes(settings: Settings) -> int:
    """Serve from settings.serving_processes processes on one port, until Ctrl-C or SIGTERM."""
    try:  # the port, held while processes come and go
        held = bound_socket(settings.host, settings.port, shared_port=True)
    except OSError as error:
        raise SettingsError(f"port: cannot listen on {settings.host}:{settings.port}: {error.strerror}") from None
    each = dataclasses.replace(settings, workers=1, port=held.getsockname()[1])  # each draws its own images
    spawn = multiprocessing.get_context("spawn")
    with held, tempfile.TemporaryDirectory(prefix="imagegen-mock-metrics-") as metrics:
        os.environ[MULTIPROCESS_DIR] = metrics  # read by each process as it starts
        started = [start_process(spawn, each) for _ in range(settings.serving_processes)]
        processes = [process for process, _ in started]
        if not all(wait_until_listening(process, ready) for process, ready in started):
            stop_all(processes)
            return 2
        print(banner(dataclasses.replace(settings, port=each.port)), flush=True)
        stopping = signal_stop()
        while not stopping():
            time.sleep(WATCH_SECONDS)
            for index, process in enumerate(processes):
                if process.exitcode is not None and not stopping():
                    print(f"imagegen-mock: process {process.pid} ended ({process.exitcode}); starting another",
                          file=sys.stderr, flush=True)  # fmt: skip
                    processes[index], _ = start_process(spawn, each)
        stop_all(processes)
    print("imagegen-mock stopped.", flush=True)
    return 0


def start_process(spawn, settings: Settings) -> tuple[multiprocessing.Process, Event]:
    ready = spawn.Event()
    process = spawn.Process(target=serve_in_process, args=(settings, ready, os.getpid()), name="imagegen-mock")
    process.start()
    return process, ready


def serve_in_process(settings: Settings, ready: Event, first: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the first process stops them
    exit_with(first)  # and if it is killed without the time to, they end by themselves
    listening = bound_socket(settings.host, settings.port, shared_port=True)
    listening.listen(2048)
    try:
        run_one(settings, on_listening=ready.set, sockets=[listening])
    except SettingsError as error:
        print(f"imagegen-mock: {error}", file=sys.stderr, flush=True)
        sys.exit(2)


def wait_until_listening(process: multiprocessing.Process, ready: Event) -> bool:
    while not ready.wait(0.05):
        if process.exitcode is not None:
            return False
    return True


def stop_all(processes: list[multiprocessing.Process]) -> None:
    for process in processes:
        if process.exitcode is None:
            process.terminate()  # SIGTERM: uvicorn finishes the answers under way, then the lifespan ends
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            process.kill()
            process.join()


def signal_stop() -> Callable[[], bool]:
    """Whether Ctrl-C or SIGTERM has come since."""
    came: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _: came.append(received))
    return lambda: bool(came)


def banner(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = f"http://{host}:{settings.port}"
    keys = "only the config file's keys" if settings.strict_keys else f"any key, {settings.credits} credits each"
    processes = f"; {settings.serving_processes} processes sharing Redis" if settings.serving_processes > 1 else ""
    at_root = ", ".join(name for name, profile in PROFILES.items() if profile.at_root)
    lines = [
        f"imagegen-mock {version('imagegen-mock')} listening on {base}  (seed {settings.seed}; {keys}{processes})",
        "",
        f"Profiles (base URL; the paths of {at_root} also answer at the root):",
    ]
    lines += [f"  {name:<12} {base}/{name:<12} {p.title} ({p.source})" for name, p in PROFILES.items()]
    lines += ["", f"  {'admin':<12} {base}/_mock/", "", "Press Ctrl-C to stop."]
    return "\n".join(lines)

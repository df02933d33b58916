"""Servers under measurement: started as users start them, as child processes, watched through /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen
    started_seconds: float  # from launch to the first answer

    def kill(self) -> None:
        """Stop it as a crash would: SIGKILL, nothing flushed or closed."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def rss_mib(self) -> float:
        """Resident memory of the server and its children, now."""
        return sum(status_kib(pid, "VmRSS") for pid in tree(self.process.pid)) / 1024

    def peak_rss_mib(self) -> float:
        """The largest resident memory each process of the server reached, summed."""
        return sum(status_kib(pid, "VmHWM") for pid in tree(self.process.pid)) / 1024

    def cpu_seconds(self) -> float:
        """The CPU time (user and system) the server and its children have spent so far."""
        return sum(cpu_seconds(pid) for pid in tree(self.process.pid))


@contextmanager
def serving(
    name: str, command: list[str], ready_path: str, port: int, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start `command` (listening on `port`), wait until `ready_path` answers, stop it at the end."""
    url = f"http://127.0.0.1:{port}"
    launched = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
        start_new_session=True,
    )  # fmt: skip
    try:
        started = wait_until_answering(url + ready_path, process, launched)
        yield Server(name, url, process, started)
    finally:
        if process.poll() is None:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_answering(url: str, process: subprocess.Popen, launched: float) -> float:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server stopped: {process.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            httpx.get(url, timeout=1)
            return time.perf_counter() - launched
        except httpx.TransportError:
            if time.perf_counter() - launched > START_TIMEOUT_SECONDS:
                raise RuntimeError(f"{url} did not answer within {START_TIMEOUT_SECONDS} s") from None
            time.sleep(0.005)


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            queue += [int(child) for child in children.read_text().split()]
    return found


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime, in clock ticks


def start_redis(port: int) -> subprocess.Popen:
    """A redis-server of this machine (Debian's package) on `port`, nothing saved, once it answers."""
    import redis

    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                stop(process)
                raise
            time.sleep(0.02)


@contextmanager
def redis_server() -> Iterator[Server]:
    """A redis-server on a free port, for the run."""
    port = free_port()
    launched = time.perf_counter()
    process = start_redis(port)
    try:
        yield Server("redis-server", f"redis://127.0.0.1:{port}/0", process, time.perf_counter() - launched)
    finally:
        stop(process)

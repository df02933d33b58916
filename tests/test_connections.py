"""The connections `imagegen-mock serve` keeps (mockserver/connections.py): no client can hold the server by
trickling a request's head or by opening connections and sending nothing."""

from __future__ import annotations

import socket
import sys

import httpx

from benchmarks.servers import free_port, serving


def serve(port: int, *options: str, limit_files: int = 0):
    """The server as users start it; with `limit_files`, under that open-files limit (ulimit -n)."""
    command = [sys.executable, "-m", "mockserver", "serve", "--port", str(port), *options]
    if limit_files:
        command = ["sh", "-c", f'ulimit -n {limit_files} && exec "$@"', "sh", *command]
    return serving("mock", command, "/_mock/health", port)


def trickling(port: int) -> socket.socket:
    """A connection that has sent part of a request's head, and will not send the rest."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return sock


def closed_by_the_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except (TimeoutError, BlockingIOError):
        return False
    except ConnectionResetError:
        return True


def test_connections_past_the_open_files_limit_leave_the_server_answering():
    """As the battery found it: more idle connections than the process may open files, then normal requests."""
    port = free_port()
    with serve(port, "--max-connections", "100", limit_files=256):
        slow = [trickling(port) for _ in range(300)]
        dropped = sum(closed_by_the_server(sock, 5) for sock in slow[:200])  # the first 200 past the bound of 100
        answered = [httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10).status_code for _ in range(20)]

    assert dropped == 200, "the first to wait are the first to go"
    assert answered == [200] * 20, "with 100 connections held, each new one still gets its answer"


def test_a_head_that_takes_too_long_is_cut_off():
    port = free_port()
    with serve(port, "--head-timeout-seconds", "0.5"):
        slow, silent = trickling(port), socket.create_connection(("127.0.0.1", port))
        kept = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)

        assert closed_by_the_server(slow, 5) and closed_by_the_server(silent, 5)
    assert kept.status_code == 200

"""Debian's chromium, headless, as the tests run it: with the flags a closed network needs, a profile of
its own, and a hard stop, for a browser that hangs is killed with every process it started."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SECONDS = 45  # a run takes seconds; two fit in the 120 s a test has

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


def chromium(profile: Path, *args: str) -> str:
    """Run chromium with `args`; what it printed (the page's DOM, with --dump-dom)."""
    with tempfile.TemporaryFile() as printed:
        process = subprocess.Popen(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", *args],
            stdout=printed, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            process.wait(SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"chromium {' '.join(args)} did not finish within {SECONDS} s")
        finally:
            kill_group(process.pid)
        printed.seek(0)
        return printed.read().decode(errors="replace")


def kill_group(pid: int) -> None:
    """Chromium leaves helpers behind (crashpad, zygotes): end them all."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)

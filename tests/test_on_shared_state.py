"""The tests of the modules that lean most on the mock's state, run again with the shared mock's state in Redis
(IMAGEGEN_MOCK_TEST_STATE=redis, tests/conftest.py): a server on Redis must answer as one in memory does. The whole
suite passes that way too (`IMAGEGEN_MOCK_TEST_STATE=redis pytest`); these are the ones kept in every run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = (
    "vydra",
    "geminigen",
    "jobs",
    "journal",
    "webhooks",
    "faults",
    "admin",
    "money",
    "ledger",
    "gemini_files",
    "dashboard",
)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server (apt install redis-server)")
def test_the_state_heavy_tests_pass_with_the_state_in_redis():
    tests = Path(__file__).parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
         *(str(tests / f"test_{module}.py") for module in MODULES)],
        cwd=tests.parent, env={**os.environ, "IMAGEGEN_MOCK_TEST_STATE": "redis"}, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "skipped" not in done.stdout.splitlines()[-1]

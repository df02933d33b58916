"""`imagegen-mock serve` and `python -m mockserver`: start, answer, print the profiles, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from benchmarks.servers import free_port

SCRIPT = str(Path(sys.executable).with_name("imagegen-mock"))
COMMANDS = {"console script": [SCRIPT], "python -m mockserver": [sys.executable, "-m", "mockserver"]}
START_SECONDS = 20


@contextmanager
def running(command: list[str], *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """Start the server; yield its base URL and the lines it printed until it was listening."""
    port = free_port()
    process = subprocess.Popen(
        [*command, *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    printed = []
    deadline = time.monotonic() + START_SECONDS
    while not any("Press Ctrl-C" in line for line in printed):
        line = process.stdout.readline()
        assert line or process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, printed
        printed.append(line)
    try:
        yield f"http://127.0.0.1:{port}", printed
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=START_SECONDS)


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_serve_prints_every_profile_answers_and_stops_on_ctrl_c(command):
    port = free_port()
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    banner = []
    while not any("Press Ctrl-C" in line for line in banner):
        line = process.stdout.readline()
        assert line, process.stderr.read()
        banner.append(line)
    base = f"http://127.0.0.1:{port}"
    answer = httpx.get(f"{base}/vydra/api/v1/health")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)

    assert answer.status_code == 200
    assert any(f"{base}/vydra" in line for line in banner)
    assert any(f"{base}/_mock/" in line for line in banner)
    assert process.returncode == 0
    assert "stopped" in out
    assert "Traceback" not in err


def test_no_command_means_serve():
    with running([SCRIPT]) as (base, printed):
        assert httpx.get(f"{base}/_mock/health").json()["status"] == "ok"
        assert "seed 0" in printed[0]


def test_settings_come_from_the_environment_and_flags():
    env = {"IMAGEGEN_MOCK_CREDITS": "7", "IMAGEGEN_MOCK_SEED": "4"}
    with running([SCRIPT, "serve"], "--seed", "9", env=env) as (base, printed):
        org = httpx.get(f"{base}/api/v1/organization", headers={"Authorization": "Bearer k"}).json()

    assert org["creditsRemaining"] == 7
    assert "seed 9" in printed[0]


def test_strict_keys_from_a_config_file(tmp_path):
    config = tmp_path / "mock.toml"
    config.write_text('strict-keys = true\n[accounts]\n"listed-key" = 11\n')
    with running([SCRIPT, "serve"], "--config", str(config)) as (base, _):
        listed = httpx.get(f"{base}/api/v1/organization", headers={"Authorization": "Bearer listed-key"})
        other = httpx.get(f"{base}/api/v1/organization", headers={"Authorization": "Bearer other-key"})

    assert listed.json()["creditsRemaining"] == 11
    assert other.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--port", "eighty"], "--port: expected a whole number"), (["--config", "/no/such/file.toml"], "cannot read")],
)
def test_bad_settings_exit_2_with_a_message(args, message):
    result = subprocess.run([SCRIPT, "serve", *args], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_contracts_command_lists_and_prints():
    listing = subprocess.run([SCRIPT, "contracts"], capture_output=True, text=True, check=True).stdout
    printed = subprocess.run([SCRIPT, "contracts", "vydra"], capture_output=True, text=True, check=True).stdout

    assert "vydra" in listing and "admin" in listing
    assert yaml.safe_load(printed)["info"]["title"].startswith("Vydra")

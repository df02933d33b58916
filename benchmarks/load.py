"""Load from a real generator: wrk, one thread (so it takes at most one core), bounded in time.

A scenario is a method, a URL, headers and a body; a body may hold `{n}`, replaced by a number that
grows with every request, so that each request asks for something new (a new prompt: a new image).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Load:
    method: str
    url: str
    headers: dict[str, str]
    body: str = ""


@dataclass(frozen=True)
class Result:
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("the benchmarks need wrk: apt-get install wrk (Debian's package)")
    return found


def script(load: Load) -> str:
    """A wrk Lua script sending `load`, `{n}` in its body replaced by a request counter."""
    template = json.dumps(load.body)  # a Lua string literal is close enough to a JSON one for these bodies
    headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in load.headers.items())
    return f"""
counter = 0
local headers = {{{headers}}}
request = function()
  counter = counter + 1
  local body = string.gsub({template}, "{{n}}", tostring(counter))
  return wrk.format("{load.method}", nil, headers, body)
end
"""


def run(load: Load, seconds: float, connections: int) -> Result:
    with tempfile.TemporaryDirectory() as scratch:
        lua = Path(scratch) / "load.lua"
        lua.write_text(script(load))
        command = [wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                   "--timeout=10s", "-s", str(lua), load.url]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode:
            raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
        output = done.stdout
    return parse(output)


def parse(output: str) -> Result:
    """wrk's report: requests, requests a second, the 50th and 99th percentile latency, non-2xx answers and errors."""
    requests = int(re.search(r"^\s*(\d+) requests in", output, re.MULTILINE).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    percentiles = {p: milliseconds(v) for p, v in re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)", output, re.MULTILINE)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Result(
        requests=requests,
        requests_per_second=rate,
        p50_ms=percentiles.get("50", float("nan")),
        p99_ms=percentiles.get("99", float("nan")),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * UNITS[unit]

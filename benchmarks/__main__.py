"""`python -m benchmarks`: the mock against a bare Starlette baseline, measured in the same run.

For every profile: the metadata path (a paid generation whose image is cached), unique images at 1K and at
the largest size the profile offers, and errors (400s and 402s); then the start-up time, and the kit over
every profile against the in-process mock. Each line gives requests a second, p50 and p99 latency, the
server's peak resident memory, and the ratio to the baseline measured in this run: compare ratios, not
absolute figures, as machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx

from .load import Load, Result, run
from .servers import Server, free_port, redis_server, serving

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(Path(sys.executable).with_name("imagegen-mock"))
BENCH_CREDITS = 10**12
RICH, BROKE = "bench-rich-key", "bench-broke-key"
PEER_JIT_WARMUP_SECONDS = 10  # the JVM needs its warm-up


@dataclass(frozen=True)
class Scenario:
    profile: str
    name: str
    load: Load
    connections: int = 16


def scenarios(base: str, run_id: str) -> list[Scenario]:
    """Every measured scenario against a mock at `base`; `run_id` keeps unique prompts unique across runs."""
    bearer = {"Authorization": f"Bearer {RICH}", "Content-Type": "application/json"}
    goog = {"x-goog-api-key": RICH, "Content-Type": "application/json"}
    form = {"x-api-key": RICH, "Content-Type": "application/x-www-form-urlencoded"}
    unique = f"bench {run_id} {{n}}"

    def gemini(profile: str, headers: dict[str, str]) -> list[Scenario]:
        url = f"{base}/{profile}/v1beta/models/{{model}}:generateContent"

        def ask(prompt: str, model: str, config: dict) -> Load:
            body = {"contents": [{"parts": [{"text": prompt}]}], "generationConfig": config}
            return Load("POST", url.format(model=model), headers, json.dumps(body))

        flash, pro = "gemini-2.5-flash-image", "gemini-3-pro-image-preview"
        return [
            Scenario(profile, "metadata", ask("a lighthouse", flash, {})),
            Scenario(profile, "unique 1K", ask(unique, flash, {}), 4),
            Scenario(
                profile,
                "unique 4K (16:9)",
                ask(unique, pro, {"imageConfig": {"aspectRatio": "16:9", "imageSize": "4K"}}),
                2,
            ),
            Scenario(profile, "errors 400", ask("x", flash, {"imageConfig": {"imageSize": "1k"}})),
        ]

    vydra = f"{base}/vydra/api/v1/models/gemini/generate"
    geminigen = f"{base}/geminigen/uapi/v1/generate_image"
    llm = f"{base}/llmgateway/v1/images/generations"
    return [
        Scenario("vydra", "metadata", Load("POST", vydra, bearer, '{"prompt": "a lighthouse"}')),
        Scenario(
            "vydra",
            "unique 1K (21:9)",
            Load("POST", vydra, bearer, json.dumps({"prompt": unique, "aspectRatio": "21:9"})),
            4,
        ),
        Scenario("vydra", "errors 400", Load("POST", vydra, bearer, "{}")),
        Scenario(
            "vydra",
            "errors 402",
            Load("POST", vydra, {**bearer, "Authorization": f"Bearer {BROKE}"}, '{"prompt": "x"}'),
        ),
        Scenario("geminigen", "metadata", Load("POST", geminigen, form, "prompt=a+lighthouse&model=imagen-4")),
        Scenario(
            "geminigen",
            "unique 1K",
            Load("POST", geminigen, form, f"prompt={unique.replace(' ', '+')}&model=imagen-4"),
            4,
        ),
        Scenario("geminigen", "errors 422", Load("POST", geminigen, form, "prompt=x&model=nope")),
        Scenario(
            "llmgateway",
            "metadata",
            Load("POST", llm, bearer, '{"prompt": "a lighthouse", "model": "gemini-2.5-flash-image"}'),
        ),
        Scenario(
            "llmgateway",
            "unique 1K",
            Load("POST", llm, bearer, json.dumps({"prompt": unique, "model": "gemini-2.5-flash-image"})),
            4,
        ),
        Scenario(
            "llmgateway",
            "unique 4K (16:9)",
            Load("POST", llm, bearer, json.dumps({"prompt": unique, "size": "4K", "aspect_ratio": "16:9"})),
            2,
        ),
        Scenario("llmgateway", "errors 400", Load("POST", llm, bearer, '{"prompt": "x", "n": 0}')),
        Scenario(
            "llmgateway",
            "errors 402",
            Load("POST", llm, {**bearer, "Authorization": f"Bearer {BROKE}"}, '{"prompt": "x"}'),
        ),
        *gemini("google", goog),
        *gemini("vastnum", bearer),
        *gemini("crazyrouter", bearer),
        *gemini("gemini", goog),
    ]


def measure(args: argparse.Namespace) -> list[str]:
    lines = [f"Machine: {platform.machine()}, {cpu_count()} cores, Python {platform.python_version()}, "
             f"imagegen-mock {version('imagegen-mock')}, uvicorn {version('uvicorn')}, Pillow {version('pillow')}; "
             f"wrk 1 thread, {args.seconds:g} s a scenario after {args.warmup:g} s of warm-up; each ratio against "
             "the baseline measured just before it, on as many connections."]  # fmt: skip
    port = free_port()
    baseline_command = [sys.executable, "-m", "uvicorn", "benchmarks.baseline:app", "--port", str(port),
                        "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with serving("baseline", baseline_command, "/health", port) as baseline:
        post = Load(
            "POST", f"{baseline.url}/generate", {"Content-Type": "application/json"}, '{"prompt": "a lighthouse"}'
        )
        reference, cpu = costed(post, args.seconds, args.warmup, 16, baseline)
        rows = [row("baseline", "Starlette POST, the same server settings", reference, baseline.peak_rss_mib(),
                    reference, cpu)]  # fmt: skip
        if args.peers:
            rows += measure_peers(args, post)
        lines += measure_mock(args, post, rows, [])
        if args.redis:
            with redis_server() as redis:
                for workers in (1, 2):
                    on = " on Redis" + (f", {workers} workers" if workers > 1 else "")
                    options = ["--state", redis.url, "--workers", str(workers)]
                    lines += measure_mock(args, post, rows, options, only="metadata", on=on, redis=redis)
            lines.append("On Redis: `--state` on a `redis-server` of this machine, started afresh for the run; with "
                         "2 workers, two processes serving HTTP on it. Their CPU: the mock's + Redis'.")  # fmt: skip
    table = [
        "| profile | scenario | req/s | p50 ms | p99 ms | peak RSS MiB | CPU µs a request | vs baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += ["", *table, *rows]
    if not args.no_kit:
        lines += ["", kit_time()]
    return lines


def measure_mock(
    args: argparse.Namespace, post: Load, rows: list[str], options: list[str], only: str | None = None, on: str = "",
    redis: Server | None = None,
) -> list[str]:  # fmt: skip
    """Add the mock's rows (served with `options`; only the scenarios named `only`, if given; its state in `redis`,
    if given, whose CPU is counted too); say how long it took to start and how much memory it kept."""
    port = free_port()
    command = [SCRIPT, "serve", "--port", str(port), "--credits", str(BENCH_CREDITS), *args.serve_option, *options]
    with serving("imagegen-mock", command, "/_mock/health", port) as mock:
        httpx.put(f"{mock.url}/_mock/accounts/{BROKE}", json={"credits": 0}).raise_for_status()
        run_id = str(int(time.time()))
        for scenario in scenarios(mock.url, run_id):
            if (args.only and scenario.profile not in args.only) or (only and scenario.name != only):
                continue
            # The machine's speed drifts over a run: each scenario is compared with the baseline of its moment.
            adjacent, _ = costed(post, args.seconds, args.warmup, scenario.connections)
            servers = [mock, *([redis] if redis else [])]
            result, cpu = costed(scenario.load, args.seconds, args.warmup, scenario.connections, *servers)
            rows.append(row(scenario.profile + on, scenario.name, result, mock.peak_rss_mib(), adjacent, cpu))
            print(rows[-1], flush=True)
        return [
            f"Start-up to the first answer{on}: {mock.started_seconds:.2f} s.",
            f"Resident memory after the load{on}: {mock.rss_mib():.0f} MiB (peak {mock.peak_rss_mib():.0f} MiB).",
        ]


def measure_peers(args: argparse.Namespace, baseline: Load) -> list[str]:
    """Prism and WireMock on an equivalent endpoint (a static answer), under the same load."""
    from . import peers

    peers.install()
    rows = []
    for start, warmup in ((peers.prism, args.warmup), (peers.wiremock, max(args.warmup, PEER_JIT_WARMUP_SECONDS))):
        with start() as server:
            load = Load("POST", server.url + peers.PATH, {"Content-Type": "application/json"}, '{"prompt": "a cat"}')
            adjacent, _ = costed(baseline, args.seconds, args.warmup, 16)
            result, cpu = costed(load, args.seconds, warmup, 16, server)
            rows.append(row("peer", server.name, result, server.peak_rss_mib(), adjacent, cpu))
            print(rows[-1], flush=True)
    return rows


def costed(load: Load, seconds: float, warmup: float, connections: int, *servers: Server) -> tuple[Result, list[float]]:
    """The load's result after `warmup`, and the CPU time each of `servers` spent on a request of it (µs)."""
    if warmup:
        run(load, warmup, connections)
    before = [server.cpu_seconds() for server in servers]
    result = run(load, seconds, connections)
    spent = [server.cpu_seconds() - then for server, then in zip(servers, before, strict=True)]
    return result, [cpu * 1e6 / max(result.requests, 1) for cpu in spent]


def row(profile: str, name: str, result: Result, rss: float, reference: Result, cpu: list[float]) -> str:
    failures = f" ({result.errors} socket errors)" if result.errors else ""
    ratio = result.requests_per_second / reference.requests_per_second
    return (f"| {profile} | {name} | {result.requests_per_second:,.0f}{failures} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {rss:.0f} | {' + '.join(f'{us:,.0f}' for us in cpu)} | {ratio:.0%} |")  # fmt: skip


def kit_time() -> str:
    """`imagegen-mock check --profile all`: every profile against its bundled mock, as many at once as cores."""
    started = time.perf_counter()
    done = subprocess.run([SCRIPT, "check", "--profile", "all"], capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    each = re.findall(r"^imagegen-mock check: (\w+) against.*?^(\d+ passed.*? in [\d.]+s)", done.stdout, re.M | re.S)
    verdict = "passed" if done.returncode == 0 else "FAILED"
    details = "; ".join(f"{profile}: {summary}" for profile, summary in each)
    return (
        f"The kit over every profile (`imagegen-mock check --profile all`), {verdict}: {wall:.0f} s wall ({details})."
    )


def cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="measured seconds a scenario [5]")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds before each [1]")
    parser.add_argument("--only", nargs="*", help="only these profiles")
    parser.add_argument("--no-kit", action="store_true", help="leave out the timing of the kit")
    parser.add_argument("--peers", action="store_true", help="measure Prism and WireMock too (installs them)")
    parser.add_argument("--redis", action="store_true", help="the metadata paths again, the state in a redis-server")
    parser.add_argument("--serve-option", action="append", default=[], help="one more option for imagegen-mock serve")
    args = parser.parse_args()
    print("\n".join(measure(args)))


if __name__ == "__main__":
    main()

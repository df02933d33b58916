"""`python -m benchmarks.soak`: tens of thousands of requests of every kind against one mock, and its
resident memory as they go. The journal, the files, the image cache and the gallery are bounded, so the
memory must level off instead of growing with the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
from pathlib import Path

import httpx

from .servers import free_port, serving

SCRIPT = str(Path(sys.executable).with_name("imagegen-mock"))
KEY = "soak-key"
FORM = {"model": "imagen-4"}
MIB = 1024 * 1024


def requests(i: int) -> tuple[str, str, dict, dict | None, dict | None]:
    """The i-th request of the mix: paid generations with new prompts, cached ones, errors, reads, jobs, and the
    large: a new prompt just within Vydra's cap, one eight times over it, a new 1 MiB header."""
    bearer, goog = {"Authorization": f"Bearer {KEY}"}, {"x-goog-api-key": KEY}
    prompt, flash = f"soak {i}", "gemini-2.5-flash-image"
    large_prompt, large_header = f"{i} " + "p" * 131_000, {"X-Trace": f"{i}" + "h" * MIB}
    mix = [
        ("POST", "/vydra/api/v1/models/gemini/generate", bearer, {"prompt": prompt}, None),
        ("POST", "/vydra/api/v1/models/gemini/generate", bearer, {"prompt": "cached"}, None),
        ("POST", "/vydra/api/v1/models/gemini/generate", bearer, {}, None),
        ("POST", "/llmgateway/v1/images/generations", bearer, {"prompt": prompt, "model": flash}, None),
        ("POST", "/llmgateway/v1/images/generations", bearer, {"prompt": "x", "n": 0}, None),
        ("POST", f"/google/v1beta/models/{flash}:generateContent", goog,
         {"contents": [{"parts": [{"text": prompt}]}]}, None),
        ("POST", "/geminigen/uapi/v1/generate_image", {"x-api-key": KEY}, None, FORM | {"prompt": prompt}),
        ("GET", "/vydra/api/v1/organization", bearer, None, None),
        ("GET", "/_mock/requests?limit=10", {}, None, None),
        ("POST", "/vydra/api/v1/models/gemini/generate", bearer, {"prompt": large_prompt}, None),
        ("POST", "/vydra/api/v1/models/gemini/generate", bearer, {"prompt": large_prompt * 8}, None),
        ("GET", "/vydra/api/v1/organization", bearer | large_header, None, None),
    ]  # fmt: skip
    return mix[i % len(mix)]


async def soak(base: str, total: int, concurrency: int, every: int, rss) -> list[tuple[int, float]]:
    samples = [(0, rss())]
    counter = itertools.count()
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:

        async def worker() -> None:
            while (i := next(counter)) < total:
                method, path, headers, body, form = requests(i)
                await client.request(method, path, headers=headers, json=body, data=form)
                if (i + 1) % every == 0:
                    samples.append((i + 1, rss()))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sorted(samples)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--every", type=int, default=3_000, help="requests between two memory readings")
    args = parser.parse_args()
    port = free_port()
    command = [SCRIPT, "serve", "--port", str(port), "--credits", str(10**12), "--sync-jobs"]
    with serving("imagegen-mock", command, "/_mock/health", port) as mock:
        samples = asyncio.run(soak(mock.url, args.requests, args.concurrency, args.every, mock.rss_mib))
        peak = mock.peak_rss_mib()
    print("| requests | resident MiB |\n|---|---|")
    print("\n".join(f"| {count:,} | {rss:.0f} |" for count, rss in samples))
    print(f"\npeak {peak:.0f} MiB over {args.requests:,} requests ({args.concurrency} at a time)")


if __name__ == "__main__":
    main()

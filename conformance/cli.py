"""`imagegen-mock check`: run the kit from the command line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

import contracts

from . import report, reports
from .runner import PROFILES_CHECKED, behaviours_of, bundled_mock, plan, run_check
from .target import Target

EXAMPLES_LOCAL = 10
EXAMPLES_REMOTE = 1
REMOTE_BUDGET = 3  # billable requests, against a server that is not on this machine
REMOTE_RATE = 2.0  # requests a second
KEY_VARIABLE = "API_KEY"  # what a reproducer calls the key when it was not given in a variable
ALL = "all"  # --profile all: every profile, against the bundled mock


def run(args: argparse.Namespace) -> int:
    if args.profile == ALL:
        return run_every_profile(args)
    if args.profile not in PROFILES_CHECKED:
        print(f"imagegen-mock check: the kit has no checks of the {args.profile} profile yet", file=sys.stderr)
        return 2
    try:
        targets = target_of(args)
    except ValueError as problem:
        print(f"imagegen-mock check: {problem}", file=sys.stderr)
        return 2
    with targets as target:
        examples = args.examples or (EXAMPLES_LOCAL if target.loopback else EXAMPLES_REMOTE)
        budget = args.budget if args.budget is not None else (None if target.loopback else REMOTE_BUDGET)
        rate = args.rate if args.rate is not None else (None if target.loopback else REMOTE_RATE)
        if args.plan:
            print(planned(args, target, examples, budget))
            return 0
        print(report.header(args.profile, target, budget), flush=True)
        result = run_check(
            target,
            examples=examples,
            seed=args.seed,
            schema=not args.no_schema,
            free_only=args.free_only,
            budget=budget,
            rate=rate,
            on_start=lambda note: print(note, flush=True),
            on_verdict=report.progress(len(behaviours_of(args.profile, not args.no_schema)), sys.stdout),
        )
        print(report.totals(result), flush=True)
        reports.write(
            result, key=target.api_key, key_variable=args.api_key_env or KEY_VARIABLE,
            json_path=args.json, junit_path=args.junit_xml, html_path=args.html,
        )  # fmt: skip
    return result.exit_code


def run_every_profile(args: argparse.Namespace) -> int:
    """Check every profile against the bundled mock, a process per profile, as many at once as there are cores."""
    if args.base_url or args.json or args.junit_xml or args.html or args.plan:
        print(f"imagegen-mock check: --profile {ALL} checks the bundled mocks only, and writes no report file",
              file=sys.stderr)  # fmt: skip
        return 2
    started = time.perf_counter()
    options = [*(["--examples", str(args.examples)] if args.examples else []), "--seed", str(args.seed),
               *(["--no-schema"] if args.no_schema else []), *(["--free-only"] if args.free_only else [])]  # fmt: skip

    def check(profile: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mockserver", "check", "--profile", profile, *options]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        results = dict(zip(PROFILES_CHECKED, pool.map(check, PROFILES_CHECKED), strict=True))
    for result in results.values():
        print(result.stdout.rstrip(), result.stderr.rstrip(), sep="\n" if result.stderr else "", flush=True)
    failed = [profile for profile, result in results.items() if result.returncode]
    verdict = f"failed: {', '.join(failed)}" if failed else "every profile passed"
    print(f"imagegen-mock check --profile {ALL}: {verdict}, in {time.perf_counter() - started:.1f}s", flush=True)
    return max(result.returncode for result in results.values())


def planned(args: argparse.Namespace, target: Target, examples: int, budget: int | None) -> str:
    """What a run would do: each behaviour, the paid requests it needs, and whether it would run."""
    behaviours = behaviours_of(args.profile, not args.no_schema)
    controllable = True if args.base_url is None else None  # a given server is not asked: the plan sends nothing
    left_out = plan(behaviours, examples, budget, args.free_only, controllable)
    lines = [f"imagegen-mock check --plan: {args.profile} against {target} ({examples} example(s) per behaviour, "
             f"budget {'unlimited' if budget is None else budget}); nothing is sent"]  # fmt: skip
    dollars = contracts.load(args.profile).get("x-credit-dollars")
    for b in behaviours:
        cost = b.paid_calls(examples)
        price = f"{cost} paid request(s)" if cost else "free"
        if cost and dollars is not None:
            price += f", {in_dollars(b.price, cost, dollars)}"
        if b.name in left_out:
            verdict, why = "SKIP", left_out[b.name]
        elif b.needs_control and controllable is None:
            verdict, why = "RUN?", "only if the target is an imagegen-mock, which can force this failure"
        else:
            verdict, why = "RUN", ""
        lines.append(f"  {verdict:<5} {b.name:<40} {price:<36} {why}".rstrip())
    running = [b for b in behaviours if b.name not in left_out and not (b.needs_control and controllable is None)]
    paid = sum(b.paid_calls(examples) for b in running)
    total = f"at most {paid} paid request(s) in all"
    paying = [b for b in running if b.paid_calls(examples)]
    if dollars is not None and any(b.price is not None for b in paying):
        spent = sum(b.paid_calls(examples) * b.price for b in paying if b.price is not None)
        unknown = sum(b.paid_calls(examples) for b in paying if b.price is None)
        total += f", at most ${spent * dollars:.3f} at the contract's image prices"
        total += f" besides {unknown} whose price is not stated" if unknown else ""
    lines.append(total)
    return "\n".join(lines)


def in_dollars(price: int | None, requests: int, dollars: float) -> str:
    """At most what `requests` paid requests of at most `price` credits cost, in US dollars."""
    return f"at most ${requests * price * dollars:.3f}" if price is not None else "price not stated"


def target_of(args: argparse.Namespace) -> AbstractContextManager[Target]:
    if args.base_url is None:
        if args.api_key or args.api_key_env:
            raise ValueError("--api-key and --api-key-env need --base-url (the bundled mock has its own key)")
        return bundled_mock(args.profile)
    key = args.api_key or (os.environ.get(args.api_key_env) if args.api_key_env else None)
    if not key:
        source = f"the environment variable {args.api_key_env} is empty or unset" if args.api_key_env else "no key"
        raise ValueError(f"{source}: give the key with --api-key-env NAME (or --api-key KEY)")
    return nullcontext(Target(args.profile, args.base_url.rstrip("/"), key))

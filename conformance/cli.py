"""`imagegen-mock check`: run the kit from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import AbstractContextManager, nullcontext

from . import report
from .runner import bundled_mock, run_check
from .target import Target

EXAMPLES_LOCAL = 10
EXAMPLES_REMOTE = 1


def run(args: argparse.Namespace) -> int:
    try:
        targets = target_of(args)
    except ValueError as problem:
        print(f"imagegen-mock check: {problem}", file=sys.stderr)
        return 2
    with targets as target:
        examples = args.examples or (EXAMPLES_LOCAL if target.loopback else EXAMPLES_REMOTE)
        print(report.header(args.profile, target), flush=True)
        result = run_check(
            target,
            examples=examples,
            seed=args.seed,
            schema=not args.no_schema,
            free_only=args.free_only,
            on_verdict=lambda verdict: report.print_verdict(verdict, sys.stdout),
        )
        print(report.totals(result), flush=True)
    return result.exit_code


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

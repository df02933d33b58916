"""The command line: `imagegen-mock serve | check | contracts`."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from importlib.metadata import version

import uvicorn

import contracts

from .control.admin import served_text
from .dialects.profiles import PROFILES
from .serving import serve
from .settings import SettingsError, default_of, env_name, flag_fields, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """`imagegen-mock [COMMAND] ...`; without a command it serves."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SettingsError as error:
        print(f"imagegen-mock: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagegen-mock",
        description="An offline mock server and conformance kit for paid image-generation APIs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('imagegen-mock')}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the mock server (the default command)")
    serve.add_argument("--config", metavar="FILE", help=f"a TOML, YAML or JSON file of settings [{env_name('config')}]")
    for f in flag_fields():
        add_setting_flag(serve, f)
    serve.set_defaults(run=run_serve)

    check = commands.add_parser("check", help="check a server (the bundled mock by default) against a profile")
    check.add_argument("--profile", required=True, choices=[*sorted(PROFILES), "all"],
                       help="the service to check (all: every profile, against the bundled mock)")  # fmt: skip
    check.add_argument("--base-url", help="the server to check; without it, the bundled mock is checked in-process")
    check.add_argument("--api-key", help="the API key to use (prefer --api-key-env: a command line is visible)")
    check.add_argument("--api-key-env", metavar="NAME", help="read the API key from this environment variable")
    check.add_argument("--examples", type=int, default=None, help="Hypothesis examples per behaviour")
    check.add_argument("--seed", type=int, default=0, help="seed of the generated test data")
    check.add_argument("--no-schema", action="store_true", help="skip the Schemathesis schema conformance run")
    check.add_argument("--free-only", action="store_true", help="send only requests that cost no credits")
    check.add_argument(
        "--budget", type=int, metavar="N", help="at most N billable requests (default: 3 for a remote server, no limit "
        "for a loopback one)"
    )  # fmt: skip
    check.add_argument("--rate", type=float, metavar="R", help="at most R requests a second (default: 2 for a remote "
                       "server, no limit for a loopback one)")  # fmt: skip
    check.add_argument(
        "--plan", action="store_true", help="print the checks and the paid requests each needs; send nothing"
    )
    check.add_argument("--json", metavar="FILE", help="write the report as JSON")
    check.add_argument("--junit-xml", metavar="FILE", help="write the report as JUnit XML")
    check.add_argument("--html", metavar="FILE", help="write the report as one self-contained HTML page")
    check.set_defaults(run=run_check)

    proxy = commands.add_parser("proxy", help="forward to a real service, checking every exchange against a profile")
    proxy.add_argument("--profile", required=True, choices=sorted(PROFILES), help="the service behind the upstream")
    proxy.add_argument("--upstream", required=True, help="the real service's base URL, such as https://vydra.app")
    proxy.add_argument("--host", default="127.0.0.1", help="address to listen on [default: 127.0.0.1]")
    proxy.add_argument("--port", type=int, default=8001, help="port to listen on [default: 8001]")
    proxy.add_argument("--record", metavar="DIR", help="save each exchange, secrets redacted, for serve --replay")
    proxy.add_argument("--report", metavar="FILE", help="append each violation to this file, as JSON lines")
    proxy.set_defaults(run=run_proxy)

    catalogue = commands.add_parser("scenarios", help="list the documented behaviours each profile can be made to show")
    catalogue.add_argument("--profile", choices=sorted(PROFILES), help="only this profile's")
    catalogue.add_argument("--markdown", action="store_true", help="the README's tables of forced faults")
    catalogue.add_argument("--broken-connections", action="store_true", help="also each way a connection can break")
    catalogue.set_defaults(run=run_scenarios)

    listing = commands.add_parser("contracts", help="list the OpenAPI contracts, or print one")
    listing.add_argument("name", nargs="?", choices=contracts.names(), help="the contract to print")
    listing.set_defaults(run=run_contracts)
    return parser


def add_setting_flag(parser: argparse.ArgumentParser, f) -> None:
    default = default_of(f)
    name = "--" + f.name.replace("_", "-")
    help_text = f"{f.metadata['help']} [{env_name(f.name)}; default: {default}]"
    if isinstance(default, bool):
        parser.add_argument(name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
    else:
        parser.add_argument(name, default=None, metavar=type(default).__name__.upper(), help=help_text)


def run_serve(args: argparse.Namespace) -> int:
    flags = {f.name: getattr(args, f.name) for f in flag_fields()}
    return serve(load_settings(flags, config_file=args.config))


def run_check(args: argparse.Namespace) -> int:
    from conformance.cli import run

    return run(args)


def run_proxy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from conformance.proxy import create_proxy

    app = create_proxy(
        args.profile,
        args.upstream,
        record=Path(args.record) if args.record else None,
        report=Path(args.report) if args.report else None,
    )
    print(f"imagegen-mock proxy: {args.profile} at http://{args.host}:{args.port} -> {args.upstream}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def run_scenarios(args: argparse.Namespace) -> int:
    from . import broken_connections
    from .scenarios import README_TABLES, markdown, scenarios

    if args.markdown:
        chosen = {args.profile: f"{args.profile} answers"} if args.profile else README_TABLES
        tables = [markdown(profile, heading) for profile, heading in chosen.items()]
        print("\n\n".join(tables + ([broken_connections.markdown()] if args.broken_connections else [])))
        return 0
    for profile in PROFILES if args.profile is None else [args.profile]:
        broken = broken_connections.broken_connections(profile) if args.broken_connections else []
        for s in scenarios(profile) + broken:
            trigger = f"fault {s.fault}" if s.fault else ("balance " + str(s.credits) if s.credits is not None else "")
            print(f"{s.id:<40} {s.status or '---'}  {trigger:<28} {s.answers}")
    return 0


def run_contracts(args: argparse.Namespace) -> int:
    if args.name:
        sys.stdout.write(served_text(args.name, PROFILES))
    else:
        for name in contracts.names():
            print(f"{name:<12} imagegen-mock contracts {name}")
    return 0

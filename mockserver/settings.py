"""Every setting of the mock server, in one frozen object.

A value comes from the first of: a command-line flag, an ``IMAGEGEN_MOCK_<NAME>`` environment
variable, the config file (TOML, YAML or JSON), the default below.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .wire.hosts import is_loopback

ENV_PREFIX = "IMAGEGEN_MOCK_"
MIB = 1024 * 1024
MAX_CREDITS = 2**63 - 1  # the largest balance the ledger keeps: SQLite's largest integer, for --data-dir


class SettingsError(ValueError):
    """A setting has a value the mock cannot use; the message says which and why."""


def option(default: Any, help: str, *, flag: bool = True) -> Any:
    return field(default=default, metadata={"help": help, "flag": flag})


@dataclass(frozen=True)
class Settings:
    host: str = option("127.0.0.1", "address to listen on")
    port: int = option(8000, "port to listen on")
    seed: int = option(0, "seed of images and identifiers: the same seed and request give the same bytes")
    credits: int = option(1000, "starting balance of an API key the mock has not seen before")
    strict_keys: bool = option(False, "refuse API keys that are not listed under [accounts] in the config file")
    accounts_max_count: int = option(10_000, "accounts opened by a key's first request that are remembered (the least "
                                     "recently used forgotten first; never one given a balance)")  # fmt: skip
    latency: int = option(0, "milliseconds added before every answer of a service")
    journal_size: int = option(1000, "requests the journal keeps (oldest dropped first)")
    journal_body_kib: int = option(64, "request and response bodies larger than this are not kept whole")
    journal_mib: int = option(64, "memory the journal may take, headers included (oldest requests dropped first)")
    files_max_count: int = option(2000, "generated files the mock keeps serving (oldest dropped first)")
    files_max_mib: int = option(512, "total size of the generated files the mock keeps serving")
    workers: int = option(
        1, "processes that draw and encode images (1: threads of the server), state kept in one; with --state, "
        "processes that serve HTTP, each drawing its own"
    )  # fmt: skip
    image_cache_mib: int = option(128, "memory for rendered images, reused by identical requests")
    timeout_seconds: float = option(30.0, "how long a forced 'timeout' fault holds a request before answering")
    job_seconds_unstable: float = option(12.0, "how long an asynchronous job in service_mode unstable takes")
    job_seconds_stable: float = option(6.0, "how long an asynchronous job in service_mode stable takes")
    sync_jobs: bool = option(False, "finish asynchronous jobs within the request that creates them")
    frozen_clock: bool = option(False, "stop the mock's clock: it moves only when advanced through the admin API")
    jobs_max_count: int = option(10_000, "finished jobs the mock remembers (oldest forgotten first)")
    max_request_mib: float = option(64.0, "largest request body the mock reads, in MiB; a larger one gets 413")
    head_timeout_seconds: float = option(20.0, "how long a request's line and headers may take to arrive (serve)")
    max_connections: int = option(1000, "open connections kept; past it the one waiting longest for a head is closed")
    upload_max_mib: float = option(10.0, "largest image a client may upload, in MiB")
    upload_max_pixels: int = option(50_000_000, "largest image a client may upload, in pixels")
    webhook_hosts: str = option("", "hosts besides loopback that webhooks may go to, comma-separated")
    webhook_retries: int = option(3, "retries of a webhook delivery that failed")
    webhook_backoff_seconds: float = option(1.0, "wait before the first webhook retry; it doubles each time")
    replay: str = option("", "a folder recorded by `imagegen-mock proxy --record`: matching requests get its answers")
    data_dir: str = option("", "folder that keeps accounts, the ledger, jobs and generated files across restarts")
    state: str = option("", "redis://HOST:PORT/DB: the state (accounts, ledger, jobs, files, journal, faults, clock) "
                        "shared with every server on it")  # fmt: skip
    admin_token: str = option("", "token the control API (/_mock/) requires; needed to listen beyond loopback")
    allowed_hosts: str = option(
        "", "host names besides this machine's that the control API answers to, comma-separated"
    )
    public_url: str = option("", "base URL clients reach the mock at, for the URLs in its answers (behind a proxy)")
    accounts: Mapping[str, int] = field(
        default_factory=dict,
        metadata={"help": "API keys and their starting balances (config file only)", "flag": False},
    )

    def __post_init__(self) -> None:
        for f in flag_fields():
            value = getattr(self, f.name)
            if f.name != "seed" and isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise SettingsError(f"{f.name} must not be negative, got {value}")
        if self.credits > MAX_CREDITS:
            raise SettingsError(f"credits must be at most {MAX_CREDITS}, got {self.credits}")
        if self.max_connections < 1 or self.head_timeout_seconds <= 0:
            raise SettingsError("max_connections must be at least 1, and head_timeout_seconds more than 0")
        if self.workers < 1:
            raise SettingsError(f"workers must be at least 1, got {self.workers}")
        if self.port > 65535:
            raise SettingsError(f"port must be at most 65535, got {self.port}")
        if not self.admin_token and not is_loopback(self.host):
            raise SettingsError(
                f"listening on {self.host} opens the control API beyond this machine: give --admin-token "
                f"(or {env_name('admin_token')}) so that only who has it can reset, fund or fault the mock"
            )
        if self.public_url and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", self.public_url):
            raise SettingsError(
                f"public_url: expected an http or https URL such as http://mock.internal:8000, got {self.public_url!r}"
            )
        if self.state and not re.fullmatch(r"rediss?://\S+", self.state):
            raise SettingsError(f"state: expected a Redis URL such as redis://127.0.0.1:6379/0, got {self.state!r}")
        if self.state and self.data_dir:
            raise SettingsError("state and data_dir: the state is kept in Redis or in a folder, not both")
        if self.replay and not Path(self.replay).is_dir():
            raise SettingsError(f"replay: {self.replay} is not a folder of recordings")
        for key, credits in self.accounts.items():
            if not isinstance(key, str) or not key:
                raise SettingsError(f"accounts: every API key must be a non-empty string, got {key!r}")
            if isinstance(credits, bool) or not isinstance(credits, int) or not 0 <= credits <= MAX_CREDITS:
                raise SettingsError(f"accounts: the balance of {key!r} must be a whole number from 0 to {MAX_CREDITS}")

    @property
    def allowed_host_names(self) -> frozenset[str]:
        return frozenset(name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip())

    # The limits given in MiB, in bytes.

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mib * MIB)

    @property
    def upload_max_bytes(self) -> int:
        return int(self.upload_max_mib * MIB)

    @property
    def journal_bytes(self) -> int:
        return self.journal_mib * MIB

    @property
    def serving_processes(self) -> int:
        """Processes answering HTTP: --workers of them where they share a state in Redis, else one."""
        return self.workers if self.state else 1

    @property
    def files_max_bytes(self) -> int:
        return self.files_max_mib * MIB

    @property
    def image_cache_bytes(self) -> int:
        return self.image_cache_mib * MIB


def flag_fields() -> list[Field]:
    """The settings that also exist as command-line flags and environment variables."""
    return [f for f in fields(Settings) if f.metadata["flag"]]


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def default_of(f: Field) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


def parse_value(f: Field, raw: Any, origin: str) -> Any:
    """Turn a raw value (text from a flag or variable, or a value from a file) into the field's type."""
    kind = type(default_of(f))
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{origin}: expected true or false, got {raw!r}")
    if kind in (int, float):
        if isinstance(raw, bool):
            raise SettingsError(f"{origin}: expected a number, got {raw!r}")
        try:
            if kind is int and isinstance(raw, float) and not raw.is_integer():
                raise ValueError(raw)
            return kind(raw)
        except (TypeError, ValueError):
            word = "a whole number" if kind is int else "a number"
            raise SettingsError(f"{origin}: expected {word}, got {raw!r}") from None
    if kind is dict:
        if not isinstance(raw, Mapping):
            raise SettingsError(f"{origin}: expected a table of API key = credits")
        return dict(raw)
    return str(raw)


def read_config_file(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"cannot read config file {path}: {error.strerror or error}") from None
    try:
        if file.suffix == ".toml":
            data = tomllib.loads(text)
        elif file.suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as error:
        raise SettingsError(f"config file {path} is not valid: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must hold a table of settings")
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Merge defaults, the config file, the environment and flags (later wins) into Settings."""
    flags = {name: value for name, value in (flags or {}).items() if value is not None}
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(env_name("config"))
    by_name = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    if config_file:
        for name, raw in read_config_file(config_file).items():
            if name not in by_name:
                known = ", ".join(sorted(by_name))
                raise SettingsError(f"config file {config_file}: unknown setting {name!r} (known: {known})")
            values[name] = parse_value(by_name[name], raw, f"{config_file}: {name}")
    for f in flag_fields():
        if env_name(f.name) in environ:
            values[f.name] = parse_value(f, environ[env_name(f.name)], env_name(f.name))
    for name, raw in flags.items():
        values[name] = parse_value(by_name[name], raw, "--" + name.replace("_", "-"))
    return Settings(**values)

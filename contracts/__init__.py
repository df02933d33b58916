"""The OpenAPI 3.1 contracts, one per documented service plus the admin API.

They are the single source of truth for request and response shapes: the mock obeys them and the
conformance kit checks servers against them.
"""

from __future__ import annotations

from importlib.resources import files

import yaml

SUFFIX = ".yaml"


def names() -> list[str]:
    return sorted(entry.name.removesuffix(SUFFIX) for entry in files(__name__).iterdir() if entry.name.endswith(SUFFIX))


def text(name: str) -> str:
    """The contract as written; KeyError if there is none of that name."""
    if name not in names():
        raise KeyError(name)
    return files(__name__).joinpath(name + SUFFIX).read_text(encoding="utf-8")


def load(name: str) -> dict:
    """The contract as a fresh dictionary, safe to change."""
    return yaml.safe_load(text(name))

"""The OpenAPI 3.1 contracts, one per documented service plus the admin API.

They are the single source of truth for request and response shapes: the mock obeys them and the
conformance kit checks servers against them. A contract that says `x-extends: <base>` is a JSON Merge
Patch (RFC 7386) over that base, so that services sharing a wire format state only what differs.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

SUFFIX = ".yaml"
EXTENDS = "x-extends"


def names() -> list[str]:
    return sorted(entry.name.removesuffix(SUFFIX) for entry in files(__name__).iterdir() if entry.name.endswith(SUFFIX))


def text(name: str) -> str:
    """The whole contract as YAML: as written, or for one that extends a base, the patched whole.

    KeyError if there is none of that name.
    """
    written = _written(name)
    if EXTENDS not in yaml.safe_load(written):
        return written
    return yaml.safe_dump(_resolved(name), sort_keys=False, allow_unicode=True, width=120)


def load(name: str) -> dict:
    """The whole contract (its base patched, if it extends one), as a fresh dictionary, safe to change."""
    return copy.deepcopy(_resolved(name))


def image_sizes(name: str) -> dict:
    """The contract's pixel tables (family -> image size -> ratio -> [width, height]): its own
    `x-image-sizes`, or those of the contract its `x-image-sizes-of` names."""
    borrowed = _resolved(name).get("x-image-sizes-of")
    return load(borrowed or name)["x-image-sizes"]


def _written(name: str) -> str:
    if name not in names():
        raise KeyError(name)
    return files(__name__).joinpath(name + SUFFIX).read_text(encoding="utf-8")


@cache
def _resolved(name: str) -> dict:
    document = yaml.safe_load(_written(name))
    base = document.pop(EXTENDS, None)
    return merge_patch(_resolved(base), document) if base else document


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged

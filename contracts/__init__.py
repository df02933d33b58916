"""The OpenAPI 3.1 contracts, one per documented service plus the admin API.

They are the single source of truth for request and response shapes: the mock obeys them and the
conformance kit checks servers against them. A contract that says `x-extends: <base>` is a JSON Merge
Patch (RFC 7386) over that base, so that services sharing a wire format state only what differs; its
`x-dialect` names that wire format.

Besides the contracts shipped here, `add_folder` makes those of another folder known (`remove_folder`
forgets them), for a service defined outside the project.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

SUFFIX = ".yaml"
EXTENDS = "x-extends"
FOLDERS: list[Traversable] = [files(__name__)]


def add_folder(folder: Path) -> None:
    """Know the contracts in `folder` too (a shipped contract of the same name wins)."""
    FOLDERS.append(folder)


def remove_folder(folder: Path) -> None:
    """Forget the contracts of a folder added before."""
    FOLDERS.remove(folder)
    _resolved.cache_clear()


def names() -> list[str]:
    return sorted({entry.name.removesuffix(SUFFIX) for entry in _entries()})


def services() -> list[str]:
    """The contracts of services (every one that names its wire format, so all but the admin API's)."""
    return [name for name in names() if dialect(name)]


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


def dialect(name: str) -> str | None:
    """The wire format the service speaks (`x-dialect`), None for a contract of no service."""
    return _resolved(name).get("x-dialect")


def image_sizes(name: str) -> dict:
    """The contract's pixel tables (family -> image size -> ratio -> [width, height]): its own
    `x-image-sizes`, or those of the contract its `x-image-sizes-of` names."""
    borrowed = _resolved(name).get("x-image-sizes-of")
    return load(borrowed or name)["x-image-sizes"]


def models(name: str) -> dict[str, dict[str, Any]]:
    """Every model id the contract's `x-models` lists, aliases included, and its model's entry, with the
    model's own id as `name` (an alias answers as the model it names)."""
    entries = load(name)["x-models"]
    return {
        alias: {**entries[entry.get("aliasOf", alias)], "name": entry.get("aliasOf", alias)}
        for alias, entry in entries.items()
    }


@dataclass(frozen=True)
class KeyPlace:
    """Where a service reads the API key: a header, a query parameter, or `Authorization: Bearer <key>`."""

    kind: str  # "header", "query" or "bearer"
    name: str  # the header's or the query parameter's name

    @property
    def prefix(self) -> str:
        """What the key follows in its header."""
        return "Bearer " if self.kind == "bearer" else ""


def key_places(name: str) -> list[KeyPlace]:
    """Where the service reads the API key, in the order of the contract's `security` (its documentation's
    own place first)."""
    contract = _resolved(name)
    schemes = contract["components"]["securitySchemes"]
    places = []
    for option in contract.get("security", []):
        for scheme in (schemes[scheme_name] for scheme_name in option):
            bearer = scheme["type"] == "http" and scheme.get("scheme") == "bearer"
            places.append(KeyPlace("bearer", "Authorization") if bearer else KeyPlace(scheme["in"], scheme["name"]))
    return places


def _entries() -> list[Traversable]:
    return [entry for folder in FOLDERS for entry in folder.iterdir() if entry.name.endswith(SUFFIX)]


def _written(name: str) -> str:
    entry = next((entry for entry in _entries() if entry.name == name + SUFFIX), None)
    if entry is None:
        raise KeyError(name)
    return entry.read_text(encoding="utf-8")


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

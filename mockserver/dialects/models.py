"""The models a profile's contract lists (`x-models`): what each draws, at which pixel sizes, and the rest of
its entry (prices, token counts, catalogue fields), aliases answering as the model they name."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import contracts

from ..images.sizes import image_sizes


@dataclass(frozen=True)
class Model:
    name: str
    entry: Mapping[str, Any]  # its x-models entry
    sizes: Mapping[str, Mapping[str, tuple[int, int]]] | None  # image size -> ratio -> pixels; None: text only

    @property
    def makes_images(self) -> bool:
        return self.sizes is not None

    @property
    def methods(self) -> list[str]:
        """What the Gemini API serves it by (its catalogue entry's supportedGenerationMethods): Imagen, predict."""
        return self.entry.get("methods", ["generateContent", "countTokens"])

    @property
    def input_token_limit(self) -> int:
        """The prompt's tokens the model reads at most (its entry's inputTokenLimit; ListModels gives them)."""
        return self.entry["inputTokenLimit"]

    def image_size(self, asked: str | None) -> str:
        """The size this model draws: the one asked for if it has it, else its smallest (2.5 Flash: always 1K)."""
        sizes = list(self.sizes or ())
        return asked if asked in sizes else sizes[0]


def estimated_tokens(text: str) -> int:
    """Roughly four characters a token, as Google's tokenizers average on English."""
    return max(1, math.ceil(len(text) / 4))


@cache
def models_of(contract: str) -> dict[str, Model]:
    """Every model id the contract lists (aliases included) -> its model."""
    families = image_sizes(contract)
    return {
        alias: Model(entry["name"], entry, families.get(entry.get("sizes", "")))
        for alias, entry in contracts.models(contract).items()
    }

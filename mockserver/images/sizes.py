"""Output pixel sizes of the models behind the services, as the contracts document them."""

from __future__ import annotations

import contracts

# family -> image size ("1K", ...) -> aspect ratio ("16:9", ...) -> (width, height)
SizeTable = dict[str, dict[str, dict[str, tuple[int, int]]]]


def image_sizes(contract: str) -> SizeTable:
    tables = contracts.image_sizes(contract)
    return {
        family: {
            size: {ratio: (width, height) for ratio, (width, height) in ratios.items()}
            for size, ratios in by_size.items()
        }
        for family, by_size in tables.items()
    }


GEMINI = image_sizes("gemini")
GEMINI_25_FLASH = GEMINI["flash-image"]["1K"]
IMAGEN = image_sizes("geminigen")["imagen"]["1K"]

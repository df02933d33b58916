"""Output pixel sizes of the models behind the services, per aspect ratio and image size.

From Google's image-generation documentation (research/apis.md §1.9).
"""

from __future__ import annotations

from fractions import Fraction

# Gemini 2.5 Flash Image: one size ("1K") per ratio.
GEMINI_25_FLASH: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}

# Gemini 3 Pro Image: 1K, 2K and 4K per ratio (2K and 4K are exact multiples of 1K).
GEMINI_3_PRO_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
}
GEMINI_3_PRO: dict[str, dict[str, tuple[int, int]]] = {
    size: {ratio: (w * k, h * k) for ratio, (w, h) in GEMINI_3_PRO_1K.items()}
    for size, k in (("1K", 1), ("2K", 2), ("4K", 4))
}


def ratio_value(ratio: str) -> Fraction:
    """'16:9' -> Fraction(16, 9)."""
    width, height = ratio.split(":")
    return Fraction(int(width), int(height))

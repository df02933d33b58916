"""Output pixel sizes of the models behind the services, per aspect ratio and image size.

Gemini's from Google's image-generation documentation (research/apis.md §1.9); Imagen's as Vertex AI
produces them (the same table in several independent clients).
"""

from __future__ import annotations

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

# Imagen 4 (and 3): five ratios, one size each.
IMAGEN: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "9:16": (768, 1408),
    "16:9": (1408, 768),
}

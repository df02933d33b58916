"""The synthetic images: exact sizes and formats, deterministic bytes, cached renders."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys

import pytest
from PIL import Image, ImageChops

from mockserver.images import ImageSpec, Renderer, draw, encode

SPEC = ImageSpec("a red fox in the snow", 832, 1248, "gemini-2.5-flash-image", "vydra", seed=3)


def render(spec: ImageSpec) -> bytes:
    return encode(draw(spec), spec.format)


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_size_and_format_are_exact(fmt, pil_format):
    spec = ImageSpec("x", 301, 77, "m", "p", format=fmt)

    picture = Image.open(io.BytesIO(render(spec)))

    assert (picture.format, picture.size) == (pil_format, (301, 77))


def test_same_spec_gives_the_same_bytes_in_another_process():
    here = render(SPEC)
    code = (
        "import sys; from mockserver.images import ImageSpec, draw, encode;"
        f"spec = {SPEC!r}; sys.stdout.buffer.write(encode(draw(spec), spec.format))"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout

    assert here == there


@pytest.mark.parametrize("change", [{"prompt": "a red fox in the rain"}, {"seed": 4}, {"model": "other"}])
def test_a_different_request_gives_a_different_image(change):
    assert render(SPEC) != render(ImageSpec(**{**SPEC.__dict__, **change}))


@pytest.mark.parametrize("change", [{"model": "another-model"}, {"profile": "another-profile"}])
def test_model_and_profile_are_written_in_the_caption_band_at_the_bottom(change):
    picture = draw(SPEC)
    relabelled = draw(ImageSpec(**{**SPEC.__dict__, **change}))

    _, top, _, bottom = ImageChops.difference(picture, relabelled).getbbox()

    assert top > SPEC.height * 0.75
    assert bottom <= SPEC.height


def test_the_background_follows_the_prompt():
    other = draw(ImageSpec(**{**SPEC.__dict__, "prompt": "something else entirely"}))

    assert draw(SPEC).getpixel((1, 1)) != other.getpixel((1, 1))


@pytest.mark.parametrize("prompt", ["", "\x00\x07\n\t", "🦊" * 500, "x" * 20_000, "مرحبا بالعالم"])
def test_any_prompt_can_be_drawn(prompt):
    picture = Image.open(io.BytesIO(render(ImageSpec(prompt, 64, 48, "m", "p"))))

    assert picture.size == (64, 48)


def test_renderer_reuses_identical_renders():
    renderer = Renderer(cache_bytes=10 * 1024 * 1024)

    first = asyncio.run(renderer.render(SPEC))
    second = asyncio.run(renderer.render(SPEC))

    assert first is second
    assert first == render(SPEC)

"""The synthetic images: exact sizes and formats, deterministic bytes, cached renders."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import tracemalloc

import pytest
from PIL import Image, ImageChops

from mockserver.images.drawing import draw, encode
from mockserver.images.spec import ImageSpec, variants
from mockserver.state.renderings import Renderer

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
        "import sys; from mockserver.images.spec import ImageSpec; from mockserver.images.drawing import draw, encode;"
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

    assert draw(SPEC).convert("RGB").getpixel((1, 1)) != other.convert("RGB").getpixel((1, 1))


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


def png_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


BASE = Image.linear_gradient("L").resize((300, 200)).convert("RGB")


def test_an_edit_starts_from_its_base():
    picture = draw(ImageSpec("a hat", 300, 200, "m", "p", base=png_of(Image.new("RGB", (300, 200), (10, 200, 30)))))

    red, green, blue = picture.getpixel((150, 20))
    assert green > 150 and red < 80 and blue < 90


def test_a_mask_keeps_every_pixel_outside_its_transparent_region():
    mask = Image.new("RGBA", (300, 200), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 100, 200))

    picture = draw(ImageSpec("a hat", 600, 400, "m", "p", base=png_of(BASE), mask=png_of(mask)))

    resized = BASE.resize((600, 400), Image.Resampling.BICUBIC)
    assert picture.crop((200, 0, 600, 400)).tobytes() == resized.crop((200, 0, 600, 400)).tobytes()
    assert picture.crop((0, 0, 200, 400)).tobytes() != resized.crop((0, 0, 200, 400)).tobytes()


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_a_transparent_background_is_a_real_alpha_channel(fmt):
    picture = Image.open(io.BytesIO(render(ImageSpec("x", 200, 100, "m", "p", format=fmt, transparent=True))))

    assert picture.mode == "RGBA"
    assert picture.getpixel((0, 0))[3] == 0
    assert picture.getpixel((100, 50))[3] == 255


def test_quality_shrinks_jpeg_and_webp():
    for fmt in ("jpeg", "webp"):
        sizes = [len(encode(draw(SPEC), fmt, quality)) for quality in (10, 50, 95)]
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_variants_are_distinct_and_the_first_is_the_request_itself():
    first, second, third = variants(SPEC, 3)

    assert first == SPEC
    assert len({render(first), render(second), render(third)}) == 3


def test_the_image_cache_counts_what_its_keys_hold_too():
    """A key is a spec: its prompt (or an edit's input images) counts against the budget like the bytes drawn."""
    renderer = Renderer(cache_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(16):
            asyncio.run(renderer.render(ImageSpec(f"{i} " + "x" * 256 * 1024, 8, 8, "m", "p"), shown=False))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert held < 2.5 * 1024 * 1024, f"{held / 1024 / 1024:.1f} MiB held for a 1 MiB cache"

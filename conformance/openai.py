"""OpenAI's images API as documented (contracts/openai.yaml, from openai/openai-openapi; research/apis.md §2,
beyond.md §A), as properties checked against a server. Paid checks use the cheapest images (gpt-image-1-mini at
low quality, dall-e-2 at 256x256) wherever the behaviour allows.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import contracts

from .behaviours import Catalogue
from .failures import WrongBody, WrongCharge, WrongHeader, WrongImage, WrongUsage, expect_status
from .llmgateway import assert_error
from .pictures import decode
from .session import FAULT_HEADER, Session, describe

CATALOGUE = Catalogue("openai")

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
CONTRACT = contracts.load("openai")
MODELS: dict[str, dict[str, Any]] = contracts.models("openai")
REFUSALS: dict[str, dict[str, Any]] = CONTRACT["x-refusals"]
GPT_IMAGE = [name for name, entry in MODELS.items() if entry["family"] == "gpt-image"]
DALL_E = [name for name, entry in MODELS.items() if entry["family"] == "dall-e"]
CHEAPEST = {"model": "gpt-image-1-mini", "quality": "low", "size": "1024x1024"}
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
REQUEST_ID = re.compile(CONTRACT["components"]["headers"]["RequestId"]["schema"]["pattern"])

prompts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


def auth(session: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.target.api_key}"}


def post(session: Session, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return session.http.post(GENERATIONS, headers=auth(session) | (headers or {}), json=body)


def answered(response: httpx.Response) -> dict[str, Any]:
    expect_status(response, 200)
    return response.json()


def sized(size: str) -> tuple[int, int]:
    width, height = size.split("x")
    return int(width), int(height)


def drawn_size(model: str, size: str | None) -> str:
    return MODELS[model]["default_size"] if size in (None, "auto") else size


def drawn_quality(model: str, quality: str | None) -> str:
    return MODELS[model]["default_quality"] if quality in (None, "auto") else quality


def price(request: dict[str, Any]) -> int:
    """What a request for images costs, in credits: n times its model's price for the quality and size drawn."""
    model = request["model"]
    table = MODELS[model]["price"][drawn_quality(model, request.get("quality"))]
    return request.get("n", 1) * table[drawn_size(model, request.get("size"))]


GPT_IMAGE_SIZES = ["1024x1024", "1536x1024", "1024x1536", "auto"]
DALL_E_FIRST_SIZES = [{"model": model, "size": MODELS[model]["sizes"][0]} for model in DALL_E]
CHARGED_CHECKS = [{**CHEAPEST, "n": 2}, {"model": "dall-e-2", "size": "256x256", "n": 3},
                  {"model": "gpt-image-1", "quality": "low", "size": "1536x1024"},
                  {"model": "dall-e-3", "size": "1024x1024", "quality": "standard"}]  # fmt: skip
TOOL_SIZES = ["1024x1024", "1536x1024", "1024x1536"]


def assert_refusal(response: httpx.Response, kind: str) -> None:
    refusal = REFUSALS[kind]
    assert_error(response, refusal["status"], type=refusal["type"], code=refusal["code"])


# What a model does not take: a value outside its lists, or a field of the other family.
def outside_the_rules(model: str) -> st.SearchStrategy[dict[str, Any]]:
    entry = MODELS[model]
    every_size = ["256x256", "512x512", "1024x1024", "1536x1024", "1024x1536", "1792x1024", "1024x1792"]
    every_quality = ["standard", "hd", "low", "medium", "high"]
    gpt_image = entry["family"] == "gpt-image"
    foreign = [{"response_format": "url"}, {"style": "vivid"}] if gpt_image else [{"output_format": "png"}]
    cases = [
        st.sampled_from([{"size": s} for s in every_size if s not in entry["sizes"]]),
        st.sampled_from([{"quality": q} for q in every_quality if q not in entry["qualities"]]),
        st.sampled_from([{"n": entry["max_n"] + 1}, {"n": 0}]),
        st.sampled_from(foreign),
    ]
    if model != "dall-e-3" and entry["family"] == "dall-e":
        cases.append(st.just({"style": "natural"}))
    return st.one_of(cases)


@CATALOGUE.behaviour(
    "outside-a-models-rules-400",
    "A size, quality or n the model does not take, or a field of the other family, is a 400 in OpenAI's envelope "
    "with every one of its fields, and costs nothing",
    "openai/openai-openapi CreateImageRequest (each field's per-model rules); research/apis.md §2.5",
)
def outside_a_models_rules(session: Session) -> None:
    @given(data=st.data(), model=st.sampled_from(sorted(MODELS)), prompt=prompts)
    def check(data: st.DataObject, model: str, prompt: str) -> None:
        wrong = data.draw(outside_the_rules(model), label="outside the rules")
        before = session.mock_balance() if session.controllable else None
        response = post(session, {"prompt": prompt, "model": model, **wrong})
        assert_error(response, 400, type="invalid_request_error")
        if before is not None:
            WrongCharge.unless(session.mock_balance() == before, "a refused request was charged")

    session.run(check)


@CATALOGUE.behaviour(
    "keys-refused-401",
    "A missing key, or one the service does not know, is a 401 (invalid_api_key for the unknown one)",
    "research/apis.md §2.5: invalid key 401 invalid_request_error / invalid_api_key",
)
def keys_refused(session: Session) -> None:
    if session.accepts_any_key:
        return "an unknown key is not checked: this mock accepts any key (start it with --strict-keys)"

    @given(key=st.none() | st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=20, max_size=40).map("sk-".__add__))
    def check(key: str | None) -> None:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        response = session.http.post(GENERATIONS, headers=headers, json={"prompt": "a fox"})
        assert_error(response, 401, type="invalid_request_error", code=None if key is None else "invalid_api_key")

    session.run(check)
    return None


@CATALOGUE.behaviour(
    "request-id-on-every-answer",
    "Every answer, an error too, carries x-request-id (req_ and 32 hex digits) and openai-processing-ms",
    "langchain4j/langchain4j#5356 and Zain-ul-din/whatsapp-ai-bot#62 show them; contract RequestId",
)
def request_id_on_every_answer(session: Session) -> None:
    @given(body=st.sampled_from([{"prompt": "a fox", "n": 0}, {"model": "dall-e-2"}, {"prompt": "x", "size": "1x1"}]))
    def check(body: dict[str, Any]) -> None:
        response = post(session, body)
        WrongHeader.unless(REQUEST_ID.fullmatch(response.headers.get("x-request-id", "")), describe(response))
        WrongHeader.unless(response.headers.get("openai-processing-ms", "").isdigit(), describe(response))

    session.run(check)


@CATALOGUE.behaviour(
    "gpt-image-answers-base64-with-usage",
    "A GPT image model answers n base64 images of the size asked for, with the background, output_format, size "
    "and quality used, and usage whose output tokens are the table's for the quality and size",
    "openai/openai-openapi ImagesResponse, ImageGenUsage; OpenAI's image guide, Cost and latency",
    paid=True,
    calls=1,
    examples=3,
    price=max(price({"model": m, "quality": "low", "size": s, "n": 2}) for m in GPT_IMAGE for s in GPT_IMAGE_SIZES),
)
def gpt_image_answers(session: Session) -> None:
    @given(
        model=st.sampled_from(GPT_IMAGE), size=st.sampled_from(GPT_IMAGE_SIZES), count=st.integers(1, 2), prompt=prompts
    )
    def check(model: str, size: str, count: int, prompt: str) -> None:
        body = answered(post(session, {"prompt": prompt, "model": model, "quality": "low", "size": size, "n": count}))
        made = drawn_size(model, size)
        found = [decode(base64.b64decode(item.get("b64_json", "")), "a b64_json image") for item in body["data"]]
        WrongImage.unless([p.size for p in found] == [sized(made)] * count, f"{[p.size for p in found]} for {made}",
                          expected=[sized(made)] * count, got=[p.size for p in found])  # fmt: skip
        shown = (body.get("size"), body.get("quality"), body.get("output_format"), body.get("background"))
        WrongBody.unless(shown == (made, "low", "png", "opaque"), f"the answer says {shown}")
        usage = body.get("usage", {})
        tokens = count * MODELS[model]["image_tokens"]["low"][made]
        WrongUsage.unless(usage.get("output_tokens") == tokens, f"usage {usage}", expected=tokens,
                          got=usage.get("output_tokens"))  # fmt: skip
        WrongUsage.unless(usage.get("total_tokens") == usage.get("input_tokens", 0) + tokens, f"usage {usage}")

    session.run(check)


@CATALOGUE.behaviour(
    "output-format-and-alpha-are-real",
    "output_format's bytes are that format, and a transparent background has pixels of alpha 0",
    "openai/openai-openapi CreateImageRequest: output_format, background (transparent needs png or webp)",
    paid=True,
    examples=3,
    price=price(CHEAPEST),
)
def output_format_and_alpha(session: Session) -> None:
    @given(output_format=st.sampled_from(sorted(FORMATS)), transparent=st.booleans())
    def check(output_format: str, transparent: bool) -> None:
        background = "transparent" if transparent and output_format != "jpeg" else "opaque"
        body = answered(post(session, {**CHEAPEST, "prompt": "an apple", "output_format": output_format,
                                       "background": background}))  # fmt: skip
        picture = decode(base64.b64decode(body["data"][0]["b64_json"]), "the image")
        WrongImage.unless(picture.format == FORMATS[output_format], f"{picture.format} bytes for {output_format}",
                          expected=FORMATS[output_format], got=picture.format)  # fmt: skip
        if background == "transparent":
            alpha = picture.convert("RGBA").getextrema()[3][0]
            WrongImage.unless(alpha == 0, f"a transparent background, yet no pixel is see-through (alpha {alpha})")

    session.run(check)


@CATALOGUE.behaviour(
    "dall-e-url-serves-the-image",
    "dall-e answers a URL that serves a PNG of the size asked for (dall-e-3 with a revised_prompt), or b64_json",
    "openai/openai-openapi Image (url: dall-e only, valid for 60 minutes; revised_prompt: dall-e-3 only)",
    paid=True,
    calls=1,
    examples=2,
    price=max(map(price, DALL_E_FIRST_SIZES)),
)
def dall_e_urls(session: Session) -> None:
    @given(drawn=st.sampled_from(DALL_E_FIRST_SIZES), inline=st.booleans())
    def check(drawn: dict[str, str], inline: bool) -> None:
        model, size = drawn["model"], drawn["size"]
        request = {"prompt": "a fox", **drawn, "response_format": "b64_json" if inline else "url"}
        item = answered(post(session, request))["data"][0]
        if inline:
            content = base64.b64decode(item.get("b64_json", ""))
        else:
            served = session.http.get(item.get("url", ""))
            expect_status(served, 200)
            content = served.content
        picture = decode(content, "the image")
        WrongImage.unless(picture.size == sized(size), f"{picture.size} for {size}")
        revises = bool(MODELS[model].get("revises_prompt"))
        WrongBody.unless(("revised_prompt" in item) == revises, f"revised_prompt for {model}: {sorted(item)}")

    session.run(check)


@CATALOGUE.behaviour(
    "charged-the-published-price",
    "On a mock, a call takes n times its model's price for the quality and size (tenths of a cent), once",
    "contract x-models prices: litellm's model_prices_and_context_window.json and OpenAI's pricing",
    paid=True,
    needs_control=True,
    examples=4,
    price=max(map(price, CHARGED_CHECKS)),
)
def charged_the_published_price(session: Session) -> None:
    @given(request=st.sampled_from(CHARGED_CHECKS))
    def check(request: dict[str, Any]) -> None:
        cost = price(request)
        before = session.mock_balance()
        answered(post(session, {"prompt": "a fox", **request}))
        taken = before - session.mock_balance()
        WrongCharge.unless(taken == cost, f"{request} took {taken}, its price is {cost}", expected=cost, got=taken)

    session.run(check)


@CATALOGUE.behaviour(
    "no-quota-429",
    "An account that cannot pay is refused with 429 insufficient_quota, and nothing is taken",
    "research/beyond.md §A: no credit is 429 insufficient_quota; ChatGPTNextWeb/NextChat#3664 quotes the body",
    needs_control=True,
)
def no_quota(session: Session) -> None:
    @given(short=st.integers(1, MODELS["dall-e-3"]["price"]["standard"]["1024x1024"]))
    def check(short: int) -> None:
        credits = MODELS["dall-e-3"]["price"]["standard"]["1024x1024"] - short
        with session.credits_set_to(credits):
            assert_refusal(post(session, {"prompt": "a fox", "model": "dall-e-3"}), "insufficient-credits")
            WrongCharge.unless(session.mock_balance() == credits, "a refused request took credits")

    session.run(check)


@CATALOGUE.behaviour(
    "forced-failures-as-documented",
    "Moderation, rate limits and server errors are refused as x-refusals says (a 429 with Retry-After), and "
    "nothing is taken",
    "contract x-refusals; research/beyond.md §A (moderation_blocked 400 image_generation_user_error)",
    needs_control=True,
)
def forced_failures(session: Session) -> None:
    @given(fault=st.sampled_from(["content-policy", "rate-limit", "server-error", "overloaded"]))
    def check(fault: str) -> None:
        before = session.mock_balance()
        response = post(session, {**CHEAPEST, "prompt": "a fox"}, {FAULT_HEADER: fault})
        assert_refusal(response, fault)
        if fault == "rate-limit":
            WrongHeader.unless(response.headers.get("retry-after", "").isdigit(), "a 429 without Retry-After")
        WrongCharge.unless(session.mock_balance() == before, f"{fault}: the balance moved from {before}")

    session.run(check)


@CATALOGUE.behaviour(
    "streaming-events",
    "stream: true answers partial_images partial_image events, indexed from 0, then one completed event with "
    "usage; every event's image decodes",
    "openai/openai-openapi ImageGenStreamEvent (image_generation.partial_image, image_generation.completed)",
    paid=True,
    examples=2,
    price=price(CHEAPEST),  # OpenAI adds output tokens for each partial image
)
def streaming_events(session: Session) -> None:
    @given(partials=st.integers(0, 3))
    def check(partials: int) -> None:
        response = post(session, {**CHEAPEST, "prompt": "a fox", "stream": True, "partial_images": partials})
        expect_status(response, 200)
        events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
        kinds = [(e.get("type"), e.get("partial_image_index")) for e in events]
        expected = [("image_generation.partial_image", i) for i in range(partials)]
        WrongBody.unless(kinds == [*expected, ("image_generation.completed", None)], f"events {kinds}")
        for e in events:
            decode(base64.b64decode(e.get("b64_json", "")), e.get("type", "an event"))
        WrongUsage.unless("output_tokens" in events[-1].get("usage", {}), "the completed event has no usage")

    session.run(check)


@CATALOGUE.behaviour(
    "edit-changes-only-the-masked",
    "An edit with a mask answers an image of the input's size whose pixels outside the mask's transparent part "
    "are the input's",
    "openai/openai-openapi CreateImageEditRequest: mask ('fully transparent areas indicate where image should be "
    "edited')",
    paid=True,
    examples=1,
    price=price(CHEAPEST),  # and the input image's tokens
)
def edit_changes_only_the_masked(session: Session) -> None:
    source = png(Image.new("RGBA", (1024, 1024), (30, 60, 150, 255)))
    mask_image = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask_image.paste((0, 0, 0, 0), (0, 0, 1024, 512))
    mask = png(mask_image)

    @given(prompt=prompts)
    def check(prompt: str) -> None:
        files = {"image": ("in.png", source, "image/png"), "mask": ("mask.png", mask, "image/png")}
        data = {"prompt": prompt, "model": "gpt-image-1-mini", "quality": "low", "size": "1024x1024"}
        body = answered(session.http.post(EDITS, headers=auth(session), files=files, data=data))
        edited = decode(base64.b64decode(body["data"][0]["b64_json"]), "the edit").convert("RGBA")
        WrongImage.unless(edited.getpixel((512, 900)) == (30, 60, 150, 255), "a pixel outside the mask changed")

    session.run(check)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@CATALOGUE.behaviour(
    "responses-image-tool",
    "The Responses API with the image_generation tool answers one completed image_generation_call whose base64 "
    "result is an image of the tool's size; streamed, its events are numbered in order and end in "
    "response.completed, after partial_images partial images",
    "openai/openai-openapi ImageGenTool, ImageGenToolCall, ResponseImageGenCallPartialImageEvent",
    paid=True,
    examples=2,
    price=max(price({**CHEAPEST, "size": size}) for size in TOOL_SIZES),  # and the text model's tokens
)
def responses_image_tool(session: Session) -> None:
    @given(size=st.sampled_from(TOOL_SIZES), partials=st.none() | st.integers(0, 2))
    def check(size: str, partials: int | None) -> None:
        tool = {"type": "image_generation", "model": CHEAPEST["model"], "quality": "low", "size": size}
        body = {"model": "gpt-4.1-mini", "input": "a lighthouse", "tools": [tool | {"partial_images": partials or 0}]}
        response = session.http.post(
            "/v1/responses", headers=auth(session), json=body | {"stream": partials is not None}
        )
        expect_status(response, 200)
        if partials is None:
            output = response.json().get("output", [])
        else:
            events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
            numbers = [event.get("sequence_number") for event in events]
            WrongBody.unless(numbers == list(range(len(events))), f"sequence numbers {numbers}")
            kinds = [event.get("type") for event in events]
            shown = kinds.count("response.image_generation_call.partial_image")
            WrongBody.unless(shown == partials and kinds[-1:] == ["response.completed"], f"events {kinds}")
            output = events[-1].get("response", {}).get("output", [])
        calls = [item for item in output if item.get("type") == "image_generation_call"]
        WrongBody.unless(len(calls) == 1 and calls[0].get("status") == "completed", f"output {output}")
        picture = decode(base64.b64decode(calls[0].get("result") or ""), "the image_generation_call's result")
        WrongImage.unless(picture.size == sized(size), f"{picture.size} for {size}", expected=sized(size),
                          got=picture.size)  # fmt: skip

    session.run(check)

"""LLM Gateway's documented behaviour (seed 003, research/apis.md §3), as properties checked against a server.

Everything here comes from the seed and contracts/llmgateway.yaml, never from the mock's code.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import base64
import io
from fractions import Fraction
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import contracts

from .behaviours import Catalogue, NotApplicable
from .failures import WrongBody, WrongCharge, WrongHeader, WrongImage, WrongStatus, expect_status
from .pictures import decode
from .session import FAULT_HEADER, Session, describe

CATALOGUE = Catalogue("llmgateway")

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
CONTRACT = contracts.load("llmgateway")
MODELS: dict[str, dict[str, Any]] = contracts.models("llmgateway")  # aliases resolved
IMAGE_MODELS = [name for name, entry in MODELS.items() if "sizes" in entry]
TEXT_MODELS = [name for name, entry in MODELS.items() if entry.get("output") == "text"]
SIZES = contracts.image_sizes("llmgateway")
REFUSALS: dict[str, dict[str, Any]] = CONTRACT["x-refusals"]
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
# The seed's sizes and the ratios the service derives from them (research/apis.md §3.3).
SIZE_RATIOS = {"1024x1024": "1:1", "1792x1024": "7:4", "1024x1792": "4:7", "1536x1024": "3:2", "1024x1536": "2:3"}
SEED_RATIOS = ["1:1", "16:9", "9:16", "4:3", "3:2", "7:4"]

prompts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
cheap_models = st.sampled_from([name for name in IMAGE_MODELS if name != "auto"])


def auth(session: Session, place: str = "bearer") -> dict[str, str]:
    key = session.target.api_key
    return {"Authorization": f"Bearer {key}"} if place == "bearer" else {"x-api-key": key}


def answered(response: httpx.Response) -> dict[str, Any]:
    expect_status(response, 200)
    return response.json()


def pictures(body: dict[str, Any]) -> list[Image.Image]:
    return [decode(base64.b64decode(item["b64_json"]), "a b64_json image") for item in body.get("data", [])]


def expected_pixels(model: str, ratio: str, size: str | None = None) -> tuple[int, int]:
    """The documented size: the table's ratio nearest the one asked for, at the image size asked for (1K else)."""
    table = SIZES[MODELS[model]["sizes"]]
    by_ratio = table[size] if size in table else next(iter(table.values()))
    wanted = as_fraction(ratio)
    nearest = min(by_ratio, key=lambda name: abs(as_fraction(name) - wanted))
    width, height = by_ratio[nearest]
    return width, height


def as_fraction(ratio: str) -> Fraction:
    width, height = ratio.split(":")
    return Fraction(int(width), int(height))


def png(width: int, height: int, varied: bool = False) -> bytes:
    """A PNG of one colour, or (varied) one whose every row and column differs, for comparing pixels."""
    image = Image.new("RGB", (width, height), (40, 90, 200))
    if varied:
        across = Image.linear_gradient("L").rotate(90).resize((width, height))
        down = Image.linear_gradient("L").resize((width, height))
        image = Image.merge("RGB", (across, down, Image.new("L", (width, height), 128)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def data_url(content: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(content).decode()


def assert_error(response: httpx.Response, status: int, **expected: Any) -> dict[str, Any]:
    """The documented status in OpenAI's envelope, with every one of its four fields."""
    expect_status(response, status)
    error = response.json().get("error")
    WrongBody.unless(isinstance(error, dict) and {"message", "type", "param", "code"} <= set(error), describe(response))
    for name, value in expected.items():
        WrongBody.unless(
            error[name] == value,
            f"error.{name} is {error[name]!r}, not {value!r}: {describe(response)}",
            expected=value,
            got=error[name],
        )
    return error


def assert_refusal(response: httpx.Response, kind: str) -> None:
    refusal = REFUSALS[kind]
    assert_error(response, refusal["status"], type=refusal["type"], code=refusal["code"])


@CATALOGUE.behaviour(
    "exactly-n-images",
    "A generation answers exactly n distinct base64 images, each with revised_prompt echoing the prompt",
    "seed 003, Generate Multiple Images; research/apis.md §3.3 (images truncated to n, revised_prompt)",
    paid=True,
    examples=4,
)
def exactly_n_images(session: Session) -> None:
    @given(model=cheap_models, count=st.integers(1, 4), prompt=prompts)
    def check(model: str, count: int, prompt: str) -> None:
        request = {"prompt": prompt, "model": model, "n": count}
        body = answered(session.http.post(GENERATIONS, headers=auth(session), json=request))
        found = pictures(body)
        WrongImage.unless(
            len(found) == count, f"asked for {count} images, got {len(found)}", expected=count, got=len(found)
        )
        WrongImage.unless(len({item["b64_json"] for item in body["data"]}) == count, "some images are the same")
        WrongBody.unless(
            [item.get("revised_prompt") for item in body["data"]] == [prompt] * count, str(body["data"][0].keys())
        )
        WrongBody.unless(isinstance(body.get("created"), int), "no created timestamp")

    session.run(check)


@CATALOGUE.behaviour(
    "size-and-aspect-ratio",
    "aspect_ratio sets the shape and wins over size; size maps to a ratio as documented (1792x1024 is 7:4); "
    "each image has the pixel size of the model's table",
    "seed 003, aspect_ratio: takes precedence over size; research/apis.md §3.3 size -> aspect ratio",
    paid=True,
)
def size_and_aspect_ratio(session: Session) -> None:
    @given(
        model=cheap_models,
        size=st.none() | st.sampled_from(sorted(SIZE_RATIOS)),
        ratio=st.none() | st.sampled_from(SEED_RATIOS),
    )
    def check(model: str, size: str | None, ratio: str | None) -> None:
        request = {"prompt": "a lighthouse", "model": model}
        request |= ({"size": size} if size else {}) | ({"aspect_ratio": ratio} if ratio else {})
        (picture,) = pictures(answered(session.http.post(GENERATIONS, headers=auth(session), json=request)))
        shape = ratio or (SIZE_RATIOS[size] if size else "1:1")
        expected = expected_pixels(model, shape)
        WrongImage.unless(
            picture.size == expected,
            f"{request}: got {picture.size}, expected {expected} ({shape})",
            expected=expected,
            got=picture.size,
        )

    session.run(check)


@CATALOGUE.behaviour(
    "output-format-is-real",
    "An edit answers images really in output_format (png, jpeg, webp), and the answer names it",
    "seed 003, Image Edits: output_format",
    paid=True,
    examples=6,
)
def output_format_is_real(session: Session) -> None:
    @given(model=cheap_models, fmt=st.sampled_from(sorted(FORMATS)), compression=st.none() | st.integers(0, 100))
    def check(model: str, fmt: str, compression: int | None) -> None:
        request = edit_request(model, output_format=fmt)
        if compression is not None:
            request["output_compression"] = compression
        body = answered(session.http.post(EDITS, headers=auth(session), json=request))
        formats = [picture.format for picture in pictures(body)]
        WrongImage.unless(
            formats == [FORMATS[fmt]], f"output_format {fmt}: got {formats}", expected=[FORMATS[fmt]], got=formats
        )
        WrongBody.unless(
            body.get("output_format") == fmt,
            f"the answer says output_format {body.get('output_format')!r}",
            expected=fmt,
            got=body.get("output_format"),
        )

    session.run(check)


@CATALOGUE.behaviour(
    "transparent-background-has-alpha",
    "background transparent gives an image with a real alpha channel: some pixels fully see-through",
    "seed 003, Image Edits: background (transparent, opaque, auto)",
    paid=True,
    examples=4,
)
def transparent_background(session: Session) -> None:
    @given(model=cheap_models, fmt=st.sampled_from(["png", "webp"]))
    def check(model: str, fmt: str) -> None:
        request = edit_request(model, background="transparent", output_format=fmt)
        body = answered(session.http.post(EDITS, headers=auth(session), json=request))
        (picture,) = pictures(body)
        alpha = picture.convert("RGBA").getchannel("A")
        WrongImage.unless("A" in picture.getbands(), f"a {fmt} of mode {picture.mode}, which has no alpha channel")
        WrongImage.unless(alpha.getextrema()[0] == 0, "no pixel is transparent")
        WrongBody.unless(body.get("background") == "transparent", "the answer does not say background: transparent")

    session.run(check)


def edit_request(model: str, **fields: Any) -> dict[str, Any]:
    return {"images": [{"image_url": data_url(png(64, 64))}], "prompt": "add a hat", "model": model, **fields}


@CATALOGUE.behaviour(
    "mask-preserves-the-rest",
    "A multipart edit with a mask changes only the mask's transparent pixels; elsewhere they equal the input's",
    "seed 003, Multipart Form Data: mask - mask image to specify areas to edit",
    paid=True,
    examples=3,
)
def mask_preserves_the_rest(session: Session) -> None:
    @given(model=cheap_models, split=st.integers(20, 80))
    def check(model: str, split: int) -> None:
        width, height = expected_pixels(model, "1:1")  # the input already has the output's size: nothing resized
        source = png(width, height, varied=True)
        edge = height * split // 100
        mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
        mask.paste((0, 0, 0, 0), (0, 0, width, edge))  # the top may change
        masked = io.BytesIO()
        mask.save(masked, "PNG")
        files = [("image", ("in.png", source, "image/png")), ("mask", ("mask.png", masked.getvalue(), "image/png"))]
        response = session.http.post(
            EDITS, headers=auth(session), files=files, data={"prompt": "a sky", "model": model}
        )
        (picture,) = pictures(answered(response))
        WrongImage.unless(
            picture.size == (width, height),
            f"the edit is {picture.size}, the input {width}x{height}",
            expected=(width, height),
            got=picture.size,
        )
        original = Image.open(io.BytesIO(source)).convert("RGB")
        kept = (0, edge, width, height)
        WrongImage.unless(
            picture.convert("RGB").crop(kept).tobytes() == original.crop(kept).tobytes(),
            "pixels outside the mask's transparent region changed",
        )
        changed = (0, 0, width, edge)
        WrongImage.unless(
            picture.convert("RGB").crop(changed).tobytes() != original.crop(changed).tobytes(),
            "nothing changed inside the mask's transparent region",
        )

    session.run(check)


@CATALOGUE.behaviour(
    "multipart-image-fields",
    "A multipart edit takes its image from image, image[] or file, and n as a string",
    "seed 003, Multipart Form Data: image, image[] (used by some clients), file",
    paid=True,
    examples=2,
    calls=3,
)
def multipart_image_fields(session: Session) -> None:
    @given(model=cheap_models, count=st.integers(2, 3))  # more than one, so that n is seen to be read
    def check(model: str, count: int) -> None:
        for field in ("image", "image[]", "file"):
            files = [(field, ("in.png", png(96, 64), "image/png"))]
            data = {"prompt": "add a hat", "model": model, "n": str(count)}
            found = pictures(answered(session.http.post(EDITS, headers=auth(session), files=files, data=data)))
            WrongImage.unless(
                len(found) == count, f"{field} with n={count}: {len(found)} images", expected=count, got=len(found)
            )
            WrongImage.unless(
                {picture.size for picture in found} == {expected_pixels(model, "3:2")}, "the edit lost its shape"
            )

    session.run(check)


@CATALOGUE.behaviour(
    "response-format-url-rejected",
    "response_format other than b64_json is a 400 naming response_format",
    "seed 003: response_format, only b64_json is supported",
)
def response_format_url_rejected(session: Session) -> None:
    @given(response_format=st.sampled_from(["url", "URL", "b64", ""]) | st.integers())
    def check(response_format: object) -> None:
        request = {"prompt": "a fox", "response_format": response_format}
        response = session.http.post(GENERATIONS, headers=auth(session), json=request)
        error = assert_error(response, 400, type="invalid_request_error")
        WrongBody.unless("response_format" in error["message"], describe(response))

    session.run(check)


@CATALOGUE.behaviour(
    "validation-400",
    "A body that breaks the documented rules (prompt, n 1-10, the enums) is a 400 'Invalid request parameters: ...' "
    "naming each field",
    "research/apis.md §3.5: 400 Invalid request parameters: <path>: <message>",
)
def validation_400(session: Session) -> None:
    broken = st.sampled_from(
        [
            ("prompt", None), ("prompt", ""), ("prompt", 5), ("n", 0), ("n", 11), ("n", 2.5), ("n", "2"),
            ("quality", "ultra"), ("style", "dark"), ("size", 1024),
        ]
    )  # fmt: skip

    @given(breaks=st.lists(broken, min_size=1, max_size=3, unique_by=lambda item: item[0]))
    def check(breaks: list[tuple[str, Any]]) -> None:
        request: dict[str, Any] = {"prompt": "a fox"} | dict(breaks)
        if request["prompt"] is None:
            del request["prompt"]
        response = session.http.post(GENERATIONS, headers=auth(session), json=request)
        message = assert_error(response, 400, type="invalid_request_error")["message"]
        WrongBody.unless(message.startswith("Invalid request parameters: "), describe(response))
        for name, _ in breaks:
            WrongBody.unless(f"{name}: " in message, f"the message does not name {name}: {message}")

    session.run(check)


@CATALOGUE.behaviour(
    "invalid-json-400",
    "A body that is not JSON gets 400 'Invalid JSON in request body', never a 5xx",
    "research/apis.md §3.5: 400 Invalid JSON in request body",
)
def invalid_json(session: Session) -> None:
    @given(
        text=st.sampled_from(['{"prompt": "x"', "prompt=x", "{'prompt': 'x'}", ""]),
        path=st.sampled_from([GENERATIONS, EDITS]),
    )
    def check(text: str, path: str) -> None:
        headers = {**auth(session), "Content-Type": "application/json"}
        response = session.http.post(path, headers=headers, content=text.encode())
        WrongBody.unless(assert_error(response, 400)["message"] == "Invalid JSON in request body", describe(response))

    session.run(check)


@CATALOGUE.behaviour(
    "models-listed",
    "GET /v1/models lists every model the gateway documents, those that draw with image among their outputs",
    "LLM Gateway apps/gateway/src/models/models.ts; contract x-models",
    examples=1,
)
def models_listed(session: Session) -> None:
    listed = {entry.get("id"): entry for entry in answered(session.http.get("/v1/models")).get("data", [])}
    missing = sorted(set(MODELS) - set(listed))
    WrongBody.unless(not missing, f"GET /v1/models leaves out {missing}")
    for name in IMAGE_MODELS:
        outputs = listed[name].get("architecture", {}).get("output_modalities", [])
        WrongBody.unless("image" in outputs, f"{name} draws, but its output_modalities are {outputs}")


@CATALOGUE.behaviour(
    "text-model-rejected",
    "A model that makes no images is a 400 pointing to /v1/chat/completions",
    "seed 003, model: image generation models; research/apis.md §3.3: non-image models are rejected",
    examples=4,
)
def text_model_rejected(session: Session) -> None:
    @given(model=st.sampled_from(TEXT_MODELS), path=st.sampled_from([GENERATIONS, EDITS]))
    def check(model: str, path: str) -> None:
        request = {"prompt": "a fox", "model": model} | (
            {"images": edit_request(model)["images"]} if path == EDITS else {}
        )
        message = assert_error(session.http.post(path, headers=auth(session), json=request), 400)["message"]
        WrongBody.unless("/v1/chat/completions" in message, str(message))

    session.run(check)


@CATALOGUE.behaviour(
    "invalid-image-url-400",
    "An input image that is neither an https URL nor a base64 data URL is a 400 naming its index",
    "seed 003, Invalid Image URL; research/apis.md §3.5",
)
def invalid_image_url(session: Session) -> None:
    bad_urls = st.sampled_from(["http://example.com/a.png", "ftp://example.com/a.png", "example.com/a.png",
                                "data:text/plain;base64,aGk=", "data:image/png,raw"])  # fmt: skip

    @given(bad=bad_urls, index=st.integers(0, 2))
    def check(bad: str, index: int) -> None:
        images = [{"image_url": "https://example.com/ok.png"}] * index + [{"image_url": bad}]
        response = session.http.post(EDITS, headers=auth(session), json={"images": images, "prompt": "x"})
        message = assert_error(response, 400)["message"]
        WrongBody.unless(
            message == f"images[{index}].image_url must be an https URL or a base64 data URL", str(message)
        )

    session.run(check)


@CATALOGUE.behaviour(
    "auth-401",
    "A missing or malformed key is a 401 invalid_api_key",
    "seed 003, Authentication: Bearer token or x-api-key header; research/apis.md §3.2",
)
def auth_401(session: Session) -> None:
    @given(headers=st.sampled_from([{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Token abc"},
                                    {"x-api-key": ""}]))  # fmt: skip
    def check(headers: dict[str, str]) -> None:
        response = session.http.post(GENERATIONS, headers=headers, json={"prompt": "a fox"})
        assert_refusal(response, "missing-key")

    session.run(check)


@CATALOGUE.behaviour(
    "key-places",
    "The key works as Authorization: Bearer and as x-api-key",
    "seed 003, Authentication: Bearer token or x-api-key header",
    paid=True,
    examples=2,
)
def key_places(session: Session) -> None:
    @given(place=st.sampled_from(["bearer", "header"]), model=cheap_models)
    def check(place: str, model: str) -> None:
        response = session.http.post(GENERATIONS, headers=auth(session, place), json={"prompt": "x", "model": model})
        WrongStatus.unless(
            response.status_code == 200,
            f"the key as {place}: {describe(response)}",
            expected=200,
            got=response.status_code,
        )

    session.run(check)


@CATALOGUE.behaviour(
    "unknown-key-401",
    "An unknown key is a 401 invalid_api_key",
    "research/fidelity.md L5: Unauthorized: Invalid LLMGateway API token. ...",
)
def unknown_key(session: Session) -> None:
    if session.accepts_any_key:
        raise NotApplicable("this mock accepts any key; start it with --strict-keys to check refusals of unknown keys")

    @given(key=st.from_regex(r"llmgtwy_[A-Za-z0-9]{20,32}", fullmatch=True))
    def check(key: str) -> None:
        response = session.http.post(GENERATIONS, headers={"Authorization": f"Bearer {key}"}, json={"prompt": "x"})
        assert_refusal(response, "unknown-key")

    session.run(check)


@CATALOGUE.behaviour(
    "filtered-prompt-empty-list",
    "A prompt the content filter stops answers 200 with an empty data list, not an error, and costs nothing",
    "LLM Gateway docs, Gateway Content Filter: Images: HTTP 200 with an empty data array",
    needs_control=True,
    examples=4,
)
def filtered_prompt(session: Session) -> None:
    @given(model=cheap_models, path=st.sampled_from([GENERATIONS, EDITS]))
    def check(model: str, path: str) -> None:
        before = session.mock_balance()
        request = edit_request(model) if path == EDITS else {"prompt": "a fox", "model": model}
        body = answered(
            session.http.post(path, headers={**auth(session), FAULT_HEADER: "content-policy"}, json=request)
        )
        WrongImage.unless(body.get("data") == [], f"a filtered prompt answered {len(body.get('data', []))} images")
        WrongCharge.unless(session.mock_balance() == before, "a filtered prompt was charged")

    session.run(check)


@CATALOGUE.behaviour(
    "credits-charged-per-image",
    "A generation takes exactly n times the model's price; too few credits is a 402 billing_error taking nothing",
    "contracts/llmgateway.yaml x-models prices; research/apis.md §3.5: 402 billing_error",
    paid=True,
    needs_control=True,
    examples=5,
)
def credits_charged_per_image(session: Session) -> None:
    @given(model=cheap_models, count=st.integers(1, 3), short=st.integers(1, 5))
    def check(model: str, count: int, short: int) -> None:
        price = count * next(iter(MODELS[model]["price"].values()))
        request = {"prompt": "a fox", "model": model, "n": count}
        with session.credits_set_to(price + 3):
            answered(session.http.post(GENERATIONS, headers=auth(session), json=request))
            after = session.mock_balance()
            WrongCharge.unless(
                after == 3, f"{price + 3} credits -> {after} after {count} images", expected=3, got=after
            )
        with session.credits_set_to(max(0, price - short)):
            assert_refusal(session.http.post(GENERATIONS, headers=auth(session), json=request), "insufficient-credits")
            WrongCharge.unless(session.mock_balance() == max(0, price - short), "a refused request took credits")

    session.run(check)


@CATALOGUE.behaviour(
    "rate-limit-429",
    "Too many requests get 429 rate_limit_error with Retry-After and RateLimit-Remaining 0, and nothing is charged",
    "LLM Gateway docs, Rate Limits: 429 with Retry-After in seconds, zero remaining quota",
    needs_control=True,
    examples=3,
)
def rate_limited(session: Session) -> None:
    @given(model=cheap_models)
    def check(model: str) -> None:
        before = session.mock_balance()
        headers = {**auth(session), FAULT_HEADER: "rate-limit"}
        response = session.http.post(GENERATIONS, headers=headers, json={"prompt": "a fox", "model": model})
        assert_refusal(response, "rate-limit")
        WrongHeader.unless(
            response.headers.get("Retry-After", "").isdigit(), f"Retry-After: {response.headers.get('Retry-After')}"
        )
        WrongHeader.unless(
            response.headers.get("RateLimit-Remaining") == "0",
            str(response.headers),
            expected="0",
            got=response.headers.get("RateLimit-Remaining"),
        )
        WrongCharge.unless(session.mock_balance() == before, f"the balance moved from {before}")

    session.run(check)


@CATALOGUE.behaviour(
    "load-shedding-529",
    "An overloaded gateway sheds the request before reading it: 529 with Retry-After: 1, whatever the body",
    "research/fidelity.md L4 (lib/backpressure.ts: Gateway overloaded, please retry)",
    needs_control=True,
    examples=3,
)
def load_shedding(session: Session) -> None:
    @given(path=st.sampled_from([GENERATIONS, EDITS]), body=st.sampled_from([b"{", b'{"prompt": ""}', b"[]"]))
    def check(path: str, body: bytes) -> None:
        headers = {**auth(session), FAULT_HEADER: "overloaded", "Content-Type": "application/json"}
        response = session.http.post(path, headers=headers, content=body)
        assert_refusal(response, "overloaded")
        WrongHeader.unless(
            response.headers.get("Retry-After") == "1",
            f"Retry-After: {response.headers.get('Retry-After')}",
            expected="1",
            got=response.headers.get("Retry-After"),
        )

    session.run(check)


@CATALOGUE.behaviour(
    "upstream-failures-refunded",
    "No images (500), failed providers (502) and an upstream timeout (504) answer the gateway's errors and charge "
    "nothing",
    "seed 003, No Images Generated; research/fidelity.md L4 (500 and 502 api_error, 504 timeout_error)",
    needs_control=True,
    examples=6,
)
def upstream_failures_refunded(session: Session) -> None:
    @given(model=cheap_models, fault=st.sampled_from(["no-image", "server-error", "timeout"]))
    def check(model: str, fault: str) -> None:
        before = session.mock_balance()
        headers = {**auth(session), FAULT_HEADER: fault}
        response = session.http.post(GENERATIONS, headers=headers, json={"prompt": "a fox", "model": model})
        assert_refusal(response, fault)
        after = session.mock_balance()
        WrongCharge.unless(after == before, f"{fault}: {before} -> {after} credits", expected=before, got=after)

    session.run(check)

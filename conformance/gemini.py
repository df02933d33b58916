"""Gemini generateContent's documented behaviour (seeds 002 and 004, Google's API), as properties.

One list of behaviours serves the four profiles that speak the format; each profile's contract says
which apply and what to expect: its models and their pixel tables, where keys go, how it refuses,
whether unknown fields are refused and whether `imageGenerationConfig` is understood.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

import contracts

from .behaviours import Behaviour, Catalogue, Check, NotApplicable
from .failures import WrongBody, WrongCharge, WrongHeader, WrongImage, WrongStatus, WrongUsage, expect_status
from .pictures import assert_shaped_like, decode
from .session import FAULT_HEADER, Session, describe

MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

prompts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


@dataclass(frozen=True)
class Facts:
    """What a profile's contract says, in the shape the checks need."""

    models: dict[str, dict[str, Any]]  # every model id (aliases resolved to their model's entry)
    sizes: dict[str, dict[str, dict[str, list[int]]]]  # family -> image size -> ratio -> [width, height]
    ratios: list[str]
    image_sizes: list[str]
    key_places: list[contracts.KeyPlace]  # in the contract's order of preference
    refusals: dict[str, dict[str, Any]]
    strict: bool
    image_generation_config: bool
    always_sse: bool  # streamGenerateContent's answer is only ever text/event-stream
    model_route: bool  # GET /v1beta/models/{model} is served
    request_fields: dict[str, Any]  # GenerateContentRequest's fields, each with its schema
    files: bool  # the Files API is served
    credit_tokens: int  # on a mock, a generation costs a credit per started thousand of its totalTokenCount
    safety_ratings: bool  # each answer's candidate carries safetyRatings
    paged: bool  # GET /v1beta/models answers in pages (nextPageToken)

    @property
    def image_models(self) -> list[str]:
        """The models that draw through generateContent."""
        return [
            name
            for name, entry in self.models.items()
            if "sizes" in entry and "predict" not in entry.get("methods", ())
        ]

    @property
    def text_models(self) -> list[str]:
        return [name for name, entry in self.models.items() if "sizes" not in entry]

    @property
    def imagen_models(self) -> list[str]:
        """The models that draw through Imagen's predict."""
        return [name for name, entry in self.models.items() if "predict" in entry.get("methods", ())]

    def pixels(self, model: str, ratio: str, size: str | None) -> tuple[int, int]:
        """The documented output size: the size asked for, if the model makes it, else its smallest."""
        table = self.sizes[self.models[model]["sizes"]]
        made = size if size in table else next(iter(table))
        width, height = table[made][ratio]
        return width, height

    @property
    def every_image_size(self) -> list[tuple[str, str]]:
        """(a model of each pixel table, each image size of that table)."""
        families = {self.models[name]["sizes"]: name for name in reversed(self.image_models)}
        return [(model, size) for family, model in families.items() for size in self.sizes[family]]

    @property
    def widest_ratio(self) -> str:
        return max(self.ratios, key=lambda r: int(r.split(":")[0]) / int(r.split(":")[1]))

    def image_tokens(self, model: str, size: str | None) -> int:
        tokens = self.models[model]["imageTokens"]
        return tokens.get(size, next(iter(tokens.values())))


@cache
def facts(profile: str) -> Facts:
    contract = contracts.load(profile)
    schemas = contract["components"]["schemas"]
    config = schemas["GenerationConfig"]
    return Facts(
        models=contracts.models(profile),
        sizes=contract["x-image-sizes"],
        ratios=schemas["AspectRatio"]["enum"],
        image_sizes=schemas["ImageConfig"]["properties"]["imageSize"]["enum"],
        key_places=contracts.key_places(profile),
        refusals=refusals_of(contract),
        strict=config.get("additionalProperties") is False,
        image_generation_config="imageGenerationConfig" in config["properties"],
        always_sse=set(streamed_content(contract)) == {"text/event-stream"},
        model_route="/v1beta/models/{model}" in contract["paths"],
        request_fields=schemas["GenerateContentRequest"]["properties"],
        files="/upload/v1beta/files" in contract["paths"],
        credit_tokens=contract["x-credit-tokens"],
        safety_ratings=contract.get("x-safety-ratings", False),
        paged=schemas["ListModelsResponse"]["properties"]["nextPageToken"].get("type") == "string",
    )


def refusals_of(contract: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """How the service refuses (x-refusals), each refusal in Google's words reaching the client as the service
    hands Google's errors on (x-google-errors); invalid-argument is Google's 400 for a request it cannot take."""
    refusals = {**contract["x-refusals"], "invalid-argument": {"status": 400, "envelope": "google"}}
    relayed = contract.get("x-google-errors")
    if relayed is None:
        return refusals
    return {kind: {**refusal, **relayed, "relayed": True} if refusal["envelope"] == "google" else refusal
            for kind, refusal in refusals.items()}  # fmt: skip


def streamed_content(contract: dict[str, Any]) -> dict[str, Any]:
    return contract["paths"]["/v1beta/models/{model}:streamGenerateContent"]["post"]["responses"]["200"]["content"]


# Requests.


def keyed(
    session: Session, place: contracts.KeyPlace | None = None, key: str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and query that carry `key` (the target's by default), in `place` or the contract's first."""
    place = place or facts(session.target.profile).key_places[0]
    value = place.prefix + (key or session.target.api_key)
    return ({}, {place.name: value}) if place.kind == "query" else ({place.name: value}, {})


def call(session: Session, model: str, body: Any, method: str = "generateContent", **extra: Any) -> httpx.Response:
    headers, params = keyed(session)
    headers = {**headers, **extra.pop("headers", {})}
    return session.http.post(f"/v1beta/models/{model}:{method}", headers=headers, params={**params, **extra}, json=body)


def ask(prompt: str, **config: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": config}


def answered(response: httpx.Response) -> dict[str, Any]:
    expect_status(response, 200)
    return response.json()


def parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for candidate in body.get("candidates", []) for part in candidate.get("content", {}).get("parts", [])]


def pictures(body: dict[str, Any]) -> list[tuple[str, Image.Image]]:
    """(mimeType, decoded image) of every inlineData part."""
    found = []
    for part in parts(body):
        if "inlineData" in part:
            blob = part["inlineData"]
            found.append((blob["mimeType"], decode(base64.b64decode(blob["data"]), "an inlineData part")))
    return found


def assert_refused(response: httpx.Response, refusal: dict[str, Any]) -> None:
    """The documented status, in the documented envelope."""
    expect_status(response, refusal["status"])
    error = response.json().get("error")
    WrongBody.unless(isinstance(error, dict), describe(response))
    if refusal["envelope"] == "google":
        WrongBody.unless(
            error.get("code") == refusal["status"] and isinstance(error.get("status"), str), describe(response)
        )
    else:
        WrongBody.unless(
            isinstance(error.get("type"), str) and isinstance(error.get("message"), str), describe(response)
        )
        if "type" in refusal and not refusal.get("relayed"):
            WrongBody.unless(
                error["type"] == refusal["type"],
                f"type {error['type']!r}, not {refusal['type']!r}",
                expected=refusal["type"],
                got=error["type"],
            )
    if refusal.get("relayed"):  # Google's error, handed on in the gateway's envelope with Google's code
        WrongBody.unless(
            (error.get("type"), error.get("code")) == (refusal["type"], refusal["status"]), describe(response)
        )
        WrongBody.unless(
            not {"status", "details"} & set(error), f"Google's status and details handed on: {describe(response)}"
        )


# The behaviours, each with the profiles it applies to.

BEHAVIOURS: list[tuple[Behaviour, Callable[[Facts], bool]]] = []


def behaviour(
    name: str, summary: str, source: str, *, applies: Callable[[Facts], bool] = lambda facts: True, **options: Any
) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        BEHAVIOURS.append((Behaviour(name, summary, source, check, **options), applies))
        return check

    return register


def generations(f: Facts) -> st.SearchStrategy[tuple[str, str, str | None]]:
    """(model, aspect ratio, image size or None) of an image generation."""
    return st.tuples(
        st.sampled_from(f.image_models), st.sampled_from(f.ratios), st.none() | st.sampled_from(f.image_sizes)
    )


@behaviour(
    "pixel-size-matches-the-table",
    "Each image has the pixel size the documentation's table gives for its model, aspect ratio and image size",
    "research/apis.md §1.9; contract x-image-sizes",
    paid=True,
)
def pixel_size_matches_the_table(session: Session) -> None:
    f = facts(session.target.profile)

    def check(generation: tuple[str, str, str | None], prompt: str) -> None:
        model, ratio, size = generation
        config = {"aspectRatio": ratio} | ({"imageSize": size} if size else {})
        body = answered(call(session, model, ask(prompt, responseModalities=["IMAGE"], imageConfig=config)))
        found = pictures(body)
        WrongImage.unless(found, f"no image in the answer of {model}")
        expected = f.pixels(model, ratio, size)
        got = [image.size for _, image in found]
        WrongImage.unless(
            got == [expected] * len(found),
            f"{model} {ratio} {size}: got {got}, the table says {expected}",
            expected=[expected] * len(found),
            got=got,
        )

    session.run(given(generation=generations(f), prompt=prompts)(trying_every_image_size(session, f, check)))


def trying_every_image_size(session: Session, f: Facts, check: Callable[..., None]) -> Callable[..., None]:
    """Drawn at random, a run may never meet a table's rarer rows (4K, say): on a loopback server every image size
    of every pixel table is tried as well, at the widest ratio. A real service gets the drawn examples only."""
    if session.target.loopback:
        for model, size in f.every_image_size:
            check = example(generation=(model, f.widest_ratio, size), prompt="a lighthouse")(check)
    return check


@behaviour(
    "mime-type-matches-the-bytes",
    "Every inlineData part's mimeType names the format its bytes really are",
    "research/apis.md §1.2 Blob; seed 002 response",
    paid=True,
)
def mime_type_matches_the_bytes(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), prompt=prompts)
    def check(model: str, prompt: str) -> None:
        found = pictures(answered(call(session, model, ask(prompt))))
        WrongImage.unless(found, f"no image in the answer of {model}")
        for mime_type, image in found:
            WrongImage.unless(
                MIME_TYPES.get(image.format) == mime_type, f"mimeType {mime_type} for {image.format} bytes"
            )

    session.run(check)


@behaviour(
    "usage-adds-up",
    "totalTokenCount is promptTokenCount plus candidatesTokenCount (and thoughts); each image counts its tokens",
    "research/apis.md §1.4 UsageMetadata, §6 (1290 tokens per 2.5 Flash image, 1120/2000 for 3 Pro)",
    paid=True,
)
def usage_adds_up(session: Session) -> None:
    f = facts(session.target.profile)

    def check(generation: tuple[str, str, str | None], prompt: str) -> None:
        model, ratio, size = generation
        config = {"aspectRatio": ratio} | ({"imageSize": size} if size else {})
        body = answered(call(session, model, ask(prompt, imageConfig=config)))
        usage = body.get("usageMetadata", {})
        total = (
            usage.get("promptTokenCount", 0) + usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
        )
        WrongUsage.unless(
            usage.get("totalTokenCount") == total,
            f"usage does not add up: {usage}",
            expected=total,
            got=usage.get("totalTokenCount"),
        )
        images = len(pictures(body))
        counted = sum(d["tokenCount"] for d in usage.get("candidatesTokensDetails", []) if d.get("modality") == "IMAGE")
        WrongUsage.unless(
            counted == images * f.image_tokens(model, size),
            f"{images} image(s) of {model} {size}: {usage}",
            expected=images * f.image_tokens(model, size),
            got=counted,
        )
        if "thoughtsTokens" in f.models[model]:  # a thinking model: how many varies, that there are does not
            WrongUsage.unless(
                usage.get("thoughtsTokenCount", 0) > 0, f"{model} thinks, yet no thoughtsTokenCount: {usage}"
            )

    session.run(given(generation=generations(f), prompt=prompts)(trying_every_image_size(session, f, check)))


@behaviour(
    "charged-by-usage",
    "On a mock, each generation takes exactly a credit per started thousand of its totalTokenCount, once",
    "contract x-credit-tokens; README, Gemini: credits fall by one per started thousand tokens",
    paid=True,
    needs_control=True,
    examples=6,
)
def charged_by_usage(session: Session) -> None:
    f = facts(session.target.profile)

    @given(generation=generations(f), prompt=prompts, text_only=st.booleans())
    def check(generation: tuple[str, str, str | None], prompt: str, text_only: bool) -> None:
        model, ratio, size = generation
        config = {"aspectRatio": ratio} | ({"imageSize": size} if size else {})
        modalities = ["TEXT"] if text_only else ["TEXT", "IMAGE"]
        before = session.mock_balance()
        usage = answered(call(session, model, ask(prompt, responseModalities=modalities, imageConfig=config)))
        total = usage.get("usageMetadata", {}).get("totalTokenCount", 0)
        expected = -(-total // f.credit_tokens)
        taken = before - session.mock_balance()
        WrongCharge.unless(
            taken == expected,
            f"{total} tokens cost {expected} credit(s); {taken} were taken",
            expected=expected,
            got=taken,
        )

    session.run(check)


@behaviour(
    "safety-ratings-as-shown",
    "Each answer's candidate carries safetyRatings, each with a category and a probability",
    "seed 002's example response; contract x-safety-ratings",
    paid=True,
    applies=lambda f: f.safety_ratings,
    examples=3,
)
def safety_ratings_as_shown(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), prompt=prompts)
    def check(model: str, prompt: str) -> None:
        [candidate] = answered(call(session, model, ask(prompt))).get("candidates", [{}])
        ratings = candidate.get("safetyRatings")
        WrongBody.unless(isinstance(ratings, list) and ratings, f"no safetyRatings: {candidate.keys()}")
        WrongBody.unless(all({"category", "probability"} <= set(r) for r in ratings), str(ratings))

    session.run(check)


@behaviour(
    "count-tokens-as-generated",
    "countTokens gives a prompt the totalTokens that generateContent then counts as its promptTokenCount",
    "research/apis.md §1.4 UsageMetadata; python-genai models.count_tokens",
    paid=True,
)
def count_tokens_as_generated(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), prompt=prompts)
    def check(model: str, prompt: str) -> None:
        counted = answered(call(session, model, {"contents": ask(prompt)["contents"]}, method="countTokens"))
        usage = answered(call(session, model, ask(prompt, responseModalities=["TEXT"]))).get("usageMetadata", {})
        WrongUsage.unless(
            counted.get("totalTokens") == usage.get("promptTokenCount"), f"counted {counted}, then used {usage}"
        )

    session.run(check)


@behaviour(
    "no-image-without-IMAGE",
    "Without IMAGE in responseModalities there is no image part; with only IMAGE there is one",
    "seed 002, responseModalities: include IMAGE to enable image generation; seed 004",
    paid=True,
    calls=2,
)
def no_image_without_image(session: Session) -> None:
    f = facts(session.target.profile)

    cases = st.sampled_from([str.upper, str.lower, str.capitalize])  # the enum is read in any case

    @given(model=st.sampled_from(f.image_models), text_case=cases, image_case=cases, prompt=prompts)
    def check(model: str, text_case: Callable[[str], str], image_case: Callable[[str], str], prompt: str) -> None:
        text, image = text_case("TEXT"), image_case("IMAGE")
        text_only = answered(call(session, model, ask(prompt, responseModalities=[text])))
        WrongImage.unless(not pictures(text_only), f"an image came back for responseModalities [{text}]")
        image_only = answered(call(session, model, ask(prompt, responseModalities=[image])))
        WrongImage.unless(pictures(image_only), f"no image came back for responseModalities [{image}]")

    session.run(check)


@behaviour(
    "number-of-images-honoured",
    "imageGenerationConfig.numberOfImages n gives n images",
    "seed 004, Image Count Control",
    paid=True,
    applies=lambda f: f.image_generation_config,
    examples=4,
)
def number_of_images_honoured(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), count=st.integers(1, 4), ratio=st.sampled_from(f.ratios))
    def check(model: str, count: int, ratio: str) -> None:
        config = {"numberOfImages": count, "aspectRatio": ratio}
        body = answered(call(session, model, ask("a lighthouse", imageGenerationConfig=config)))
        WrongImage.unless(
            len(body.get("candidates", [])) == 1, f"{len(body.get('candidates', []))} candidates, not one"
        )
        found = pictures(body)
        WrongImage.unless(
            len(found) == count, f"asked for {count} images, got {len(found)}", expected=count, got=len(found)
        )
        WrongImage.unless(
            {image.size for _, image in found} == {f.pixels(model, ratio, None)},
            "the images are not all of the table's pixel size",
            expected={f.pixels(model, ratio, None)},
            got={image.size for _, image in found},
        )

    session.run(check)


@behaviour(
    "image-generation-config-refused",
    "imageGenerationConfig is an unknown field: 400 INVALID_ARGUMENT, Unknown name ... at 'generation_config'",
    "research/apis.md §1.8, §1.11",
    applies=lambda f: f.strict and not f.image_generation_config,
)
def image_generation_config_refused(session: Session) -> None:
    f = facts(session.target.profile)
    expected = (
        "Invalid JSON payload received. Unknown name \"imageGenerationConfig\" at 'generation_config': "
        "Cannot find field."
    )

    @given(model=st.sampled_from(f.image_models), count=st.integers(1, 4))
    def check(model: str, count: int) -> None:
        response = call(session, model, ask("a fox", imageGenerationConfig={"numberOfImages": count}))
        expect_status(response, 400)
        WrongBody.unless(
            response.json().get("error", {}).get("message") == expected,
            describe(response),
            expected=expected,
            got=response.json().get("error", {}).get("message"),
        )

    session.run(check)


def unknown_names(f: Facts) -> st.SearchStrategy[str]:
    """Names no field of the request has, in either spelling."""
    known = {spelling for name in f.request_fields for spelling in (name, snake(name))}
    return st.from_regex(r"[a-z][a-zA-Z]{2,12}", fullmatch=True).filter(lambda name: name not in known)


def snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


@behaviour(
    "unknown-fields-refused",
    "An unknown field gets 400 INVALID_ARGUMENT naming it, with a BadRequest field violation",
    'research/apis.md §1.8: Unknown name "...": Cannot find field.',
    applies=lambda f: f.strict,
)
def unknown_fields_refused(session: Session) -> None:
    f = facts(session.target.profile)

    @given(name=unknown_names(f), model=st.sampled_from(f.image_models))
    def check(name: str, model: str) -> None:
        response = call(session, model, {**ask("a fox"), name: 1})
        expect_status(response, 400)
        error = response.json().get("error", {})
        WrongBody.unless(f'Unknown name "{name}"' in error.get("message", ""), describe(response))
        violations = [v for d in error.get("details", []) for v in d.get("fieldViolations", [])]
        WrongBody.unless(violations, f"no BadRequest field violation: {describe(response)}")

    session.run(check)


@behaviour(
    "service-tier-accepted",
    "serviceTier at the request's root, where python-genai puts GenerateContentConfig.service_tier, is taken",
    "research/fidelity.md G6; python-genai models.py _GenerateContentConfig_to_mldev, types.py ServiceTier",
    paid=True,
    examples=3,
)
def service_tier_accepted(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), tier=st.sampled_from(f.request_fields["serviceTier"]["enum"]))
    def check(model: str, tier: str) -> None:
        answered(call(session, model, {**ask("a fox", responseModalities=["TEXT"]), "serviceTier": tier}))

    session.run(check)


@behaviour(
    "image-generation-config-dropped",
    "imageGenerationConfig is dropped with the other fields the gateway does not know: one image, whatever "
    "numberOfImages asks",
    "research/fidelity.md V2: new-api's dto/gemini.go has no such field, and it re-serialises the request",
    paid=True,
    applies=lambda f: not f.strict and not f.image_generation_config,
    examples=3,
)
def image_generation_config_dropped(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), count=st.integers(2, 4))
    def check(model: str, count: int) -> None:
        config = {"numberOfImages": count}
        found = pictures(answered(call(session, model, ask("a fox", imageGenerationConfig=config))))
        WrongImage.unless(
            len(found) == 1,
            f"asked for {count} images through a field the gateway drops, got {len(found)}",
            expected=1,
            got=len(found),
        )

    session.run(check)


@behaviour(
    "unknown-fields-ignored",
    "A gateway drops fields it does not know and answers the request",
    "research/apis.md §1.10: new-api parses the request into its own structure",
    paid=True,
    applies=lambda f: not f.strict,
    examples=3,
)
def unknown_fields_ignored(session: Session) -> None:
    f = facts(session.target.profile)

    @given(name=unknown_names(f), model=st.sampled_from(f.image_models))
    def check(name: str, model: str) -> None:
        answered(call(session, model, {**ask("a fox"), name: 1}))

    session.run(check)


def shaped(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 200)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


@behaviour(
    "edit-keeps-the-input-ratio",
    "An edit without an aspect ratio answers an image shaped like its input",
    "research/apis.md §1.3: the output matches the input image's size, or else is 1:1",
    paid=True,
    examples=4,
)
def edit_keeps_the_input_ratio(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), ratio=st.sampled_from(f.ratios))
    def check(model: str, ratio: str) -> None:
        width, height = (int(side) * 40 for side in ratio.split(":"))
        edit = {"contents": [{"role": "user", "parts": [
            {"text": "make it brighter"}, {"inlineData": {"mimeType": "image/png", "data": shaped(width, height)}}
        ]}]}  # fmt: skip
        found = pictures(answered(call(session, model, edit)))
        WrongImage.unless(found, "the edit answered no image")
        assert_shaped_like(found[0][1], ratio, f.ratios, f"the edit of a {width}x{height} image")

    session.run(check)


@behaviour(
    "streaming-sse",
    "streamGenerateContent?alt=sse sends whole responses as data: events, the last with finishReason and usage",
    "research/apis.md §1.6",
    paid=True,
    examples=4,
)
def streaming_sse(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), prompt=prompts)
    def check(model: str, prompt: str) -> None:
        response = call(
            session, model, ask(prompt, responseModalities=["TEXT", "IMAGE"]), "streamGenerateContent", alt="sse"
        )
        expect_status(response, 200)
        WrongHeader.unless(
            response.headers.get("content-type", "").startswith("text/event-stream"), str(response.headers)
        )
        lines = [line for line in response.text.splitlines() if line]
        WrongBody.unless(
            lines and all(line.startswith("data: ") for line in lines), f"not all lines are data: {lines[:3]}"
        )
        chunks = [event_json(line.removeprefix("data: ")) for line in lines]
        WrongBody.unless(
            chunks[-1]["candidates"][0].get("finishReason") == "STOP",
            str(chunks[-1]),
            expected="STOP",
            got=chunks[-1]["candidates"][0].get("finishReason"),
        )
        WrongUsage.unless("totalTokenCount" in chunks[-1].get("usageMetadata", {}), str(chunks[-1]))
        WrongBody.unless(len({chunk.get("responseId") for chunk in chunks}) == 1, "the chunks name different responses")
        WrongImage.unless(
            any("inlineData" in part for chunk in chunks for part in parts(chunk)), "no image was streamed"
        )

    session.run(check)


@behaviour(
    "streaming-is-sse-without-alt",
    "streamGenerateContent without alt=sse still answers Server-Sent Events, one data: event per line pair",
    "research/fidelity.md V4: new-api asks Google for alt=sse and re-emits its events",
    paid=True,
    applies=lambda f: f.always_sse,
    examples=2,
)
def streaming_is_sse_without_alt(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models))
    def check(model: str) -> None:
        response = call(session, model, ask("a lighthouse", responseModalities=["TEXT"]), "streamGenerateContent")
        expect_status(response, 200)
        WrongHeader.unless(
            response.headers.get("content-type", "").startswith("text/event-stream"), str(response.headers)
        )
        events = [event for event in response.text.split("\n\n") if event.strip()]
        WrongBody.unless(
            events and all(event.startswith("data: ") for event in events), f"not events: {response.text[:200]}"
        )
        WrongBody.unless(
            event_json(events[-1].removeprefix("data: "))["candidates"][0].get("finishReason") == "STOP",
            "the last event's finishReason is not STOP",
        )

    session.run(check)


@behaviour(
    "no-model-route",
    "GET /v1beta/models/{model}, a route the gateway does not have, is its 404 Invalid URL in its own envelope",
    "research/fidelity.md V6: new-api's router has no such route; Gin's NoRoute answers",
    applies=lambda f: not f.model_route,
    examples=2,
)
def no_model_route(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models))
    def check(model: str) -> None:
        headers, params = keyed(session)
        response = session.http.get(f"/v1beta/models/{model}", headers=headers, params=params)
        expect_status(response, 404)
        error = response.json().get("error", {})
        WrongBody.unless(
            error.get("message", "").startswith("Invalid URL (") and "status" not in error, describe(response)
        )

    session.run(check)


def event_json(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise WrongBody(f"an event that is not a JSON response: {data[:80]!r}") from None
    WrongBody.unless(isinstance(chunk, dict), f"an event that is not a JSON object: {data[:80]!r}")
    return chunk


@behaviour(
    "imagen-draws-as-asked",
    "Imagen's predict answers sampleCount predictions, each of the table's pixel size for its model, aspectRatio "
    "and sampleImageSize, its mimeType the format asked for and the one its bytes are",
    "ai.google.dev/gemini-api/docs/imagen; python-genai 1.x _GenerateImagesParameters_to_mldev; contract x-image-sizes",
    paid=True,
    applies=lambda f: bool(f.imagen_models),
    examples=4,
)
def imagen_draws_as_asked(session: Session) -> None:
    f = facts(session.target.profile)
    ratios = sorted({ratio for model in f.imagen_models for ratio in f.sizes[f.models[model]["sizes"]]["1K"]})

    @given(
        model=st.sampled_from(f.imagen_models),
        count=st.integers(1, 4),
        ratio=st.sampled_from(ratios),
        size=st.none() | st.sampled_from(["1K", "2K"]),
        mime_type=st.sampled_from(["image/png", "image/jpeg"]),
        prompt=prompts,
    )
    def check(model: str, count: int, ratio: str, size: str | None, mime_type: str, prompt: str) -> None:
        parameters = {"sampleCount": count, "aspectRatio": ratio, "outputOptions": {"mimeType": mime_type}}
        body = {
            "instances": [{"prompt": prompt}],
            "parameters": parameters | ({"sampleImageSize": size} if size else {}),
        }
        predictions = answered(call(session, model, body, method="predict")).get("predictions", [])
        WrongImage.unless(
            len(predictions) == count,
            f"asked {model} for {count} images, got {len(predictions)}",
            expected=count,
            got=len(predictions),
        )
        expected = f.pixels(model, ratio, size)
        for prediction in predictions:
            image = decode(base64.b64decode(prediction.get("bytesBase64Encoded", "")), f"a prediction of {model}")
            WrongImage.unless(
                prediction.get("mimeType") == mime_type,
                f"mimeType {prediction.get('mimeType')}, asked {mime_type}",
                expected=mime_type,
                got=prediction.get("mimeType"),
            )
            WrongImage.unless(MIME_TYPES.get(image.format) == mime_type, f"{image.format} bytes for {mime_type}")
            WrongImage.unless(
                image.size == expected,
                f"{model} {ratio} {size}: got {image.size}, the table says {expected}",
                expected=expected,
                got=image.size,
            )

    session.run(check)


@behaviour(
    "unknown-model-refused",
    "A model that does not exist gets Google's 404 NOT_FOUND, or a gateway's own refusal where its contract says",
    "research/apis.md §1.8; research/fidelity.md V3 (new-api's distributor: 503 model_not_found)",
)
def unknown_model_refused(session: Session) -> None:
    f = facts(session.target.profile)
    refused = f.refusals.get("unknown-model", {"status": 404, "envelope": "google"})

    @given(name=st.from_regex(r"gemini-[a-z0-9.-]{1,20}", fullmatch=True).filter(lambda n: n not in f.models))
    def check(name: str) -> None:
        response = call(session, name, ask("a fox"))
        assert_refused(response, refused)
        if refused["envelope"] == "google":
            WrongBody.unless(
                response.json()["error"]["status"] == "NOT_FOUND",
                describe(response),
                expected="NOT_FOUND",
                got=response.json()["error"]["status"],
            )
        else:
            WrongBody.unless(
                response.json()["error"].get("code") == refused["code"],
                describe(response),
                expected=refused["code"],
                got=response.json()["error"].get("code"),
            )

    session.run(check)


@behaviour(
    "invalid-image-size-400",
    "An imageSize other than 1K, 2K or 4K (lower case included) gets 400 INVALID_ARGUMENT",
    "research/apis.md §1.3: Lowercase parameters (e.g., 1k) will be rejected",
)
def invalid_image_size_400(session: Session) -> None:
    f = facts(session.target.profile)

    @given(
        model=st.sampled_from(f.image_models),
        size=st.sampled_from(["1k", "2k", "4k", "8K", "512px"]) | st.text(max_size=4),
    )
    def check(model: str, size: str) -> None:
        if size in f.image_sizes:
            return
        response = call(session, model, ask("a fox", imageConfig={"imageSize": size}))
        assert_refused(response, f.refusals["invalid-argument"])
        if f.refusals["invalid-argument"]["envelope"] == "google":
            WrongBody.unless(
                response.json()["error"].get("status") == "INVALID_ARGUMENT",
                describe(response),
                expected="INVALID_ARGUMENT",
                got=response.json()["error"].get("status"),
            )

    session.run(check)


@behaviour(
    "unlisted-ratio-refused",
    "An aspect ratio the model does not draw gets Google's 400, in Google's words, in the envelope the service "
    "hands Google's errors on in",
    "research/fidelity.md G4 (muyouzhi6/astrbot_plugin_gitee_aiimg#37), V1 (new-api's RelayErrorHandler)",
)
def unlisted_ratio_refused(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), sides=st.tuples(st.integers(1, 32), st.integers(1, 32)))
    def check(model: str, sides: tuple[int, int]) -> None:
        ratio = f"{sides[0]}:{sides[1]}"
        if ratio in f.ratios:
            return
        response = call(session, model, ask("a fox", imageConfig={"aspectRatio": ratio}))
        assert_refused(response, f.refusals["invalid-argument"])
        WrongBody.unless("aspect_ratio must be one of" in response.json()["error"]["message"], describe(response))

    session.run(check, examples=3)


@behaviour(
    "uploaded-file-is-an-input",
    "An image uploaded to the Files API (resumable, as the SDKs upload) is read where fileData names its uri, "
    "and is gone once deleted",
    "python-genai files.py Files.upload, _api_client.py upload_file; Google's Files API reference",
    applies=lambda f: f.files,
    examples=2,
)
def uploaded_file_is_an_input(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), side=st.integers(8, 64))
    def check(model: str, side: int) -> None:
        content = io.BytesIO()
        Image.new("RGB", (side, side), "teal").save(content, "PNG")
        file = uploaded(session, content.getvalue(), "image/png")
        part = {"fileData": {"fileUri": file["uri"], "mimeType": "image/png"}}
        counted = answered(call(session, model, {"contents": [{"parts": [part, {"text": "a hat"}]}]},
                                method="countTokens"))  # fmt: skip
        modalities = [d.get("modality") for d in counted.get("promptTokensDetails", [])]
        WrongUsage.unless("IMAGE" in modalities, f"the uploaded image was not read: {counted}")
        headers, params = keyed(session)
        deleted = session.http.delete(f"/v1beta/{file['name']}", headers=headers, params=params)
        expect_status(deleted, 200)
        gone = session.http.get(f"/v1beta/{file['name']}", headers=headers, params=params)
        WrongStatus.unless(
            gone.status_code in (403, 404),
            f"a deleted file still answers: {describe(gone)}",
            expected=[403, 404],
            got=gone.status_code,
        )

    session.run(check)


def uploaded(session: Session, content: bytes, mime_type: str) -> dict[str, Any]:
    """The File of a resumable upload: a start, then the bytes in one finalizing chunk."""
    headers, params = keyed(session)
    start = {
        "X-Goog-Upload-Protocol": "resumable",
        "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(len(content)),
        "X-Goog-Upload-Header-Content-Type": mime_type,
    }
    started = session.http.post("/upload/v1beta/files", headers={**headers, **start}, params=params,
                                json={"file": {"displayName": "kit"}})  # fmt: skip
    url = started.headers.get("x-goog-upload-url")
    WrongHeader.unless(started.status_code == 200 and url, f"no upload URL: {describe(started)}")
    finished = session.http.post(url, content=content, headers={"X-Goog-Upload-Command": "upload, finalize",
                                                                 "X-Goog-Upload-Offset": "0"})  # fmt: skip
    WrongHeader.unless(
        finished.headers.get("x-goog-upload-status") == "final",
        describe(finished),
        expected="final",
        got=finished.headers.get("x-goog-upload-status"),
    )
    return answered(finished)["file"]


@behaviour(
    "models-paged",
    "GET /v1beta/models in pages of pageSize, following nextPageToken, lists every model once, as one page does",
    "research/apis.md §1 ListModels (pageSize, pageToken, nextPageToken)",
    applies=lambda f: f.paged,
    examples=3,
)
def models_paged(session: Session) -> None:
    f = facts(session.target.profile)
    headers, params = keyed(session)

    def names(query: dict[str, Any]) -> tuple[list[str], str | None]:
        body = answered(session.http.get("/v1beta/models", headers=headers, params={**params, **query}))
        return [m.get("name") for m in body.get("models", [])], body.get("nextPageToken")

    @given(size=st.integers(1, 4))
    def check(size: int) -> None:
        everything, _ = names({"pageSize": 1000})
        paged, token = [], None
        for _ in range(len(f.models) + 2):
            page, token = names({"pageSize": size} | ({"pageToken": token} if token else {}))
            WrongBody.unless(len(page) <= size, f"a page of {len(page)} for pageSize {size}")
            paged += page
            if not token:
                break
        WrongBody.unless(paged == everything, f"pages of {size} list {paged}, one page {everything}")

    session.run(check)


@behaviour(
    "key-places",
    "The API key is accepted in every place the service documents",
    "research/apis.md §1.1, §1.10, §1.11; seeds 002 and 004",
)
def key_places(session: Session) -> None:
    f = facts(session.target.profile)

    @given(place=st.sampled_from(f.key_places))
    def check(place: contracts.KeyPlace) -> None:
        headers, params = keyed(session, place)
        response = session.http.get("/v1beta/models", headers=headers, params=params)
        WrongStatus.unless(
            response.status_code == 200,
            f"the key in the {place.kind} {place.name}: {describe(response)}",
            expected=200,
            got=response.status_code,
        )

    session.run(check, examples=len(f.key_places) * 2)


@behaviour(
    "missing-key-refused",
    "A request without a key is refused with the documented status, in the documented envelope",
    "research/apis.md §1.8 (Google: 403 PERMISSION_DENIED), §1.10, §1.11 (gateways: 401)",
)
def missing_key_refused(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models))
    def check(model: str) -> None:
        assert_refused(
            session.http.post(f"/v1beta/models/{model}:generateContent", json=ask("a fox")), f.refusals["missing-key"]
        )

    session.run(check)


@behaviour(
    "bearer-key-refused",
    "An API key sent as Authorization: Bearer gets 401 UNAUTHENTICATED: Google expects an OAuth token there",
    "research/apis.md §1.1; research/fidelity.md G5 (ErrorInfo names the RPC called)",
    applies=lambda f: "bearer-key" in f.refusals,
)
def bearer_key_refused(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models))
    def check(model: str) -> None:
        headers = {"Authorization": f"Bearer {session.target.api_key}"}
        response = session.http.post(f"/v1beta/models/{model}:generateContent", headers=headers, json=ask("a fox"))
        assert_refused(response, f.refusals["bearer-key"])
        error = response.json()["error"]
        WrongBody.unless(
            error.get("status") == "UNAUTHENTICATED",
            describe(response),
            expected="UNAUTHENTICATED",
            got=error.get("status"),
        )
        infos = [d for d in error.get("details", []) if d.get("@type", "").endswith("google.rpc.ErrorInfo")]
        WrongBody.unless([i.get("reason") for i in infos] == ["ACCESS_TOKEN_TYPE_UNSUPPORTED"], describe(response))
        method = infos[0].get("metadata", {}).get("method", "")
        WrongBody.unless(
            method.endswith(".GenerativeService.GenerateContent"), f"ErrorInfo names {method!r}, not the RPC"
        )

    session.run(check)


@behaviour(
    "unknown-key-refused",
    "An unknown API key is refused with the documented status (Google: 400 API_KEY_INVALID), in its envelope",
    "research/apis.md §1.8: API key not valid, reason API_KEY_INVALID",
)
def unknown_key_refused(session: Session) -> None:
    if session.accepts_any_key:
        raise NotApplicable("this mock accepts any key; start it with --strict-keys to check refusals of unknown keys")
    f = facts(session.target.profile)

    @given(key=st.from_regex(r"[A-Za-z0-9_-]{20,39}", fullmatch=True), model=st.sampled_from(f.image_models))
    def check(key: str, model: str) -> None:
        if key == session.target.api_key:
            return
        headers, params = keyed(session, key=key)
        response = session.http.post(
            f"/v1beta/models/{model}:generateContent", headers=headers, params=params, json=ask("x")
        )
        assert_refused(response, f.refusals["unknown-key"])

    session.run(check)


@behaviour(
    "content-failures-answer-without-an-image",
    "A refused image (IMAGE_SAFETY), a blocked prompt (promptFeedback.blockReason) and NO_IMAGE answer 200 "
    "without an image",
    "research/apis.md §1.4, §1.5 FinishReason and BlockedReason",
    paid=True,  # the prompt's tokens are billed even when nothing is drawn
    needs_control=True,
)
def content_failures(session: Session) -> None:
    f = facts(session.target.profile)

    @given(
        model=st.sampled_from(f.image_models), fault=st.sampled_from(["content-policy", "blocked-prompt", "no-image"])
    )
    def check(model: str, fault: str) -> None:
        body = answered(call(session, model, ask("a fox"), headers={FAULT_HEADER: fault}))
        WrongImage.unless(not pictures(body), f"an image came back despite {fault}")
        if fault == "blocked-prompt":
            WrongBody.unless(body.get("promptFeedback", {}).get("blockReason"), str(body))
            WrongBody.unless(not body.get("candidates"), str(body))
        else:
            expected = {"content-policy": "IMAGE_SAFETY", "no-image": "NO_IMAGE"}[fault]
            WrongBody.unless(
                body["candidates"][0].get("finishReason") == expected,
                str(body),
                expected=expected,
                got=body["candidates"][0].get("finishReason"),
            )

    session.run(check)


@behaviour(
    "rate-limit-refusal",
    "Too many requests are refused with the documented status and envelope (Google's with RetryInfo)",
    "research/apis.md §1.8: 429 RESOURCE_EXHAUSTED with QuotaFailure and RetryInfo; §1.11",
    needs_control=True,
)
def rate_limit_refusal(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models))
    def check(model: str) -> None:
        before = session.mock_balance()
        response = call(session, model, ask("a fox"), headers={FAULT_HEADER: "rate-limit"})
        assert_refused(response, f.refusals["rate-limit"])
        if f.refusals["rate-limit"]["envelope"] == "google":
            kinds = {d.get("@type", "") for d in response.json()["error"].get("details", [])}
            WrongBody.unless(
                any(k.endswith("google.rpc.RetryInfo") for k in kinds), f"no RetryInfo: {describe(response)}"
            )
        WrongCharge.unless(session.mock_balance() == before, "a rate-limited request changed the balance")

    session.run(check)


@behaviour(
    "quota-refusal",
    "An account without credits is refused with the documented status and envelope, and charged nothing",
    "research/apis.md §1.8 (RESOURCE_EXHAUSTED), §1.10, §1.11 (403 insufficient quota)",
    needs_control=True,
)
def quota_refusal(session: Session) -> None:
    f = facts(session.target.profile)

    @given(model=st.sampled_from(f.image_models), prompt=prompts)
    def check(model: str, prompt: str) -> None:
        with session.credits_set_to(0):
            assert_refused(call(session, model, ask(prompt)), f.refusals["quota"])
            WrongCharge.unless(session.mock_balance() == 0, "the balance of an account without credits is no longer 0")

    session.run(check)


@cache
def catalogue(profile: str) -> Catalogue:
    listed = Catalogue(profile)
    for item, applies in BEHAVIOURS:
        if applies(facts(profile)):
            listed.add(item)
    return listed

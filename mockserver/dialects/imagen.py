"""Imagen on the Gemini API: `POST /v1beta/models/{model}:predict` (ai.google.dev/gemini-api/docs/imagen).

As google-genai 1.x `models.generate_images` sends it (googleapis/python-genai `models.py`,
`_GenerateImagesParameters_to_mldev`: the prompt as `instances[0].prompt`, the config under `parameters`) and
reads the answer (`_GenerateImagesResponse_from_mldev`): `predictions`, each an image (`bytesBase64Encoded`,
`mimeType`) or, for one the safety filter kept back, its `raiFilteredReason`. litellm's `gemini/imagen-*` and the
Vercel AI SDK's `google.image()` send the same body.

Each image costs its model's `creditsPerImage`; an image kept back costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..images.spec import ImageSpec, variants
from ..pipeline.endpoint import Call, Reject
from ..wire.jsonio import JSONResponse
from .gemini_api import (
    authenticate,
    facts_of,
    forced_answers,
    invalid,
    json_object,
    model_of,
    refusal,
    too_many_tokens,
    unknown_fields_refused,
)
from .models import Model, estimated_tokens

PREDICT_FAULTS = (
    "content-policy", "blocked-prompt", "server-error", "overloaded", "rate-limit", "insufficient-credits", "timeout",
)  # fmt: skip
REQUEST_FIELDS = ("instances", "parameters")
MAX_IMAGES, DEFAULT_IMAGES = 4, 4  # sampleCount: 1 to 4, 4 unless asked (the Gemini API's Imagen page)
IMAGE_SIZES = ("1K", "2K")
PERSON_GENERATION = ("dont_allow", "allow_adult", "allow_all")
FORMATS = {"image/png": "png", "image/jpeg": "jpeg"}

# Imagen's words for a prompt its filter refuses (Vertex AI's Responsible AI page; its support code left out),
# and the mock's own for an image kept back.
BLOCKED_PROMPT = (
    "Image generation failed with the following error: The prompt could not be submitted. This prompt contains "
    "sensitive words that violate Google's Responsible AI practices. Try rephrasing the prompt. If you think this "
    "was an error, send feedback."
)
FILTERED_IMAGE = (
    "The generated image was filtered out by the safety filter. You will not be charged for blocked images. "
    "Try rephrasing the prompt."
)


@dataclass(frozen=True)
class Prediction:
    model: Model
    prompt: str
    count: int
    aspect_ratio: str
    image_size: str
    format: str
    quality: int | None
    rai_reason: bool  # includeRaiReason: an image kept back is named, not left out

    @property
    def price(self) -> int:
        return self.count * self.model.entry["creditsPerImage"]


async def predict(call: Call) -> Response:
    api_key = authenticate(call)
    model = model_of(call, "predict")
    prediction = prediction_request(call, model)
    await call.fail_if_forced(forced_answers(call, model.name))
    fault = call.take_fault("content-policy", "blocked-prompt")
    if fault == "blocked-prompt":
        raise invalid(BLOCKED_PROMPT)
    if fault == "content-policy":
        kept_back = [{"raiFilteredReason": FILTERED_IMAGE}] * prediction.count if prediction.rai_reason else []
        return JSONResponse({"predictions": kept_back} if kept_back else {})
    with call.charged(api_key, prediction.price, lambda refused: refusal(call, "quota", model.name)):
        images = await call.state.renderer.base64_all(variants(first_image(call, prediction), prediction.count))
    media_type = f"image/{prediction.format}"
    return JSONResponse({"predictions": [{"bytesBase64Encoded": data, "mimeType": media_type} for data in images]})


def first_image(call: Call, prediction: Prediction) -> ImageSpec:
    width, height = prediction.model.sizes[prediction.image_size][prediction.aspect_ratio]
    return ImageSpec(
        prediction.prompt, width, height, prediction.model.name, call.profile.name, call.state.settings.seed,
        format=prediction.format, quality=prediction.quality,
    )  # fmt: skip


def prediction_request(call: Call, model: Model) -> Prediction:
    body = json_object(call)
    unknown = [("", name) for name in body if name not in REQUEST_FIELDS]
    if unknown and facts_of(call.profile.contract).strict_fields:
        raise unknown_fields_refused(unknown)
    prompt = read_prompt(body.get("instances"))
    if estimated_tokens(prompt) > model.input_token_limit:
        raise Reject(too_many_tokens(model.input_token_limit))
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise invalid("Invalid value at 'parameters': it must be an object.", "parameters")
    image_size = one_of(parameters, "sampleImageSize", IMAGE_SIZES, "1K")
    made = model.image_size(image_size)
    output = parameters.get("outputOptions") or {}
    if not isinstance(output, dict):
        raise invalid("Invalid value at 'parameters.outputOptions': it must be an object.", "parameters.outputOptions")
    one_of(parameters, "personGeneration", PERSON_GENERATION, "allow_adult")
    return Prediction(
        model=model,
        prompt=prompt,
        count=whole(parameters, "sampleCount", 1, MAX_IMAGES, DEFAULT_IMAGES),
        aspect_ratio=one_of(parameters, "aspectRatio", tuple(model.sizes[made]), "1:1"),
        image_size=made,
        format=FORMATS[one_of(output, "mimeType", tuple(FORMATS), "image/png", "parameters.outputOptions.")],
        quality=whole(output, "compressionQuality", 0, 100, None, "parameters.outputOptions."),
        rai_reason=parameters.get("includeRaiReason") is True,
    )


def read_prompt(instances: Any) -> str:
    if not isinstance(instances, list) or not instances:
        raise invalid("instances must hold one instance, with its prompt.", "instances")
    if len(instances) > 1:
        raise invalid("Only one instance is supported: send one prompt per request.", "instances")
    instance = instances[0]
    prompt = instance.get("prompt") if isinstance(instance, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("instances[0].prompt must be a non-empty string.", "instances[0].prompt")
    return prompt


def one_of(fields: dict[str, Any], name: str, allowed: tuple[str, ...], default: str, path: str = "parameters.") -> str:
    value = fields.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise invalid(f"{path}{name} must be one of {', '.join(allowed)}; got {value}.", f"{path}{name}")
    return value


def whole(
    fields: dict[str, Any], name: str, low: int, high: int, default: int | None, path: str = "parameters."
) -> int | None:
    value = fields.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise invalid(f"{path}{name} must be a whole number from {low} to {high}; got {value}.", f"{path}{name}")
    return value

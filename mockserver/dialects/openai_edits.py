"""OpenAI's image edits and variations (openai/openai-openapi: CreateImageEditRequest, EditImageBodyJsonParam,
CreateImageVariationRequest; contracts/openai.yaml).

An edit is a multipart form as the SDK sends it (``image``, or ``image[]`` repeated up to 16 times, and ``mask``)
or JSON with ``images: [{"image_url"}]``; a variation is dall-e-2's, of one image. The first image is what the
answer is drawn from; where a mask is given only its fully transparent pixels change. The GPT image models take
PNG, WebP or JPEG inputs; dall-e-2 one square PNG under 4 MB, with an alpha channel unless a mask gives one.
"""

from __future__ import annotations

import io
from dataclasses import replace
from fractions import Fraction
from typing import Any

from PIL import Image
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..images.uploads import Upload, UploadError, read_upload
from ..pipeline.endpoint import Call
from .image_urls import referenced_bytes, supported_url
from .openai_generation import (
    GPT_IMAGE_FIELDS,
    Generation,
    Opening,
    Operation,
    Refusals,
    generation_of,
    invalid,
    json_body,
    one_of,
    opened,
    respond,
)

EDITS = "/v1/images/edits"
VARIATIONS = "/v1/images/variations"
MAX_INPUTS = 16
MAX_FORM_FILES = 64  # read past MAX_INPUTS, so that too many images get OpenAI's own 400
DALL_E_2_MAX_BYTES = 4 * 1024 * 1024
NUMBERS = ("n", "output_compression", "partial_images")  # form fields that are whole numbers

EDIT_FIELDS = frozenset({"prompt", "model", "n", "size", "quality", "user", "input_fidelity", "response_format",
                         *GPT_IMAGE_FIELDS})  # fmt: skip
EDIT = Operation(
    EDIT_FIELDS,
    serves=lambda model: model.entry.get("edits", True),
    default_model=lambda fields: "gpt-image-1.5",  # the spec's default for edits
    default_size="1024x1024",
)
VARIATION = Operation(
    frozenset({"model", "n", "size", "response_format", "user"}),
    serves=lambda model: model.name == "dall-e-2",
    default_model=lambda fields: "dall-e-2",
    prompted=False,
)


async def edit(call: Call) -> Response:
    return await edited(call, await opened(call))


async def edited(call: Call, opening: Opening, model: str | None = None, refusals: Refusals | None = None) -> Response:
    """An edit's answer, once the key is read: by `model` (a deployment's) if given, else the one the request
    names."""
    if "multipart/form-data" in call.request.headers.get("content-type", ""):
        form = await read_form(call)
        fields, inputs, mask = form_fields(form), await form_images(call, form, "image"), await form_mask(call, form)
    else:
        fields, inputs, mask = await json_edit(call, json_body(call))
    if not inputs:
        raise invalid(call, "Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if model is not None and isinstance(fields, dict):
        fields = {**fields, "model": model}
    generation = generation_of(call, fields, EDIT, inputs=tuple(inputs), mask=mask.content if mask else None)
    one_of(call, generation.fields, "input_fidelity", ["high", "low"])
    checked_inputs(call, generation, mask)
    return await respond(call, opening, sized_to_the_input(generation), refusals)


async def variation(call: Call) -> Response:
    opening = await opened(call)
    form = await read_form(call)
    inputs = await form_images(call, form, "image")
    if not inputs:
        raise invalid(call, "Missing required parameter: 'image'.", "image", "missing_required_parameter")
    generation = generation_of(call, form_fields(form), VARIATION, inputs=tuple(inputs))
    checked_inputs(call, generation, None)
    return await respond(call, opening, generation)


async def read_form(call: Call) -> FormData:
    try:
        return await call.form(max_files=MAX_FORM_FILES, max_fields=64)
    except HTTPException as problem:
        raise invalid(call, f"Could not parse multipart form: {problem.detail}", None, None) from None


def form_fields(form: FormData) -> dict[str, Any]:
    """The form's text fields, whole numbers read as numbers (a field that is not one is left for the check)."""
    fields: dict[str, Any] = {}
    for name, value in form.multi_items():
        if isinstance(value, str) and name not in ("image", "image[]", "mask"):
            if name in NUMBERS and value.strip().lstrip("-").isdigit():
                fields[name] = int(value)
            else:
                fields[name] = {"true": True, "false": False}.get(value, value) if name == "stream" else value
    return fields


async def form_images(call: Call, form: FormData, name: str) -> list[Upload]:
    files = [f for f in (*form.getlist(name), *form.getlist(f"{name}[]")) if isinstance(f, UploadFile)]
    if len(files) > MAX_INPUTS:
        message = (f"Invalid 'image': array too long. Expected an array with maximum length {MAX_INPUTS}, but got "
                   f"an array with length {len(files)} instead.")  # fmt: skip
        raise invalid(call, message, "image", "array_above_max_length")
    return [await upload_of(call, await file.read(), index) for index, file in enumerate(files)]


async def form_mask(call: Call, form: FormData) -> Upload | None:
    mask = form.get("mask")
    return await upload_of(call, await mask.read(), 0, "mask") if isinstance(mask, UploadFile) else None


async def upload_of(call: Call, content: bytes, index: int, param: str = "image") -> Upload:
    try:
        return await read_upload(content, call.state.settings)
    except UploadError:  # the words of OpenAI's answer to an image it cannot read
        message = f"Invalid image file or mode for image {index + 1}, please check your image file."
        raise invalid(call, message, param, "invalid_image_file") from None


async def json_edit(call: Call, body: Any) -> tuple[Any, list[Upload], Upload | None]:
    """A JSON edit's fields, and its images and mask by reference (`image_url`; `file_id` names a file of OpenAI's
    Files API, which the mock does not serve, so none is found)."""
    if not isinstance(body, dict):
        return body, [], None
    fields = {name: value for name, value in body.items() if name not in ("images", "mask")}
    references = body.get("images") or []
    if not isinstance(references, list) or len(references) > MAX_INPUTS:
        raise invalid(call, f"Invalid 'images': expected an array of at most {MAX_INPUTS} images.", "images")
    inputs = [await referenced(call, reference, f"images[{i}]", i) for i, reference in enumerate(references)]
    mask = await referenced(call, body["mask"], "mask") if body.get("mask") is not None else None
    return fields, inputs, mask


async def referenced(call: Call, reference: Any, param: str, index: int = 0) -> Upload:
    if isinstance(reference, dict) and isinstance(reference.get("file_id"), str):
        raise invalid(call, f"No such File object: {reference['file_id']}", f"{param}.file_id", None)
    url = reference.get("image_url") if isinstance(reference, dict) else None
    if not isinstance(url, str) or not supported_url(url):
        raise invalid(call, f"Invalid '{param}': expected an object with image_url (an https or base64 data URL) or "
                            "file_id.", param)  # fmt: skip
    try:
        content = await referenced_bytes(call, url)
    except ValueError:
        raise invalid(call, f"Invalid '{param}.image_url': its base64 data does not decode.", param) from None
    return await upload_of(call, content, index, param)


def checked_inputs(call: Call, generation: Generation, mask: Upload | None) -> None:
    """What the model takes of input images, and a mask the first one's size."""
    first = generation.inputs[0]
    if not generation.model.gpt_image:
        if len(generation.inputs) > 1:
            raise invalid(call, "dall-e-2 edits one image: give a single image.", "image")
        if first.media_type != "image/png" or len(first.content) >= DALL_E_2_MAX_BYTES:
            raise invalid(call, "Uploaded image must be a PNG and less than 4 MB.", "image")
        if first.width != first.height:
            raise invalid(call, "Uploaded image must be square.", "image")  # the mock's words
        if mask is None and generation.prompt and not has_alpha(first.content):
            raise invalid(call, "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.", "image")
    if mask is not None and (mask.width, mask.height) != (first.width, first.height):
        raise invalid(call, "Invalid mask image format - mask size does not match image size", "mask")  # the mock's


def has_alpha(content: bytes) -> bool:
    with Image.open(io.BytesIO(content)) as picture:
        return picture.mode in ("RGBA", "LA", "L") or "transparency" in picture.info


def sized_to_the_input(generation: Generation) -> Generation:
    """`auto` for a GPT image model: the size of its table nearest the first input's shape."""
    if generation.fields.get("size") != "auto" or not generation.model.gpt_image:
        return generation
    first = generation.inputs[0]
    shape = Fraction(first.width, first.height)
    sizes = [size for size in generation.model.sizes if size != "auto"]
    nearest = min(sizes, key=lambda size: abs(Fraction(*map(int, size.split("x"))) - shape))
    return replace(generation, size=nearest)

"""GeminiGen.AI (seed 000) end to end, over HTTP: the seed's request, the job lifecycle on the mock's
clock, the history endpoints, reference images and every documented error."""

from __future__ import annotations

import io
import random
import struct
import zlib
from datetime import datetime

import pytest
from PIL import Image

GENERATE = "/uapi/v1/generate_image"
KEY = "geminiai-test-key"
AUTH = {"x-api-key": KEY}
SEED_FORM = {
    "prompt": "A beautiful sunset over mountains with vibrant colors",
    "model": "imagen-4",
    "aspect_ratio": "16:9",
    "style": "Photorealistic",
    "service_mode": "unstable",
}
SEED_FIELDS = {
    "id", "uuid", "user_id", "model_name", "input_text", "negative_prompt", "generate_result", "input_file_path",
    "type", "used_credit", "status", "status_desc", "status_percentage", "error_code", "error_message", "rating",
    "rating_content", "custom_prompt", "created_at", "updated_at", "file_size", "expired_at", "inference_type",
    "name", "created_by", "thumbnail_small",
}  # fmt: skip
# Output sizes as Vertex AI's Imagen and Google's Gemini 2.5 Flash Image produce them.
IMAGEN_PIXELS = {"1:1": (1024, 1024), "16:9": (1408, 768), "9:16": (768, 1408), "4:3": (1280, 896), "3:4": (896, 1280)}
FLASH_PIXELS = {"1:1": (1024, 1024), "16:9": (1344, 768), "9:16": (768, 1344), "4:3": (1184, 864), "3:4": (864, 1184)}


def generate(client, form=None, headers=None, files=None):
    return client.post(GENERATE, headers={**AUTH, **(headers or {})}, data=form or SEED_FORM, files=files)


def history(client, uuid, key=KEY):
    return client.get(f"/uapi/v1/history/{uuid}", headers={"x-api-key": key})


def advance(client, seconds):
    client.post("/_mock/clock", json={"advance_seconds": seconds}).raise_for_status()


def credits(client, key=KEY):
    return client.get(f"/_mock/accounts/{key}").json()["credits"]


def finished(client, uuid):
    advance(client, 60)
    return history(client, uuid).json()


def image_bytes(fmt="PNG", colour=(30, 160, 90), size=(16, 12)):
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def test_the_seed_example_starts_a_job_with_every_documented_field(client):
    response = generate(client)

    assert response.status_code == 200
    job = response.json()
    assert set(job) == SEED_FIELDS
    assert (job["model_name"], job["input_text"], job["type"]) == ("imagen-4", SEED_FORM["prompt"], "image_generation")
    assert (job["status"], job["status_desc"], job["status_percentage"]) == (1, "processing", 1)
    assert job["used_credit"] == 10
    assert job["name"] == "Beautiful Sunset Mountains"
    assert job["inference_type"] == "text_to_image"
    assert job["generate_result"] == job["thumbnail_small"] == ""
    created, expires = (datetime.fromisoformat(job[k].replace("Z", "+00:00")) for k in ("created_at", "expired_at"))
    assert (expires - created).days == 30
    assert credits(client) == 990


def test_a_job_progresses_with_the_clock_and_completes(serve):
    client = serve(frozen_clock=True)  # exact percentages, however slow the machine
    uuid = generate(client).json()["uuid"]
    seen = []
    for _ in range(5):
        advance(client, 3)
        record = history(client, uuid).json()
        seen.append((record["status"], record["status_percentage"]))

    assert seen == [(1, 25), (1, 50), (1, 75), (2, 100), (2, 100)]
    assert record["status_desc"] == "completed"
    assert record["generated_image"][0]["image_url"] == record["generate_result"]


def test_stable_is_faster_and_costs_the_original_price(client):
    stable = generate(client, {**SEED_FORM, "service_mode": "stable"}).json()
    unstable = generate(client).json()
    advance(client, 6)

    assert stable["used_credit"] == 2 * unstable["used_credit"] == 20
    assert history(client, stable["uuid"]).json()["status"] == 2
    assert history(client, unstable["uuid"]).json()["status"] == 1


def test_synchronous_mode_answers_the_seeds_completed_record(serve):
    client = serve(sync_jobs=True)

    job = generate(client).json()

    assert (job["status"], job["status_desc"], job["status_percentage"]) == (2, "completed", 100)
    assert client.get(job["generate_result"]).status_code == 200


@pytest.mark.parametrize("ratio", IMAGEN_PIXELS)
@pytest.mark.parametrize(("model", "pixels"), [("imagen-4", IMAGEN_PIXELS), ("imagen-flash", FLASH_PIXELS)])
def test_a_completed_job_serves_a_jpeg_of_the_models_size_and_its_thumbnail(client, model, pixels, ratio):
    done = finished(client, generate(client, {"prompt": "a fox", "model": model, "aspect_ratio": ratio}).json()["uuid"])

    served = client.get(done["generate_result"])
    picture = Image.open(io.BytesIO(served.content))
    thumbnail = Image.open(io.BytesIO(client.get(done["thumbnail_small"]).content))
    assert (picture.format, picture.size) == ("JPEG", pixels[ratio])
    assert done["file_size"] == len(served.content)
    assert thumbnail.format == "JPEG" and max(thumbnail.size) == 256


def test_the_clock_moves_at_most_a_hundred_years_in_all(client):
    assert client.post("/_mock/clock", json={"advance_seconds": 99 * 365 * 86_400}).status_code == 200
    refused = client.post("/_mock/clock", json={"advance_seconds": 2 * 365 * 86_400})

    assert refused.status_code == 400
    assert generate(client).status_code == 200
    assert credits(client) == 990


def test_result_urls_expire_after_thirty_days(client):
    done = finished(client, generate(client).json()["uuid"])
    assert client.get(done["generate_result"]).status_code == 200

    advance(client, 30 * 86_400)

    assert client.get(done["generate_result"]).status_code == 404
    assert client.get(done["thumbnail_small"]).status_code == 404


@pytest.mark.parametrize(
    ("fault", "code"), [("content-policy", "GEMINI_RAI_MEDIA_FILTERED"), ("server-error", "SYSTEM_ERROR")]
)
def test_a_forced_failure_fails_the_job_and_refunds_it(client, fault, code):
    job = generate(client, headers={"X-Mock-Fault": fault}).json()
    assert job["status"] == 1
    assert credits(client) == 990

    done = finished(client, job["uuid"])

    assert (done["status"], done["status_desc"], done["status_percentage"]) == (3, "failed", 100)
    assert done["error_code"] == code and done["error_message"]
    assert done["used_credit"] == 0
    assert done["generate_result"] == "" and "generated_image" not in done
    assert credits(client) == 1000


def test_a_queued_failure_hits_the_next_generation_only(client):
    client.post("/_mock/faults", json={"profile": "geminigen", "fault": "content-policy"}).raise_for_status()

    first, second = generate(client).json(), generate(client).json()
    advance(client, 60)

    assert history(client, first["uuid"]).json()["status"] == 3
    assert history(client, second["uuid"]).json()["status"] == 2


def test_too_few_credits_is_a_402_and_starts_nothing(client):
    client.put(f"/_mock/accounts/{KEY}", json={"credits": 9})

    response = generate(client)

    assert response.status_code == 402
    assert response.json() == {
        "detail": {
            "error_code": "NOT_ENOUGH_CREDIT",
            "message": "You do not have enough credits to perform the current action",
        }
    }
    assert credits(client) == 9
    assert client.get("/uapi/v1/histories", headers=AUTH).json()["total"] == 0


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("rate-limit", 429, "GEMINI_RATE_LIMIT"), ("insufficient-credits", 402, "NOT_ENOUGH_CREDIT"),
     ("timeout", 504, "SYSTEM_ERROR")],
)  # fmt: skip
def test_faults_before_the_job_charge_nothing(client, fault, status, code):
    response = generate(client, headers={"X-Mock-Fault": fault})

    assert response.status_code == status
    assert response.json()["detail"]["error_code"] == code
    assert credits(client) == 1000
    if fault == "rate-limit":
        assert response.headers["Retry-After"] == "60"


@pytest.mark.parametrize("path", ["/uapi/v1/history/x", "/uapi/v1/histories"])
def test_the_history_endpoints_take_read_faults(client, path):
    limited = client.get(path, headers={**AUTH, "X-Mock-Fault": "rate-limit"})
    failing = client.get(path, headers={**AUTH, "X-Mock-Fault": "server-error"})

    assert (limited.status_code, limited.json()["detail"]["error_code"]) == (429, "GEMINI_RATE_LIMIT")
    assert (failing.status_code, failing.json()["detail"]["error_code"]) == (500, "SYSTEM_ERROR")


def test_a_missing_key_is_api_key_required(client):
    for response in (client.post(GENERATE, data=SEED_FORM), client.get("/uapi/v1/histories")):
        assert response.status_code == 401
        assert response.json() == {"detail": {"error_code": "API_KEY_REQUIRED", "message": "Api key is required"}}


def test_an_unknown_key_under_strict_keys_is_api_key_not_found(serve):
    client = serve(strict_keys=True, accounts={KEY: 100})

    unknown = client.post(GENERATE, headers={"x-api-key": "someone-else"}, data=SEED_FORM)

    assert unknown.status_code == 401
    assert unknown.json() == {"detail": {"error_code": "API_KEY_NOT_FOUND", "message": "Api key is not found"}}
    assert generate(client).status_code == 200


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"model": "imagen-4"}, "('body', 'prompt'), Field required"),
        ({"prompt": "", "model": "imagen-4"}, "('body', 'prompt'), Field required"),
        ({"prompt": "a fox"}, "('body', 'model'), Field required"),
        (
            {"prompt": "a fox", "model": "imagen-5"},
            "('body', 'model'), Input should be 'imagen-flash', 'imagen-4-fast', 'imagen-4' or 'imagen-4-ultra'",
        ),
        (
            {"prompt": "a fox", "model": "imagen-4", "aspect_ratio": "2:3"},
            "('body', 'aspect_ratio'), Input should be '1:1', '16:9', '9:16', '4:3' or '3:4'",
        ),
        ({"prompt": "a fox", "model": "imagen-4", "style": "Cubist"}, "('body', 'style'), Input should be 'None',"),
        (
            {"prompt": "a fox", "model": "imagen-4", "service_mode": "fast"},
            "('body', 'service_mode'), Input should be 'unstable' or 'stable'",
        ),
    ],
)
def test_invalid_forms_get_fastapi_style_422s(client, form, message):
    response = client.post(GENERATE, headers=AUTH, data=form)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["error_code"] == "VALIDATION_ERROR"
    assert detail["message"].startswith(f"Invalid input field: {message}")
    assert credits(client) == 1000


def test_every_style_of_the_seed_is_accepted(client):
    styles = ["None", "3D Render", "Acrylic", "Anime General", "Creative", "Dynamic", "Fashion", "Game Concept",
              "Graphic Design 3D", "Illustration", "Photorealistic", "Portrait", "Portrait Cinematic",
              "Portrait Fashion", "Ray Traced", "Stock Photo", "Watercolor"]  # fmt: skip

    statuses = {generate(client, {**SEED_FORM, "style": style}).status_code for style in styles}

    assert statuses == {200}


def test_a_json_body_reads_as_an_empty_form(client):
    response = client.post(GENERATE, headers=AUTH, json=SEED_FORM)

    assert response.status_code == 422
    assert "('body', 'prompt'), Field required" in response.json()["detail"]["message"]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb(width: int, height: int) -> bytes:
    """A small PNG that says it is width x height: decoding it would take gigabytes."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    pixels = png_chunk(b"IDAT", zlib.compress(bytes(width * 3 + 1) * 16))
    return b"\x89PNG\r\n\x1a\n" + header + pixels + png_chunk(b"IEND", b"")


def noise_png() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (64, 64), random.Random(0).randbytes(64 * 64 * 3)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some text", "The file is not an image"),
        (noise_png()[:6000], "The file is truncated or corrupt"),
        (decompression_bomb(8000, 8000), "The file is 8000x8000 pixels; the limit is 50000000 pixels"),
        (decompression_bomb(100_000, 100_000), "The file has more pixels than the limit of 50000000"),
        (image_bytes("BMP"), "The file is BMP, not one of PNG, JPEG, WEBP, GIF"),
    ],
    ids=["text", "truncated", "large", "bomb", "bmp"],
)
def test_a_reference_that_is_not_a_usable_image_is_a_422(client, content, message):
    response = generate(client, files={"files": ("reference.png", content, "image/png")})

    assert response.status_code == 422
    assert response.json()["detail"]["message"].startswith(f"Invalid input field: ('body', 'files', 0), {message}")
    assert credits(client) == 1000


def test_a_reference_over_the_byte_limit_is_refused_unread(serve):
    client = serve(upload_max_mib=0.001)

    response = generate(client, files={"files": ("big.png", noise_png(), "image/png")})

    assert response.status_code == 422
    assert "The file is larger than the limit of 1048 bytes" in response.json()["detail"]["message"]


def test_a_camera_jpeg_with_extra_pictures_is_a_jpeg(client):
    out = io.BytesIO()
    first, second = Image.new("RGB", (16, 12), (200, 10, 10)), Image.new("RGB", (16, 12), (10, 10, 200))
    first.save(out, "MPO", save_all=True, append_images=[second])

    response = generate(client, files={"files": ("camera.jpg", out.getvalue(), "image/jpeg")})

    assert response.status_code == 200


def test_too_many_references_is_a_400(client):
    files = [("files", (f"r{i}.png", image_bytes(), "image/png")) for i in range(17)]

    response = generate(client, files=files)

    assert response.status_code == 400
    assert "Too many files" in response.json()["detail"]["message"]


def test_references_arrive_tint_the_image_and_are_served_back(client):
    reference = image_bytes(colour=(250, 20, 20))
    job = generate(client, {**SEED_FORM, "model": "imagen-4"}, files={"files": ("red.png", reference, "image/png")})

    done = finished(client, job.json()["uuid"])

    assert done["inference_type"] == "image_to_image"
    assert client.get(done["input_file_path"]).content == reference
    assert done["reference_item"] == [{"media_type": "image", "image_url": done["input_file_path"]}]
    corner = Image.open(io.BytesIO(client.get(done["generate_result"]).content)).convert("RGB").getpixel((2, 2))
    assert corner[0] > 200 and corner[1] < 60 and corner[2] < 60


def test_histories_list_newest_first_in_pages(client):
    uuids = [generate(client, {**SEED_FORM, "prompt": f"fox {i}"}).json()["uuid"] for i in range(5)]

    pages = [
        client.get(
            "/uapi/v1/histories", headers=AUTH, params={"filter_by": "all", "items_per_page": 2, "page": p}
        ).json()
        for p in (1, 2, 3, 4)
    ]

    assert all(page["success"] is True and page["total"] == 5 for page in pages)
    assert [[item["uuid"] for item in page["result"]] for page in pages] == [
        uuids[4:2:-1],
        uuids[2:0:-1],
        uuids[:1],
        [],
    ]


def test_histories_are_per_key_and_video_lists_nothing(client):
    generate(client)
    other = client.get("/uapi/v1/histories", headers={"x-api-key": "another-key"}).json()
    videos = client.get("/uapi/v1/histories", headers=AUTH, params={"filter_by": "video"}).json()

    assert (other["total"], other["result"]) == (0, [])
    assert (videos["total"], videos["result"]) == (0, [])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter_by": "audio"}, "('query', 'filter_by'), Input should be 'all', 'image' or 'video'"),
        ({"page": "0"}, "('query', 'page'), Input should be greater than or equal to 1"),
        ({"items_per_page": "101"}, "('query', 'items_per_page'), Input should be less than or equal to 100"),
        ({"page": "two"}, "('query', 'page'), Input should be a valid integer"),
    ],
)
def test_invalid_history_queries_get_422s(client, params, message):
    response = client.get("/uapi/v1/histories", headers=AUTH, params=params)

    assert response.status_code == 422
    assert response.json()["detail"]["message"].startswith(f"Invalid input field: {message}")


def test_another_keys_job_is_not_found_and_the_plural_path_works(client):
    uuid = generate(client).json()["uuid"]

    assert history(client, uuid, key="another-key").json()["detail"]["error_code"] == "HISTORY_NOT_FOUND"
    assert history(client, uuid, key="another-key").status_code == 404
    assert client.get(f"/uapi/v1/histories/{uuid}", headers=AUTH).json()["uuid"] == uuid


def test_unknown_routes_answer_as_fastapi_does(client):
    assert client.get("/uapi/v1/nothing").json() == {"detail": "Not Found"}
    assert client.get("/geminigen/uapi/v1/nothing").status_code == 404
    wrong = client.get(GENERATE, headers=AUTH)
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})


def test_the_prefixed_paths_are_the_same_service(client):
    job = client.post("/geminigen" + GENERATE, headers=AUTH, data=SEED_FORM).json()

    assert client.get(f"/geminigen/uapi/v1/history/{job['uuid']}", headers=AUTH).json()["uuid"] == job["uuid"]
    assert history(client, job["uuid"]).status_code == 200
